package augment

import (
	"testing"

	"selfsup/data"
)

func TestSolarize(t *testing.T) {
	src := data.Image{C: 1, H: 1, W: 5, Pix: []float32{0, 0.3, 0.5, 0.7, 1}}
	got := Solarize{P: 1}.Apply(data.Image{}, src, newRand(1))
	assertClose(t, "threshold 0.5", got.Pix, []float32{0, 0.3, 0.5, 0.3, 0}, 1e-7)
	got = Solarize{Threshold: 0.25, P: 1}.Apply(data.Image{}, src, newRand(1))
	assertClose(t, "threshold 0.25", got.Pix, []float32{0, 0.7, 0.5, 0.3, 0}, 1e-7)
	got = Solarize{P: 0}.Apply(data.Image{}, src, newRand(1))
	assertClose(t, "P=0", got.Pix, src.Pix, 0)
}

func TestNormalize(t *testing.T) {
	src := data.Image{C: 2, H: 1, W: 2, Pix: []float32{0, 1, 0.5, 0.25}}
	got := Normalize{Mean: []float32{0.5, 0.25}, Std: []float32{0.5, 0.25}}.Apply(data.Image{}, src, nil)
	assertClose(t, "per channel", got.Pix, []float32{-1, 1, 1, 0}, 1e-6)
	got = Normalize{Mean: []float32{0.5}, Std: []float32{2}}.Apply(data.Image{}, src, nil)
	assertClose(t, "one for all", got.Pix, []float32{-0.25, 0.25, 0, -0.125}, 1e-6)
}

func TestHorizontalFlip(t *testing.T) {
	src := randomImage(3, 4, 5, 6)
	for _, inPlace := range []bool{false, true} {
		img := clone(src)
		dst := data.Image{}
		if inPlace {
			dst = img
		}
		out := HorizontalFlip{P: 1}.Apply(dst, img, newRand(1))
		for c := range 3 {
			for y := range 4 {
				for x := range 5 {
					if at(out, c, y, x) != at(src, c, y, 4-x) {
						t.Fatalf("in place %v: (%d,%d,%d) is not the mirror", inPlace, c, y, x)
					}
				}
			}
		}
	}
	// Flipping twice is the identity; P=0 copies; P=0.5 flips about half.
	twice := HorizontalFlip{P: 1}.Apply(data.Image{}, HorizontalFlip{P: 1}.Apply(data.Image{}, src, newRand(0)), newRand(0))
	assertClose(t, "flip twice", twice.Pix, src.Pix, 0)
	assertClose(t, "P=0", HorizontalFlip{}.Apply(data.Image{}, src, newRand(1)).Pix, src.Pix, 0)
	r := newRand(3)
	flips := 0
	for range 1000 {
		if maxDiff(HorizontalFlip{P: 0.5}.Apply(data.Image{}, src, r).Pix, src.Pix) > 0 {
			flips++
		}
	}
	if flips < 430 || flips > 570 {
		t.Errorf("flipped %d of 1000 with P=0.5", flips)
	}
}
