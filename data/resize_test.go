package data

import (
	"math"
	"testing"
)

// fnDataset is a one-image in-memory dataset built from a function.
func fnDataset(c, h, w int, f func(c, y, x int) uint8) Dataset {
	pix := make([]uint8, c*h*w)
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				pix[(ch*h+y)*w+x] = f(ch, y, x)
			}
		}
	}
	return &memory{name: "fn", c: c, h: h, w: w, pix: pix}
}

func TestResized(t *testing.T) {
	cases := []struct {
		name    string
		c, h, w int
		f       func(c, y, x int) uint8
		size    int
		check   func(img Image) string
	}{
		{"constant stays constant", 3, 17, 23, func(c, y, x int) uint8 { return uint8(60 * (c + 1)) }, 7,
			func(img Image) string {
				for i, v := range img.Pix {
					if want := float32(60*(i/49+1)) / 255; math.Abs(float64(v-want)) > 1e-6 {
						return "pixel differs from the constant"
					}
				}
				return ""
			}},
		{"checkerboard halves to grey", 1, 16, 16, func(c, y, x int) uint8 { return uint8(255 * ((x + y) % 2)) }, 8,
			func(img Image) string {
				// Inside, exactly grey; at the border the filter is cut
				// and renormalised (as in PIL), so nearly grey.
				for y := 0; y < 8; y++ {
					for x := 0; x < 8; x++ {
						tol := 1e-5
						if x == 0 || y == 0 || x == 7 || y == 7 {
							tol = 0.02
						}
						if math.Abs(float64(img.Pix[y*8+x])-0.5) > tol {
							return "antialiased 2x shrink of a checkerboard is not uniform grey"
						}
					}
				}
				return ""
			}},
		{"wide image is centre-cropped", 1, 10, 20, func(c, y, x int) uint8 {
			if x < 10 {
				return 0
			}
			return 255
		}, 10, func(img Image) string {
			// The crop covers x in [5, 15): left half dark, right half bright.
			for y := 0; y < 10; y++ {
				for x := 0; x < 10; x++ {
					want := float32(0)
					if x >= 5 {
						want = 1
					}
					if img.Pix[y*10+x] != want {
						return "crop is not centred"
					}
				}
			}
			return ""
		}},
		{"upscaling interpolates", 1, 2, 2, func(c, y, x int) uint8 { return uint8(255 * x) }, 4,
			func(img Image) string {
				// Output centres at input x = 0.25, 0.75, 1.25, 1.75 -> clamped
				// bilinear weights give 0, 0.25, 0.75, 1.
				want := []float32{0, 0.25, 0.75, 1}
				for y := 0; y < 4; y++ {
					for x := 0; x < 4; x++ {
						if math.Abs(float64(img.Pix[y*4+x]-want[x])) > 1e-6 {
							return "bilinear upscale values are wrong"
						}
					}
				}
				return ""
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Resized(fnDataset(tc.c, tc.h, tc.w, tc.f), tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if c, h, w := ds.Shape(); c != tc.c || h != tc.size || w != tc.size {
				t.Fatalf("shape %d %d %d", c, h, w)
			}
			img, err := ds.Image(0, Image{})
			if err != nil {
				t.Fatal(err)
			}
			if img.H != tc.size || img.W != tc.size || img.C != tc.c {
				t.Fatalf("image %dx%dx%d", img.C, img.H, img.W)
			}
			if msg := tc.check(img); msg != "" {
				t.Errorf("%s: %v", msg, img.Pix)
			}
		})
	}
	if _, err := Resized(fnDataset(1, 2, 2, nil2), 0); err == nil {
		t.Error("Resized(0): no error")
	}
}

func nil2(c, y, x int) uint8 { return 0 }

func TestResizedFixedShapeDoesNotAllocate(t *testing.T) {
	ds, _ := Resized(fnDataset(3, 32, 32, func(c, y, x int) uint8 { return uint8(x * y) }), 24)
	dst := NewImage(3, 24, 24)
	ds.Image(0, dst) // warm the scratch pool
	allocs := testing.AllocsPerRun(50, func() { ds.Image(0, dst) })
	if allocs > 0 {
		t.Errorf("Image allocates %v times per call", allocs)
	}
}
