package augment

import (
	"math"
	"math/rand/v2"
	"testing"

	"selfsup/data"
)

// randomImage returns a c x h x w image of uniform values in [0, 1).
func randomImage(c, h, w int, seed uint64) data.Image {
	r := rand.New(rand.NewPCG(seed, 99))
	img := data.NewImage(c, h, w)
	for i := range img.Pix {
		img.Pix[i] = r.Float32()
	}
	return img
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }

// clone returns a deep copy, so a test can check that src was not touched.
func clone(img data.Image) data.Image {
	img.Pix = append([]float32(nil), img.Pix...)
	return img
}

// at returns the value at channel c, row y, column x.
func at(img data.Image, c, y, x int) float32 { return img.Pix[(c*img.H+y)*img.W+x] }

func assertClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= tol) {
			t.Fatalf("%s: element %d is %v, want %v (tolerance %g)", what, i, got[i], want[i], tol)
		}
	}
}

func assertShape(t *testing.T, what string, img data.Image, c, h, w int) {
	t.Helper()
	if img.C != c || img.H != h || img.W != w || len(img.Pix) != c*h*w {
		t.Fatalf("%s: got %dx%dx%d with %d values, want %dx%dx%d", what, img.C, img.H, img.W, len(img.Pix), c, h, w)
	}
}
