package data

import (
	"math"
	"strings"
	"testing"
)

func TestSyntheticSpec(t *testing.T) {
	cases := []struct {
		spec, split string
		n           int
		name        string
	}{
		{"synthetic:shapes", "", DefaultShapesTrain, "synthetic:shapes/train"},
		{"synthetic:shapes", "test", DefaultShapesTrain / 5, "synthetic:shapes/test"},
		{"synthetic:shapes:50", "train", 50, "synthetic:shapes/train"},
		{"synthetic:shapes:50", "test", 10, "synthetic:shapes/test"},
		{"synthetic:shapes:3", "test", 1, "synthetic:shapes/test"},
	}
	for _, c := range cases {
		t.Run(c.spec+"/"+c.split, func(t *testing.T) {
			s, err := ParseSpec(c.spec)
			if err != nil || s.Kind != "synthetic" || s.String() != c.spec {
				t.Fatalf("ParseSpec = %+v, %v", s, err)
			}
			ds, err := Open(c.spec, OpenOptions{Split: c.split})
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != c.n || ds.Name() != c.name {
				t.Fatalf("%s with %d images, want %s with %d", ds.Name(), ds.Len(), c.name, c.n)
			}
			if ch, h, w := ds.Shape(); ch != 3 || h != ShapesSize || w != ShapesSize {
				t.Fatalf("shape %d %d %d", ch, h, w)
			}
		})
	}
	bad := []struct{ spec, why string }{
		{"synthetic", "unknown synthetic dataset"},
		{"synthetic:", "unknown synthetic dataset"},
		{"synthetic:circles", `unknown synthetic dataset "circles"`},
		{"synthetic:shapes:0", "whole number of train images"},
		{"synthetic:shapes:-5", "whole number of train images"},
		{"synthetic:shapes:lots", `not "lots"`},
		{"synthetic:shapes:", `not ""`},
	}
	for _, c := range bad {
		_, err := ParseSpec(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.why) || !strings.Contains(err.Error(), "synthetic:shapes[:N]") {
			t.Errorf("ParseSpec(%q) err = %v, want one mentioning %q and the valid forms", c.spec, err, c.why)
		}
	}
	if _, err := Open("synthetic:shapes", OpenOptions{Split: "unlabeled"}); err == nil || !strings.Contains(err.Error(), `unknown split "unlabeled" (valid: train, test)`) {
		t.Fatalf("split unlabeled: %v", err)
	}
	ds, err := Open("synthetic:shapes:40", OpenOptions{Subset: 12, Seed: 1})
	if err != nil || ds.Len() != 12 {
		t.Fatalf("subset: %v", err)
	}
}

// Image i of a split is a pure function of (split, i): the same whatever
// was read before, different between indices and splits; pixels in [0, 1],
// labels i%10, and no allocation with a buffer of the right size.
func TestSyntheticShapesDeterministic(t *testing.T) {
	train, _ := SyntheticShapes("train", 100)
	test, _ := SyntheticShapes("test", 100)
	buf := NewImage(3, ShapesSize, ShapesSize)
	read := func(ds Dataset, i int) []float32 {
		img, err := ds.Image(i, buf)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), img.Pix...)
	}
	a7 := read(train, 7)
	read(train, 3)
	read(test, 7)
	if b7 := read(train, 7); !equalPix(a7, b7) {
		t.Fatal("image 7 changed after reading others")
	}
	if equalPix(a7, read(train, 8)) || equalPix(a7, read(test, 7)) {
		t.Fatal("different images are identical")
	}
	for i := range 100 {
		if train.Label(i) != i%10 {
			t.Fatalf("label %d = %d", i, train.Label(i))
		}
		for _, v := range read(train, i) {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("image %d has pixel %v", i, v)
			}
		}
	}
	if got := train.Classes(); len(got) != 10 || got[0] != "circle" || got[9] != "l-shape" {
		t.Fatalf("classes %v", got)
	}
	if allocs := testing.AllocsPerRun(20, func() { train.Image(5, buf) }); allocs != 0 {
		t.Fatalf("%v allocations per image", allocs)
	}
	if _, err := train.Image(100, buf); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("index 100 of 100: %v", err)
	}
	if _, err := SyntheticShapes("train", 0); err == nil {
		t.Fatal("0 images accepted")
	}
}

func equalPix(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// Points known to lie inside or outside each class's outline.
func TestShapeOutlines(t *testing.T) {
	cases := []struct {
		class  int
		in     [][2]float64
		out    [][2]float64
		holeAt bool // the centre is outside (ring, frame, crescent, l-shape)
	}{
		{0, [][2]float64{{0.9, 0}, {0, -0.6}}, [][2]float64{{0.7, 0.7}}, false},
		{1, [][2]float64{{0.8, 0}, {0, -0.95}}, [][2]float64{{0.3, 0}, {0.8, 0.8}}, true},
		{2, [][2]float64{{0.7, 0.7}}, [][2]float64{{0.9, 0}}, false},
		{3, [][2]float64{{0.7, 0.7}, {-0.8, 0}}, [][2]float64{{0.3, 0.3}, {0.95, 0}}, true},
		{4, [][2]float64{{0, 1}, {0, -0.4}}, [][2]float64{{0.8, 0.5}, {0, -0.7}}, false},
		{5, [][2]float64{{0.95, 0}, {0, -0.95}}, [][2]float64{{0.5, 0.5}}, false},
		{6, [][2]float64{{0, 1.0}, {0.2, 0.1}}, [][2]float64{{0.5, 0.5}, {0, -0.9}}, false},
		{7, [][2]float64{{-0.8, 0}, {0, 0.9}}, [][2]float64{{0.5, 0}, {1.1, 0}}, true},
		{8, [][2]float64{{1, 0}, {-0.9, 0.2}}, [][2]float64{{0, 0.5}}, false},
		{9, [][2]float64{{-0.6, -0.8}, {0.7, 0.7}}, [][2]float64{{0.5, -0.5}}, true},
	}
	for _, c := range cases {
		t.Run(ShapeClasses[c.class], func(t *testing.T) {
			for _, p := range c.in {
				if d := shapeSDF(c.class, p[0], p[1]); d >= 0 {
					t.Errorf("%v: distance %v, want inside", p, d)
				}
			}
			for _, p := range c.out {
				if d := shapeSDF(c.class, p[0], p[1]); d <= 0 {
					t.Errorf("%v: distance %v, want outside", p, d)
				}
			}
			if d := shapeSDF(c.class, 0, 0); (d > 0) != c.holeAt {
				t.Errorf("centre: distance %v", d)
			}
			// everything lies within the radius the renderer examines
			for a := 0.0; a < 2*math.Pi; a += 0.05 {
				if d := shapeSDF(c.class, 1.31*math.Cos(a), 1.31*math.Sin(a)); d < 0.05 {
					t.Fatalf("the outline reaches radius 1.31 at angle %.2f (distance %v)", a, d)
				}
			}
		})
	}
	// the polygon distance is a distance: a unit square's edge midpoints
	// and corners
	sq := [][2]float64{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}}
	for _, c := range []struct{ u, v, want float64 }{{0, 0, -1}, {2, 0, 1}, {2, 2, math.Sqrt2}, {0.5, 0, -0.5}} {
		if d := polygonSDF(c.u, c.v, sq); math.Abs(d-c.want) > 1e-12 {
			t.Errorf("square distance at (%v, %v) = %v, want %v", c.u, c.v, d, c.want)
		}
	}
}

// The images are coloured (chroma well above grey) and the shape stands out
// from the background in every class.
func TestSyntheticShapesAreColourful(t *testing.T) {
	ds, _ := SyntheticShapes("train", 200)
	buf := NewImage(3, ShapesSize, ShapesSize)
	const plane = ShapesSize * ShapesSize
	var chroma float64
	for i := range ds.Len() {
		img, _ := ds.Image(i, buf)
		var lo, hi float64 = 3, 0
		for p := range plane {
			r, g, b := float64(img.Pix[p]), float64(img.Pix[plane+p]), float64(img.Pix[2*plane+p])
			chroma += max(r, g, b) - min(r, g, b)
			s := r + g + b
			lo, hi = min(lo, s), max(hi, s)
		}
		if hi-lo < 0.3 {
			t.Fatalf("image %d (%s) has a brightness range of only %.2f", i, ShapeClasses[ds.Label(i)], hi-lo)
		}
	}
	if chroma /= float64(ds.Len() * plane); chroma < 0.15 {
		t.Fatalf("mean chroma %.3f: the images are nearly grey", chroma)
	}
}

// The background's hue follows its brightness (sceneHue), so a colorizer can
// predict it from the grey image: at a corner, away from the shape, the hue
// of nearly every image lies near sceneHue of the corner's value.
func TestSyntheticShapesBackgroundHueFollowsBrightness(t *testing.T) {
	ds, _ := SyntheticShapes("train", 300)
	buf := NewImage(3, ShapesSize, ShapesSize)
	const plane = ShapesSize * ShapesSize
	near := 0
	for i := range ds.Len() {
		img, _ := ds.Image(i, buf)
		r, g, b := float64(img.Pix[0]), float64(img.Pix[plane]), float64(img.Pix[2*plane])
		h, v := rgbHue(r, g, b), max(r, g, b)
		d := math.Abs(h - sceneHue(v))
		if min(d, 1-d) < 0.1 {
			near++
		}
	}
	if near < ds.Len()*85/100 {
		t.Fatalf("%d of %d corner hues lie within 0.1 of sceneHue(value): want at least 85%%", near, ds.Len())
	}
	if !(sceneHue(0.25) < sceneHue(0.55) && sceneHue(0.55) < sceneHue(0.95)) {
		t.Fatalf("sceneHue does not rise with brightness: %v %v %v", sceneHue(0.25), sceneHue(0.55), sceneHue(0.95))
	}
}

// rgbHue is the HSV hue (turns) of an RGB colour (0 for greys).
func rgbHue(r, g, b float64) float64 {
	hi, lo := max(r, g, b), min(r, g, b)
	if hi == lo {
		return 0
	}
	var h float64
	switch hi {
	case r:
		h = (g - b) / (hi - lo)
	case g:
		h = 2 + (b-r)/(hi-lo)
	default:
		h = 4 + (r-g)/(hi-lo)
	}
	h /= 6
	return h - math.Floor(h)
}
