package augment

import (
	"math"
	"testing"

	"selfsup/data"
)

// expectedAreaFraction integrates torchvision's crop sampling numerically:
// a draw is accepted when the box fits, ten tries, then the fallback box.
// It ignores the rounding of the box to whole pixels, which is negligible
// for the large images the test uses.
func expectedAreaFraction(h, w int, scale, ratio [2]float64, fallback float64) float64 {
	const n = 1500
	H, W := float64(h), float64(w)
	area := H * W
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	var accept, sum float64
	for i := range n {
		s := scale[0] + (scale[1]-scale[0])*(float64(i)+0.5)/n
		for j := range n {
			r := math.Exp(lr0 + (lr1-lr0)*(float64(j)+0.5)/n)
			if math.Sqrt(area*s*r) <= W && math.Sqrt(area*s/r) <= H {
				accept++
				sum += s
			}
		}
	}
	p := accept / (n * n)
	miss := math.Pow(1-p, 10)
	return sum/accept*(1-miss) + fallback*miss
}

func TestRandomResizedCropParamsDistribution(t *testing.T) {
	cases := []struct {
		name     string
		h, w     int
		scale    [2]float64
		fallback [4]int // top, left, h, w of the centre fallback
	}{
		{"square", 1000, 1000, DefaultScale, [4]int{0, 0, 1000, 1000}},
		{"wide", 600, 1000, DefaultScale, [4]int{0, 100, 600, 800}},
		{"wide large scale", 600, 1000, [2]float64{0.7, 1}, [4]int{0, 100, 600, 800}},
		{"tall", 900, 500, [2]float64{0.3, 0.9}, [4]int{116, 0, 667, 500}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			crop := RandomResizedCrop{Size: 32, Scale: tc.scale}
			r := newRand(1)
			const draws = 20000
			var sum, sum2 float64
			area := float64(tc.h * tc.w)
			fallbacks := 0
			for range draws {
				top, left, ch, cw := crop.Params(tc.h, tc.w, r)
				if top < 0 || left < 0 || top+ch > tc.h || left+cw > tc.w || ch <= 0 || cw <= 0 {
					t.Fatalf("box top=%d left=%d %dx%d outside the %dx%d image", top, left, ch, cw, tc.h, tc.w)
				}
				f := float64(ch*cw) / area
				sum += f
				sum2 += f * f
				if [4]int{top, left, ch, cw} == tc.fallback {
					fallbacks++
					continue
				}
				// Rounding each side to whole pixels moves the area by at
				// most about one pixel row and column.
				slack := float64(ch+cw+1) / area
				if f < tc.scale[0]-slack || f > tc.scale[1]+slack {
					t.Fatalf("area fraction %v outside scale %v", f, tc.scale)
				}
				lr := math.Log(float64(cw) / float64(ch))
				rslack := 1/float64(ch) + 1/float64(cw)
				if lr < math.Log(3.0/4)-rslack || lr > math.Log(4.0/3)+rslack {
					t.Fatalf("aspect ratio %d/%d outside (3/4, 4/3)", cw, ch)
				}
			}
			fb := float64(tc.fallback[2]*tc.fallback[3]) / area
			want := expectedAreaFraction(tc.h, tc.w, tc.scale, DefaultRatio, fb)
			mean := sum / draws
			se := math.Sqrt((sum2/draws - mean*mean) / draws)
			if math.Abs(mean-want) > 4*se+2e-3 {
				t.Errorf("mean area fraction %.4f, expected %.4f (standard error %.4f, %d fallbacks)", mean, want, se, fallbacks)
			}
		})
	}
}

func TestRandomResizedCropFallback(t *testing.T) {
	// No box with area >= 90% and ratio <= 4/3 fits a 10x100 strip, so all
	// ten attempts fail and the centre crop with ratio 4/3 is used.
	crop := RandomResizedCrop{Size: 8, Scale: [2]float64{0.9, 1}}
	r := newRand(3)
	for range 50 {
		top, left, ch, cw := crop.Params(10, 100, r)
		if top != 0 || left != 43 || ch != 10 || cw != 13 {
			t.Fatalf("fallback box top=%d left=%d %dx%d, want 0 43 10x13", top, left, ch, cw)
		}
	}
	// A tall strip falls back to the full width and height width/(3/4).
	top, left, ch, cw := crop.Params(100, 10, r)
	if top != 43 || left != 0 || ch != 13 || cw != 10 {
		t.Fatalf("tall fallback box top=%d left=%d %dx%d, want 43 0 13x10", top, left, ch, cw)
	}
}

func TestRandomResizedCropWholeImageIsIdentity(t *testing.T) {
	src := randomImage(3, 16, 16, 1)
	crop := RandomResizedCrop{Size: 16, Scale: [2]float64{1, 1}, Ratio: [2]float64{1, 1}}
	out := crop.Apply(data.Image{}, src, newRand(1))
	assertShape(t, "output", out, 3, 16, 16)
	assertClose(t, "whole-image crop at the same size", out.Pix, src.Pix, 0)
}

func TestResampleBilinear(t *testing.T) {
	// 1x4x4 image with values 0..15.
	src := data.NewImage(1, 4, 4)
	for i := range src.Pix {
		src.Pix[i] = float32(i)
	}
	// Halving averages 2x2 blocks (source coordinate 2d+0.5).
	down := resample(data.Image{}, src, 0, 0, 4, 4, 2, 2)
	assertClose(t, "4x4 -> 2x2", down.Pix, []float32{2.5, 4.5, 10.5, 12.5}, 1e-6)

	// Doubling a 1x2 row: coordinates -0.25 (clamped), 0.25, 0.75, 1.25
	// (clamped to the last pixel).
	row := data.Image{C: 1, H: 1, W: 2, Pix: []float32{0, 4}}
	up := resample(data.Image{}, row, 0, 0, 1, 2, 1, 4)
	assertClose(t, "1x2 -> 1x4", up.Pix, []float32{0, 1, 3, 4}, 1e-6)

	// A box: rows 1-2, columns 2-3 at the same size is a plain copy.
	box := resample(data.Image{}, src, 1, 2, 2, 2, 2, 2)
	assertClose(t, "box copy", box.Pix, []float32{6, 7, 10, 11}, 0)
}

func TestCenterCrop(t *testing.T) {
	src := data.NewImage(2, 5, 4)
	for i := range src.Pix {
		src.Pix[i] = float32(i + 1)
	}
	// Crop 2: top = round(1.5) = 2 (half to even), left = round(1) = 1.
	out := CenterCrop{Size: 2}.Apply(data.Image{}, src, nil)
	assertShape(t, "crop", out, 2, 2, 2)
	want := []float32{
		at(src, 0, 2, 1), at(src, 0, 2, 2), at(src, 0, 3, 1), at(src, 0, 3, 2),
		at(src, 1, 2, 1), at(src, 1, 2, 2), at(src, 1, 3, 1), at(src, 1, 3, 2),
	}
	assertClose(t, "crop", out.Pix, want, 0)

	// Crop 7 of a 5x4 image pads: 1 row above, 2 columns left (floor of
	// half the padding), zeros outside.
	big := CenterCrop{Size: 7}.Apply(data.Image{}, src, nil)
	assertShape(t, "padded crop", big, 2, 7, 7)
	for y := range 7 {
		for x := range 7 {
			sy, sx := y-1, x-1
			want := float32(0)
			if sy >= 0 && sy < 5 && sx >= 0 && sx < 4 {
				want = at(src, 1, sy, sx)
			}
			if got := at(big, 1, y, x); got != want {
				t.Fatalf("padded crop (%d,%d) = %v, want %v", y, x, got, want)
			}
		}
	}
}

func TestResize(t *testing.T) {
	cases := []struct {
		h, w, size, oh, ow int
	}{
		{32, 32, 32, 32, 32},
		{300, 400, 256, 256, 341},
		{400, 300, 256, 341, 256},
		{8, 8, 4, 4, 4},
	}
	for _, tc := range cases {
		src := randomImage(3, tc.h, tc.w, 2)
		out := Resize{Size: tc.size}.Apply(data.Image{}, src, nil)
		assertShape(t, "resize", out, 3, tc.oh, tc.ow)
		c, h, w, err := Resize{Size: tc.size}.OutShape(3, tc.h, tc.w)
		if err != nil || c != 3 || h != tc.oh || w != tc.ow {
			t.Errorf("OutShape(3, %d, %d) = %d %d %d %v, want 3 %d %d", tc.h, tc.w, c, h, w, err, tc.oh, tc.ow)
		}
		if tc.h == tc.size && tc.w == tc.size {
			assertClose(t, "resize to the same size", out.Pix, src.Pix, 0)
		}
	}
}
