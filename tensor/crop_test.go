package tensor

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCropWindows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := randomTensor(r, 3, 2, 9, 11)
	cases := []struct {
		name   string
		h, w   int
		wins   []Window
		panics string
	}{
		{"corners", 3, 4, []Window{{0, 0, 0}, {2, 6, 7}, {1, 3, 5}}, ""},
		{"whole image", 9, 11, []Window{{1, 0, 0}}, ""},
		{"past the right edge", 3, 4, []Window{{0, 0, 8}}, "outside"},
		{"negative top", 3, 3, []Window{{0, -1, 0}}, "outside"},
		{"no such image", 2, 2, []Window{{3, 0, 0}}, "outside"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := New(len(c.wins), 2, c.h, c.w)
			defer func() {
				p := recover()
				switch {
				case c.panics == "" && p != nil:
					t.Fatal(p)
				case c.panics != "" && (p == nil || !strings.Contains(p.(string), c.panics)):
					t.Fatalf("panic %v, want one mentioning %q", p, c.panics)
				}
			}()
			CropWindows(dst, src, c.wins)
			for i, win := range c.wins {
				for ch := 0; ch < 2; ch++ {
					for y := 0; y < c.h; y++ {
						for x := 0; x < c.w; x++ {
							if got, want := dst.At(i, ch, y, x), src.At(win.Image, ch, win.Top+y, win.Left+x); got != want {
								t.Fatalf("window %d (%d,%d,%d): %v, want %v", i, ch, y, x, got, want)
							}
						}
					}
				}
			}
		})
	}
}

func TestStandardizeItems(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := randomTensor(r, 3, 2, 4, 4)
	for i := 32; i < 64; i++ {
		x.Data[i] = 0.7 // item 1 is constant
	}
	for i := 64; i < 96; i++ {
		x.Data[i] = 5 + 3*x.Data[i]
	}
	StandardizeItems(x, 1e-6)
	for item := 0; item < 3; item++ {
		var s, ss float64
		for _, v := range x.Data[item*32 : (item+1)*32] {
			s += float64(v)
			ss += float64(v) * float64(v)
		}
		mu, v := s/32, ss/32-(s/32)*(s/32)
		wantVar := 1.0
		if item == 1 {
			wantVar = 0
		}
		if item == 1 && (mu != 0 || v != 0) {
			t.Fatalf("constant item: mean %v variance %v, want exactly 0", mu, v)
		}
		if math.Abs(mu) > 1e-5 || math.Abs(v-wantVar) > 1e-3 {
			t.Fatalf("item %d: mean %v variance %v, want 0 and %v", item, mu, v, wantVar)
		}
	}
}
