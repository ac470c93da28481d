package augment

import (
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/data"
)

// everything is a view recipe with every step switched on, so that tests
// exercise all code paths.
func everything(size int) *Pipeline {
	return Options{
		Size:      size,
		Scale:     [2]float64{0.3, 1},
		Flip:      1,
		Jitter:    ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1, P: 1},
		Grayscale: 0.5,
		Blur:      GaussianBlur{P: 1, KernelSize: 5},
		Solarize:  1,
		Mean:      CIFAR10Mean,
		Std:       CIFAR10Std,
	}.Pipeline()
}

func TestPipelineDeterminism(t *testing.T) {
	src := randomImage(3, 40, 48, 1)
	orig := clone(src)
	p := SimCLR(32, 1)
	run := func(seed uint64) []float32 {
		return p.Apply(data.Image{}, src, newRand(seed)).Pix
	}
	a, b, c := run(5), run(5), run(6)
	assertClose(t, "same seed", a, b, 0)
	if maxDiff(a, c) == 0 {
		t.Fatal("different seeds gave identical views")
	}
	assertClose(t, "source untouched", src.Pix, orig.Pix, 0)
}

func TestPipelineMatchesStepByStep(t *testing.T) {
	src := randomImage(3, 40, 40, 2)
	p := everything(24)
	got := p.Apply(data.Image{}, src, newRand(3))
	assertShape(t, "view", got, 3, 24, 24)

	r := newRand(3)
	cur := src
	for _, s := range p.Steps() {
		cur = s.Apply(data.Image{}, cur, r)
	}
	assertClose(t, "pipeline vs steps one by one", got.Pix, cur.Pix, 0)
}

// TestOutOfPlaceStepInTheMiddle checks the pooled intermediate: an Eval
// pipeline runs Resize and then CenterCrop, which cannot work in place.
func TestOutOfPlaceStepInTheMiddle(t *testing.T) {
	src := randomImage(3, 30, 40, 3)
	p := EvalOptions{Size: 16, CropFraction: 0.8, Mean: ImageNetMean, Std: ImageNetStd}.Pipeline()
	got := p.Apply(data.Image{}, src, nil)
	assertShape(t, "eval view", got, 3, 16, 16)
	resized := Resize{Size: 20}.Apply(data.Image{}, src, nil)
	assertShape(t, "resized", resized, 3, 20, 26)
	want := Normalize{Mean: ImageNetMean, Std: ImageNetStd}.Apply(data.Image{}, CenterCrop{Size: 16}.Apply(data.Image{}, resized, nil), nil)
	assertClose(t, "eval pipeline", got.Pix, want.Pix, 0)
}

func TestInPlaceEqualsOutOfPlace(t *testing.T) {
	ts := []Transform{
		HorizontalFlip{P: 1},
		ColorJitter{Brightness: 0.5, Contrast: 0.5, Saturation: 0.5, Hue: 0.2, P: 1},
		RandomGrayscale{P: 1},
		Solarize{P: 1},
		Normalize{Mean: ImageNetMean, Std: ImageNetStd},
	}
	for _, tr := range ts {
		if !inPlace(tr) {
			t.Fatalf("%v should run in place", tr)
		}
		src := randomImage(3, 7, 9, 4)
		want := tr.Apply(data.Image{}, src, newRand(1))
		got := tr.Apply(src, src, newRand(1))
		assertClose(t, "in place: "+strings.Split(tr.(interface{ String() string }).String(), "(")[0], got.Pix, want.Pix, 0)
	}
	for _, tr := range []Transform{RandomResizedCrop{Size: 4}, CenterCrop{Size: 4}, Resize{Size: 4}, GaussianBlur{P: 1}} {
		if inPlace(tr) {
			t.Errorf("%v claims to run in place", tr)
		}
	}
}

func TestPipelineReusesBuffers(t *testing.T) {
	src := randomImage(3, 48, 40, 5)
	p := everything(32)
	r := newRand(1)
	var dst data.Image
	for range 5 { // warm up the scratch image and the pipeline's free list
		dst = p.Apply(dst, src, r)
	}
	first := &dst.Pix[0]
	allocs := testing.AllocsPerRun(50, func() {
		dst = p.Apply(dst, src, r)
	})
	if allocs != 0 {
		t.Errorf("pipeline Apply allocates %v times per image in steady state", allocs)
	}
	if &dst.Pix[0] != first {
		t.Error("pipeline result moved out of the caller's buffer")
	}

	eval := Eval(24)
	var e data.Image
	for range 3 {
		e = eval.Apply(e, src, r)
	}
	if allocs := testing.AllocsPerRun(20, func() { e = eval.Apply(e, src, r) }); allocs != 0 {
		t.Errorf("eval pipeline allocates %v times per image in steady state", allocs)
	}
}

func TestPipelineConcurrentUse(t *testing.T) {
	src := randomImage(3, 36, 36, 6)
	p := everything(20)
	want := make([][]float32, 8)
	for i := range want {
		want[i] = p.Apply(data.Image{}, src, newRand(uint64(i))).Pix
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			var dst data.Image
			for k := range 50 {
				i := (g + k) % len(want)
				dst = p.Apply(dst, src, newRand(uint64(i)))
				if maxDiff(dst.Pix, want[i]) != 0 {
					done <- errDiffer
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

var errDiffer = errorString("concurrent pipeline output differs from the serial one")

type errorString string

func (e errorString) Error() string { return string(e) }

func TestOutShapeErrors(t *testing.T) {
	cases := []struct {
		name    string
		tr      Transform
		c, h, w int
		want    string // substring of the error; "" for success
	}{
		{"crop ok", RandomResizedCrop{Size: 8}, 3, 0, 0, ""},
		{"crop size", RandomResizedCrop{}, 3, 32, 32, "size 0"},
		{"crop scale", RandomResizedCrop{Size: 8, Scale: [2]float64{0.5, 0.2}}, 3, 32, 32, "scale"},
		{"crop ratio", RandomResizedCrop{Size: 8, Ratio: [2]float64{-1, 1}}, 3, 32, 32, "ratio"},
		{"centre crop", CenterCrop{Size: -1}, 3, 32, 32, "not positive"},
		{"resize", Resize{}, 3, 32, 32, "not positive"},
		{"jitter hue", ColorJitter{Hue: 0.7}, 3, 32, 32, "hue"},
		{"jitter negative", ColorJitter{Contrast: -1}, 3, 32, 32, "contrast"},
		{"jitter p", ColorJitter{P: 1.5}, 3, 32, 32, "probability"},
		{"gray p", RandomGrayscale{P: -0.1}, 3, 32, 32, "probability"},
		{"blur even kernel", GaussianBlur{KernelSize: 4}, 3, 32, 32, "odd"},
		{"blur sigma", GaussianBlur{Sigma: [2]float64{2, 1}}, 3, 32, 32, "sigma"},
		{"solarize threshold", Solarize{Threshold: 2}, 3, 32, 32, "threshold"},
		{"normalise channels", Normalize{Mean: ImageNetMean, Std: ImageNetStd}, 1, 28, 28, "3 means for a 1-channel"},
		{"normalise std", Normalize{Mean: []float32{0}, Std: []float32{0}}, 1, 28, 28, "std"},
		{"normalise lengths", Normalize{Mean: []float32{0, 0}, Std: []float32{1}}, 2, 28, 28, "2 means and 1 stds"},
		{"pipeline names the step", MoCoV2(24), 1, 28, 28, "step 6 (Normalize"},
		{"pipeline ok", MoCoV2(24), 3, 28, 28, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := tc.tr.OutShape(tc.c, tc.h, tc.w)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestEmptyPipelineCopies(t *testing.T) {
	src := randomImage(1, 3, 3, 1)
	got := Compose().Apply(data.Image{}, src, rand.New(rand.NewPCG(1, 1)))
	assertClose(t, "copy", got.Pix, src.Pix, 0)
	if &got.Pix[0] == &src.Pix[0] {
		t.Fatal("empty pipeline returned the source instead of a copy")
	}
}
