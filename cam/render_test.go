package cam

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"selfsup/data"
)

func TestMassInside(t *testing.T) {
	uniform := Map{H: 4, W: 4, Values: make([]float32, 16)}
	for i := range uniform.Values {
		uniform.Values[i] = 1
	}
	peak := Map{H: 4, W: 4, Values: make([]float32, 16)}
	peak.Values[1*4+2] = 1 // row 1, column 2
	cases := []struct {
		name string
		m    Map
		box  image.Rectangle
		want float64
	}{
		{"uniform, quarter box", uniform, image.Rect(0, 0, 2, 2), 0.25},
		{"uniform, whole image", uniform, image.Rect(0, 0, 4, 4), 1},
		{"uniform, box past the edge is clipped", uniform, image.Rect(2, 2, 9, 9), 0.25},
		{"peak inside", peak, image.Rect(2, 0, 4, 2), 1},
		{"peak outside", peak, image.Rect(0, 2, 2, 4), 0},
		{"all zero", Map{H: 2, W: 2, Values: make([]float32, 4)}, image.Rect(0, 0, 1, 1), math.NaN()},
	}
	for _, tc := range cases {
		got := MassInside(tc.m, tc.box)
		if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-9) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	mean, used := MeanMassInside([]Map{uniform, peak, cases[5].m}, []image.Rectangle{image.Rect(0, 0, 2, 2), image.Rect(2, 0, 4, 2), image.Rect(0, 0, 1, 1)})
	if used != 2 || math.Abs(mean-0.625) > 1e-9 {
		t.Errorf("MeanMassInside = %v over %d maps, want 0.625 over 2", mean, used)
	}
}

func TestPaste(t *testing.T) {
	src := blobs{n: 20, size: 8}
	p, err := Paste(src, PasteConfig{Size: 20, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := p.Shape(); c != 1 || h != 20 || w != 20 || p.Len() != 20 || p.Label(4) != src.Label(4) {
		t.Fatalf("shape %d %d %d, len %d", c, h, w, p.Len())
	}
	seen := map[image.Point]bool{}
	for i := 0; i < p.Len(); i++ {
		box := p.Box(i)
		if box.Dx() != 8 || box.Dy() != 8 || !box.In(image.Rect(0, 0, 20, 20)) {
			t.Fatalf("box %d = %v", i, box)
		}
		seen[box.Min] = true
		img, err := p.Image(i, data.Image{})
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := src.Image(i, data.Image{})
		for y := 0; y < 20; y++ {
			for x := 0; x < 20; x++ {
				want := float32(0)
				if (image.Point{x, y}).In(box) {
					want = orig.Pix[(y-box.Min.Y)*8+x-box.Min.X]
				}
				if got := img.Pix[y*20+x]; got != want {
					t.Fatalf("image %d pixel (%d, %d) = %v, want %v", i, x, y, got, want)
				}
			}
		}
		again, _ := p.Image(i, img)
		if !slices.Equal(again.Pix, img.Pix) || p.Box(i) != box {
			t.Fatalf("image %d is not reproducible", i)
		}
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct positions for 20 images", len(seen))
	}
	other, _ := Paste(src, PasteConfig{Size: 20, Seed: 4})
	if other.Box(0) == p.Box(0) && other.Box(1) == p.Box(1) && other.Box(2) == p.Box(2) {
		t.Error("another seed gave the same positions")
	}
}

func TestPasteClutter(t *testing.T) {
	src := blobs{n: 20, size: 16}
	p, err := Paste(src, PasteConfig{Size: 40, Clutter: 6, Fragment: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	outside := 0
	for i := 0; i < p.Len(); i++ {
		img, err := p.Image(i, data.Image{})
		if err != nil {
			t.Fatal(err)
		}
		box := p.Box(i)
		for y := 0; y < 40; y++ {
			for x := 0; x < 40; x++ {
				if !(image.Point{x, y}).In(box) && img.Pix[y*40+x] > 0 {
					outside++
				}
			}
		}
	}
	if outside == 0 {
		t.Error("clutter put no ink outside the boxes")
	}
	if !strings.Contains(p.Name(), "clutter 6") {
		t.Errorf("name %q does not mention the clutter", p.Name())
	}
}

func TestPasteErrors(t *testing.T) {
	src := blobs{n: 4, size: 8}
	cases := []struct {
		cfg  PasteConfig
		want string
	}{
		{PasteConfig{Size: 6}, "smaller than"},
		{PasteConfig{Size: 16, Clutter: -1}, "clutter"},
		{PasteConfig{Size: 16, Clutter: 2, Fragment: 9}, "do not fit"},
	}
	for _, tc := range cases {
		if _, err := Paste(src, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Paste(%+v): error %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
	p, _ := Paste(src, PasteConfig{Size: 16})
	if _, err := p.Image(4, data.Image{}); err == nil {
		t.Error("image 4 of 4 gave no error")
	}
}

func TestJetAndOverlay(t *testing.T) {
	if c := Jet(0); c.B < 120 || c.R != 0 || c.G != 0 {
		t.Errorf("Jet(0) = %v, want dark blue", c)
	}
	if c := Jet(1); c.R < 120 || c.G != 0 || c.B != 0 {
		t.Errorf("Jet(1) = %v, want dark red", c)
	}
	if c := Jet(0.5); c.G != 255 {
		t.Errorf("Jet(0.5) = %v, want full green", c)
	}
	img := data.NewImage(1, 2, 2)
	img.Pix[3] = 1
	m := Map{H: 2, W: 2, Values: []float32{0, 0.25, 0.5, 1}}
	plain, err := Overlay(img, m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Pix[0] != 0 || plain.Pix[12] != 255 || plain.Pix[13] != 255 {
		t.Errorf("alpha 0 changed the image: %v", plain.Pix)
	}
	heat, _ := Overlay(img, m, 1)
	for p, v := range m.Values {
		c := Jet(v)
		if heat.Pix[4*p] != c.R || heat.Pix[4*p+1] != c.G || heat.Pix[4*p+2] != c.B {
			t.Errorf("alpha 1 pixel %d = %v, want %v", p, heat.Pix[4*p:4*p+3], c)
		}
	}
	if _, err := Overlay(img, Map{H: 3, W: 2, Values: make([]float32, 6)}, 0.5); err == nil {
		t.Error("a 3x2 map on a 2x2 image gave no error")
	}
	rgb := data.NewImage(3, 1, 1)
	rgb.Pix[1] = 1 // green
	if pic, err := ImageRGBA(rgb); err != nil || pic.Pix[0] != 0 || pic.Pix[1] != 255 || pic.Pix[2] != 0 {
		t.Errorf("RGB image drawn as %v (%v)", pic, err)
	}
}

func TestGrid(t *testing.T) {
	imgs := make([]data.Image, 5)
	maps := make([]Map, 5)
	for i := range imgs {
		imgs[i] = data.NewImage(1, 8, 8)
		maps[i] = Map{H: 8, W: 8, Values: make([]float32, 64), Class: i % 2, Predicted: 1}
	}
	g := &Grid{Title: "where the models look", Images: imgs, Columns: []Column{{"simclr", maps}, {"supervised", maps}},
		Captions: []string{"a", "b", "c", "d", "e"}, Boxes: make([]image.Rectangle, 5), Scale: 4, PerRow: 2, ClassNames: []string{"zero", "one"}}
	pic, err := g.Render()
	if err != nil {
		t.Fatal(err)
	}
	// 2 groups of 3 tiles of 32 pixels per row, 3 rows
	wantW := 2*gridMargin + 2*(3*32+2*tileGap) + gridGap
	wantH := gridMargin + titleHeight + 3*(headHeight+32+capHeight) + 2*gridGap + gridMargin
	if b := pic.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("grid is %dx%d, want %dx%d", b.Dx(), b.Dy(), wantW, wantH)
	}
	if got := g.mapCaption(maps[0]); got != "zero (pred one)" {
		t.Errorf("caption %q", got)
	}
	path := filepath.Join(t.TempDir(), "grid.png")
	if err := g.SavePNG(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if dec, err := png.Decode(bytes.NewReader(b)); err != nil || dec.Bounds() != pic.Bounds() {
		t.Errorf("saved PNG decodes to %v, %v", dec, err)
	}
	bad := []*Grid{
		{},
		{Images: imgs, Columns: []Column{{"x", maps[:3]}}},
		{Images: imgs, Captions: []string{"a"}},
		{Images: append(imgs[:4:4], data.NewImage(1, 9, 9))},
	}
	for i, b := range bad {
		if _, err := b.Render(); err == nil {
			t.Errorf("bad grid %d rendered", i)
		}
	}
}
