package data

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// labeledDataset returns an in-memory dataset whose labels follow counts:
// counts[k] images of class k, interleaved; image i's pixel is i.
func labeledDataset(counts []int) Dataset {
	var labels []int16
	for left := slices.Clone(counts); ; {
		added := false
		for k := range left {
			if left[k] > 0 {
				labels = append(labels, int16(k))
				left[k]--
				added = true
			}
		}
		if !added {
			break
		}
	}
	pix := make([]uint8, len(labels))
	for i := range pix {
		pix[i] = uint8(i)
	}
	classes := make([]string, len(counts))
	for k := range classes {
		classes[k] = string(rune('a' + k))
	}
	return &memory{name: "toy", c: 1, h: 1, w: 1, pix: pix, labels: labels, classes: classes}
}

func classCounts(ds Dataset, idx []int, nClasses int) []int {
	c := make([]int, nClasses)
	for _, i := range idx {
		c[ds.Label(i)]++
	}
	return c
}

func TestClassBalancedIndices(t *testing.T) {
	counts := []int{100, 50, 20, 3}
	ds := labeledDataset(counts)
	cases := []struct {
		fraction float64
		want     []int
	}{
		{0.1, []int{10, 5, 2, 1}}, // at least one per class
		{0.5, []int{50, 25, 10, 2}},
		{1, counts},
	}
	for _, tc := range cases {
		idx, err := ClassBalancedIndices(ds, tc.fraction, 7)
		if err != nil {
			t.Fatal(err)
		}
		if got := classCounts(ds, idx, 4); !slices.Equal(got, tc.want) {
			t.Errorf("fraction %g: per-class counts %v, want %v", tc.fraction, got, tc.want)
		}
		if !slices.IsSorted(idx) || len(slices.Compact(slices.Clone(idx))) != len(idx) {
			t.Errorf("fraction %g: indices not sorted and distinct", tc.fraction)
		}
		again, _ := ClassBalancedIndices(ds, tc.fraction, 7)
		if !slices.Equal(idx, again) {
			t.Errorf("fraction %g: same seed gave different indices", tc.fraction)
		}
	}
	a, _ := ClassBalancedIndices(ds, 0.3, 1)
	b, _ := ClassBalancedIndices(ds, 0.3, 2)
	if slices.Equal(a, b) {
		t.Error("seeds 1 and 2 picked the same images")
	}
	for _, bad := range []float64{0, -0.5, 1.5, math.NaN()} {
		if _, err := ClassBalancedIndices(ds, bad, 1); err == nil {
			t.Errorf("fraction %g: no error", bad)
		}
	}
}

func TestPerClassIndices(t *testing.T) {
	ds := labeledDataset([]int{10, 8, 5})
	idx, err := PerClassIndices(ds, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := classCounts(ds, idx, 3); !slices.Equal(got, []int{5, 5, 5}) {
		t.Errorf("counts %v", got)
	}
	if _, err := PerClassIndices(ds, 6, 3); err == nil || !strings.Contains(err.Error(), "only 5 labeled images") {
		t.Errorf("err = %v", err)
	}
}

func TestLabelsFractionThenLabeled(t *testing.T) {
	ds := labeledDataset([]int{40, 40, 20})
	part, err := WithLabelsFraction(ds, 0.25, 9)
	if err != nil {
		t.Fatal(err)
	}
	if part.Len() != ds.Len() {
		t.Fatalf("len %d, want all %d images kept", part.Len(), ds.Len())
	}
	labeled, err := Labeled(part)
	if err != nil {
		t.Fatal(err)
	}
	if labeled.Len() != 25 {
		t.Fatalf("labeled %d, want 10+10+5", labeled.Len())
	}
	want, _ := ClassBalancedIndices(ds, 0.25, 9)
	for j := 0; j < labeled.Len(); j++ {
		img, _ := labeled.Image(j, Image{})
		i := int(math.Round(float64(img.Pix[0] * 255))) // pixel value = original index
		if i != want[j] || labeled.Label(j) != ds.Label(i) {
			t.Fatalf("labeled image %d is original %d (label %d), want %d", j, i, labeled.Label(j), want[j])
		}
	}
	hidden := 0
	for i := 0; i < part.Len(); i++ {
		if part.Label(i) == -1 {
			hidden++
		} else if part.Label(i) != ds.Label(i) {
			t.Fatalf("label %d changed", i)
		}
	}
	if hidden != 75 {
		t.Errorf("%d hidden labels, want 75", hidden)
	}
}

func TestRandomIndicesAndSubset(t *testing.T) {
	a, err := RandomIndices(1000, 100, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RandomIndices(1000, 100, 42)
	c, _ := RandomIndices(1000, 100, 43)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("RandomIndices not reproducible from the seed, or seed ignored")
	}
	if !slices.IsSorted(a) || len(slices.Compact(slices.Clone(a))) != 100 || a[0] < 0 || a[99] >= 1000 {
		t.Errorf("indices not sorted, distinct and in range: %v", a)
	}
	if a[99]-a[0] < 500 {
		t.Errorf("indices %v do not spread over the range", a)
	}
	if _, err := RandomIndices(10, 11, 1); err == nil {
		t.Error("11 of 10: no error")
	}
	ds := labeledDataset([]int{3, 3})
	sub, err := Subset(ds, []int{5, 0})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Len() != 2 || sub.Label(0) != ds.Label(5) || sub.Label(1) != ds.Label(0) {
		t.Errorf("subset labels wrong")
	}
	img, _ := sub.Image(0, Image{})
	if img.Pix[0] != 5.0/255 {
		t.Errorf("subset image 0 pixel %v, want image 5", img.Pix[0])
	}
	if _, err := Subset(ds, []int{6}); err == nil {
		t.Error("out-of-range subset index: no error")
	}
}

func TestConcat(t *testing.T) {
	a, b := labeledDataset([]int{1, 1}), labeledDataset([]int{2, 1})
	ds, err := Concat("ab", a, b)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 5 {
		t.Fatalf("len %d", ds.Len())
	}
	for i, want := range []int{0, 1, 0, 1, 0} {
		if ds.Label(i) != want {
			t.Errorf("label %d = %d, want %d", i, ds.Label(i), want)
		}
	}
	img, _ := ds.Image(3, Image{})
	if img.Pix[0] != 1.0/255 { // image 1 of b
		t.Errorf("image 3 pixel %v", img.Pix[0])
	}
	if _, err := Concat("x", a, labeledDataset([]int{1, 1, 1})); err == nil {
		t.Error("different classes: no error")
	}
}

func TestParseSpec(t *testing.T) {
	good := []struct {
		spec string
		want Spec
	}{
		{"mnist", Spec{"mnist", ""}},
		{"fashion-mnist:/x", Spec{"fashion-mnist", "/x"}},
		{"cifar10:/data/c10", Spec{"cifar10", "/data/c10"}},
		{"cifar100:rel/dir", Spec{"cifar100", "rel/dir"}},
		{"stl10:C:/x", Spec{"stl10", "C:/x"}},
		{"folder:./imgs", Spec{"folder", "./imgs"}},
	}
	for _, tc := range good {
		got, err := ParseSpec(tc.spec)
		if err != nil || got != tc.want || got.String() != tc.spec {
			t.Errorf("ParseSpec(%q) = %v, %v; want %v", tc.spec, got, err, tc.want)
		}
	}
	bad := []struct{ spec, why string }{
		{"", "empty"},
		{"cifar10", "cifar10 needs a folder"},
		{"cifar10:", "cifar10 needs a folder"},
		{"folder", "folder needs a folder"},
		{"imagenet:/x", "unknown dataset imagenet"},
		{"MNIST", "unknown dataset MNIST"},
		{"mnist:", "empty folder"},
	}
	for _, tc := range bad {
		_, err := ParseSpec(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), "valid: mnist, fashion-mnist, cifar10:DIR") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseSpec(%q) err = %v", tc.spec, err)
		}
		if _, err := Open(tc.spec, OpenOptions{}); err == nil {
			t.Errorf("Open(%q): no error", tc.spec)
		}
	}
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	writeCIFAR10(t, dir, 20) // 100 train images, label i%10
	ds, err := Open("cifar10:"+dir, OpenOptions{Subset: 50, Seed: 3, LabelsFraction: 0.2, Resize: 16})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 50 {
		t.Fatalf("len %d", ds.Len())
	}
	if c, h, w := ds.Shape(); c != 3 || h != 16 || w != 16 {
		t.Errorf("shape %d %d %d", c, h, w)
	}
	labeled, err := Labeled(ds)
	if err != nil {
		t.Fatal(err)
	}
	if labeled.Len() < 10 || labeled.Len() > 20 {
		t.Errorf("%d labeled of 50 at fraction 0.2", labeled.Len())
	}
	again, _ := Open("cifar10:"+dir, OpenOptions{Subset: 50, Seed: 3, LabelsFraction: 0.2, Resize: 16})
	for i := 0; i < 50; i++ {
		if ds.Label(i) != again.Label(i) || ImagePath(ds, i) != "" {
			t.Fatal("not reproducible")
		}
	}
	badOpts := []struct {
		opts OpenOptions
		want string
	}{
		{OpenOptions{Subset: 101}, "cannot pick 101 of 100 images"},
		{OpenOptions{Subset: -1}, "subset -1 must not be negative"},
		{OpenOptions{LabelsFraction: 1.5}, "labels fraction 1.5 must lie in (0, 1]"},
		{OpenOptions{Resize: -2}, "resize -2"},
		{OpenOptions{Split: "unlabeled"}, `unknown split "unlabeled"`},
	}
	for _, tc := range badOpts {
		if _, err := Open("cifar10:"+dir, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.opts, err, tc.want)
		}
	}
}
