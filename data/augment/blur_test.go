package augment

import (
	"math"
	"testing"

	"selfsup/data"
)

func TestReflectIndex(t *testing.T) {
	cases := []struct{ i, n, want int }{
		{0, 5, 0}, {4, 5, 4}, {-1, 5, 1}, {-4, 5, 4}, {5, 5, 3}, {8, 5, 0},
		{-5, 5, 3}, {9, 5, 1}, {-3, 1, 0}, {2, 1, 0}, {-1, 2, 1}, {2, 2, 0},
	}
	for _, tc := range cases {
		if got := reflectIndex(tc.i, tc.n); got != tc.want {
			t.Errorf("reflectIndex(%d, %d) = %d, want %d", tc.i, tc.n, got, tc.want)
		}
	}
}

// naiveBlur is a direct 2D convolution with the full (untruncated) kernel
// torchvision builds, on a reflect-padded image.
func naiveBlur(src data.Image, ksize int, sigma float64) data.Image {
	r := ksize / 2
	k := make([]float64, ksize)
	var sum float64
	for j := range k {
		x := float64(j - r)
		k[j] = math.Exp(-0.5 * (x / sigma) * (x / sigma))
		sum += k[j]
	}
	for j := range k {
		k[j] /= sum
	}
	out := data.NewImage(src.C, src.H, src.W)
	for c := range src.C {
		for y := range src.H {
			for x := range src.W {
				var acc float64
				for dy := -r; dy <= r; dy++ {
					for dx := -r; dx <= r; dx++ {
						v := at(src, c, reflectIndex(y+dy, src.H), reflectIndex(x+dx, src.W))
						acc += k[dy+r] * k[dx+r] * float64(v)
					}
				}
				out.Pix[(c*src.H+y)*src.W+x] = float32(acc)
			}
		}
	}
	return out
}

func TestBlurMatchesDirectConvolution(t *testing.T) {
	cases := []struct {
		name      string
		c, h, w   int
		ksize     int
		sigma     float64
		tolerance float64
	}{
		{"kernel 7 sigma 1.5", 3, 12, 10, 7, 1.5, 1e-5},
		{"kernel 23 sigma 2", 1, 30, 30, 23, 2, 1e-5},
		{"kernel 11 sigma 0.3 (truncated at 3)", 2, 9, 13, 11, 0.3, 1e-6},
		{"kernel larger than the image", 1, 4, 5, 9, 1.0, 1e-5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := randomImage(tc.c, tc.h, tc.w, 3)
			orig := clone(src)
			got := BlurImage(data.Image{}, src, tc.ksize, tc.sigma)
			assertShape(t, "blur", got, tc.c, tc.h, tc.w)
			assertClose(t, "blur vs direct 2D convolution", got.Pix, naiveBlur(src, tc.ksize, tc.sigma).Pix, tc.tolerance)
			assertClose(t, "source untouched", src.Pix, orig.Pix, 0)
		})
	}
}

func TestBlurPreservesConstantAndSum(t *testing.T) {
	flat := data.NewImage(3, 20, 20)
	for i := range flat.Pix {
		flat.Pix[i] = 0.37
	}
	out := BlurImage(data.Image{}, flat, 5, 1.7)
	for i, v := range out.Pix {
		if math.Abs(float64(v-0.37)) > 1e-6 {
			t.Fatalf("constant image changed at %d: %v", i, v)
		}
	}
	// An impulse far from the borders keeps its total mass and spreads
	// symmetrically.
	imp := data.NewImage(1, 21, 21)
	imp.Pix[10*21+10] = 1
	out = BlurImage(data.Image{}, imp, 7, 1.2)
	var sum float64
	for _, v := range out.Pix {
		sum += float64(v)
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Errorf("impulse sum after blur %v, want 1", sum)
	}
	if a, b := at(out, 0, 10, 8), at(out, 0, 12, 10); math.Abs(float64(a-b)) > 1e-7 || a <= 0 {
		t.Errorf("blur not symmetric: %v vs %v", a, b)
	}
	if at(out, 0, 10, 10) >= 1 || at(out, 0, 10, 10) <= at(out, 0, 10, 11) {
		t.Errorf("centre %v should stay the maximum and drop below 1", at(out, 0, 10, 10))
	}
}

func TestGaussianBlurTransform(t *testing.T) {
	src := randomImage(3, 32, 32, 4)
	// Kernel 10% of 32 = 3; sigma fixed by a degenerate range.
	b := GaussianBlur{Sigma: [2]float64{1, 1}, P: 1}
	got := b.Apply(data.Image{}, src, newRand(1))
	assertClose(t, "transform vs BlurImage", got.Pix, BlurImage(data.Image{}, src, 3, 1).Pix, 0)
	if k := (GaussianBlur{}).kernelSize(224, 224); k != 23 {
		t.Errorf("kernel size at 224 = %d, want 23", k)
	}
	if k := (GaussianBlur{}).kernelSize(96, 120); k != 9 {
		t.Errorf("kernel size at 96 = %d, want 9", k)
	}
	none := GaussianBlur{P: 0}.Apply(data.Image{}, src, newRand(1))
	assertClose(t, "P=0 copies", none.Pix, src.Pix, 0)
}
