package augment

import (
	"math"
	"testing"

	"selfsup/data"
)

// tiny is a 3-channel 1x2 image whose results below were worked out by hand.
// Its grayscale values are 0.306 and 0.7516, their mean 0.5288.
func tiny() data.Image {
	return data.Image{C: 3, H: 1, W: 2, Pix: []float32{
		0.2, 0.6, // R
		0.4, 0.8, // G
		0.1, 0.9, // B
	}}
}

func TestColorAdjustmentsByHand(t *testing.T) {
	cases := []struct {
		name string
		op   func(data.Image)
		want []float32
	}{
		{"brightness 1.5", func(m data.Image) { AdjustBrightness(m, 1.5) },
			[]float32{0.3, 0.9, 0.6, 1, 0.15, 1}},
		{"brightness 0", func(m data.Image) { AdjustBrightness(m, 0) },
			[]float32{0, 0, 0, 0, 0, 0}},
		{"contrast 0.5", func(m data.Image) { AdjustContrast(m, 0.5) },
			[]float32{0.3644, 0.5644, 0.4644, 0.6644, 0.3144, 0.7144}},
		{"contrast 0", func(m data.Image) { AdjustContrast(m, 0) },
			[]float32{0.5288, 0.5288, 0.5288, 0.5288, 0.5288, 0.5288}},
		{"saturation 0", func(m data.Image) { AdjustSaturation(m, 0) },
			[]float32{0.306, 0.7516, 0.306, 0.7516, 0.306, 0.7516}},
		{"saturation 2", func(m data.Image) { AdjustSaturation(m, 2) },
			[]float32{0.094, 0.4484, 0.494, 0.8484, 0, 1}},
		{"saturation 1", func(m data.Image) { AdjustSaturation(m, 1) },
			[]float32{0.2, 0.6, 0.4, 0.8, 0.1, 0.9}},
		{"grayscale", ToGrayscale,
			[]float32{0.306, 0.7516, 0.306, 0.7516, 0.306, 0.7516}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := tiny()
			tc.op(img)
			assertClose(t, tc.name, img.Pix, tc.want, 1e-6)
		})
	}
}

func TestGrayscaleWeights(t *testing.T) {
	img := data.Image{C: 3, H: 1, W: 3, Pix: []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}}
	ToGrayscale(img)
	w := []float32{0.299, 0.587, 0.114}
	assertClose(t, "luma of pure R, G, B", img.Pix, append(append(append([]float32{}, w...), w...), w...), 1e-7)
}

func TestOneChannelColourOps(t *testing.T) {
	base := data.Image{C: 1, H: 1, W: 4, Pix: []float32{0.1, 0.3, 0.5, 0.9}}
	cases := []struct {
		name string
		op   func(data.Image)
		want []float32
	}{
		{"saturation is a no-op", func(m data.Image) { AdjustSaturation(m, 0) }, base.Pix},
		{"hue is a no-op", func(m data.Image) { AdjustHue(m, 0.3) }, base.Pix},
		{"grayscale is a no-op", ToGrayscale, base.Pix},
		{"brightness multiplies", func(m data.Image) { AdjustBrightness(m, 2) }, []float32{0.2, 0.6, 1, 1}},
		// The mean of all values is 0.45.
		{"contrast blends with the mean", func(m data.Image) { AdjustContrast(m, 0.5) }, []float32{0.275, 0.375, 0.475, 0.675}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := clone(base)
			tc.op(img)
			assertClose(t, tc.name, img.Pix, tc.want, 1e-6)
		})
	}
}

func TestHSVKnownColours(t *testing.T) {
	cases := []struct {
		r, g, b, h, s, v float32
	}{
		{1, 0, 0, 0, 1, 1},
		{0, 1, 0, 1.0 / 3, 1, 1},
		{0, 0, 1, 2.0 / 3, 1, 1},
		{1, 1, 0, 1.0 / 6, 1, 1},
		{0.5, 0.5, 0.5, 0, 0, 0.5},
		{0.2, 0.1, 0.4, 0.7222222, 0.75, 0.4},
	}
	for _, tc := range cases {
		h, s, v := RGBToHSV(tc.r, tc.g, tc.b)
		assertClose(t, "RGBToHSV", []float32{h, s, v}, []float32{tc.h, tc.s, tc.v}, 1e-6)
		r, g, b := HSVToRGB(tc.h, tc.s, tc.v)
		assertClose(t, "HSVToRGB", []float32{r, g, b}, []float32{tc.r, tc.g, tc.b}, 1e-6)
	}
}

func TestHSVRoundTrip(t *testing.T) {
	img := randomImage(3, 16, 16, 5)
	n := 16 * 16
	for i := range n {
		r, g, b := img.Pix[i], img.Pix[n+i], img.Pix[2*n+i]
		h, s, v := RGBToHSV(r, g, b)
		if h < 0 || h >= 1 || s < 0 || s > 1 || v < 0 || v > 1 {
			t.Fatalf("HSV (%v, %v, %v) out of range for RGB (%v, %v, %v)", h, s, v, r, g, b)
		}
		r2, g2, b2 := HSVToRGB(h, s, v)
		assertClose(t, "RGB -> HSV -> RGB", []float32{r2, g2, b2}, []float32{r, g, b}, 1e-5)
	}
}

func TestAdjustHue(t *testing.T) {
	// Red shifted by a third of a turn is green; by two thirds, blue.
	img := data.Image{C: 3, H: 1, W: 1, Pix: []float32{1, 0, 0}}
	AdjustHue(img, 1.0/3)
	assertClose(t, "red + 1/3", img.Pix, []float32{0, 1, 0}, 1e-6)
	AdjustHue(img, -2.0/3) // wraps below zero back to blue
	assertClose(t, "green - 2/3", img.Pix, []float32{0, 0, 1}, 1e-6)

	for _, shift := range []float32{0.05, -0.2, 0.5, -0.5} {
		src := randomImage(3, 8, 8, 11)
		img := clone(src)
		AdjustHue(img, shift)
		if maxDiff(img.Pix, src.Pix) < 0.01 {
			t.Fatalf("hue shift %v left the image unchanged", shift)
		}
		AdjustHue(img, -shift)
		assertClose(t, "hue shift and back", img.Pix, src.Pix, 1e-5)
	}
}

func maxDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

func TestColorJitterParams(t *testing.T) {
	j := ColorJitter{Brightness: 0.4, Contrast: 0.8, Saturation: 1.5, Hue: 0.1, P: 1}
	r := newRand(2)
	orders := map[[4]int]int{}
	const draws = 4800
	for range draws {
		p := j.Params(r)
		orders[p.Order]++
		checks := []struct {
			v, lo, hi float32
		}{
			{p.Factors[JitterBrightness], 0.6, 1.4},
			{p.Factors[JitterContrast], 0.2, 1.8},
			{p.Factors[JitterSaturation], 0, 2.5},
			{p.Factors[JitterHue], -0.1, 0.1},
		}
		for k, c := range checks {
			if c.v < c.lo || c.v > c.hi || !p.Active[k] {
				t.Fatalf("factor %d = %v (active %v), want in [%v, %v]", k, c.v, p.Active[k], c.lo, c.hi)
			}
		}
	}
	if len(orders) != 24 {
		t.Fatalf("saw %d of the 24 orders", len(orders))
	}
	for o, n := range orders {
		if n < draws/24/2 || n > draws/24*2 {
			t.Errorf("order %v drawn %d times in %d, expected about %d", o, n, draws, draws/24)
		}
	}
	if p := (ColorJitter{Brightness: 0.5}).Params(r); p.Active != [4]bool{true, false, false, false} {
		t.Errorf("only brightness configured, active = %v", p.Active)
	}
}

func TestColorJitterApplyMatchesParams(t *testing.T) {
	j := ColorJitter{Brightness: 0.8, Contrast: 0.8, Saturation: 0.8, Hue: 0.2, P: 1}
	src := randomImage(3, 6, 5, 4)
	for seed := range uint64(20) {
		got := j.Apply(data.Image{}, src, newRand(seed))
		r := newRand(seed)
		hit(r, j.P)
		want := clone(src)
		j.Params(r).ApplyTo(want)
		assertClose(t, "Apply vs Params.ApplyTo", got.Pix, want.Pix, 0)
		for i, v := range got.Pix {
			if v < 0 || v > 1 {
				t.Fatalf("value %d = %v outside [0, 1]", i, v)
			}
		}
	}
	// P = 0 copies.
	out := ColorJitter{Brightness: 0.8, P: 0}.Apply(data.Image{}, src, newRand(1))
	assertClose(t, "P=0", out.Pix, src.Pix, 0)
}

func TestRandomGrayscale(t *testing.T) {
	src := randomImage(3, 4, 4, 8)
	gray := clone(src)
	ToGrayscale(gray)
	r := newRand(9)
	converted := 0
	const draws = 2000
	var dst data.Image
	for range draws {
		dst = RandomGrayscale{P: 0.2}.Apply(dst, src, r)
		switch {
		case maxDiff(dst.Pix, gray.Pix) == 0:
			converted++
		case maxDiff(dst.Pix, src.Pix) != 0:
			t.Fatal("output is neither the image nor its grayscale version")
		}
	}
	if converted < draws*15/100 || converted > draws*25/100 {
		t.Errorf("converted %d of %d, expected about 20%%", converted, draws)
	}
}
