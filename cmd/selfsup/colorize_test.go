package main

import (
	"image"
	imgcolor "image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"selfsup/color"
)

// writeTestPNG writes img to path.
func writeTestPNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readTestPNG decodes the PNG at path.
func readTestPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// lightnessAt is the CIE L of an image's pixel.
func lightnessAt(img image.Image, x, y int) float64 {
	c := imgcolor.NRGBAModel.Convert(img.At(x, y)).(imgcolor.NRGBA)
	return float64(color.Lightness(float32(c.R)/255, float32(c.G)/255, float32(c.B)/255))
}

// TestColorize trains a tiny colorization checkpoint for two steps and
// colourises a non-square colour image and a small grey one: the outputs
// keep each input's size and lightness, and the grid holds grey |
// colourised | original rows of the documented size, the original column
// showing the input.
func TestColorize(t *testing.T) {
	tmp := t.TempDir()
	run := filepath.Join(tmp, "color")
	mustCLI(t, "pretrain", "--data", "synthetic:shapes:64", "--method", "colorization", "--steps", "2", "--batch", "8",
		"--params", `{"decoder_dim":8}`, "--out", run, "--quiet")

	photo := image.NewNRGBA(image.Rect(0, 0, 40, 24))
	for y := range 24 {
		for x := range 40 {
			photo.SetNRGBA(x, y, imgcolor.NRGBA{uint8(6 * x), uint8(200 - 8*y), uint8(40 + 3*x + 2*y), 255})
		}
	}
	grey := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i)
	}
	in1, in2 := filepath.Join(tmp, "photo.png"), filepath.Join(tmp, "grey.png")
	writeTestPNG(t, in1, photo)
	writeTestPNG(t, in2, grey)
	outDir, grid := filepath.Join(tmp, "out"), filepath.Join(tmp, "grid.png")
	// flags after the first image are parsed too
	stdout, _ := mustCLI(t, "colorize", "--ckpt", run, in1, "--out", outDir, "--grid", grid, in2)
	for _, want := range []string{"photo_colorized.png", "grey_colorized.png", "wrote " + grid} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, c := range []struct {
		in   image.Image
		name string
	}{{photo, "photo_colorized.png"}, {grey, "grey_colorized.png"}} {
		out := readTestPNG(t, filepath.Join(outDir, c.name))
		if out.Bounds() != c.in.Bounds() {
			t.Fatalf("%s is %v, the input %v", c.name, out.Bounds(), c.in.Bounds())
		}
		var diff float64
		b := out.Bounds()
		for y := range b.Dy() {
			for x := range b.Dx() {
				diff += math.Abs(lightnessAt(out, x, y) - lightnessAt(c.in, x, y))
			}
		}
		if diff /= float64(b.Dx() * b.Dy()); diff > 2 {
			t.Errorf("%s: mean lightness change %.2f: the input's L must be kept", c.name, diff)
		}
	}
	// rows: the 40x24 image enlarged 4x (shorter side to 96), the 16x16 one 6x
	g := readTestPNG(t, grid)
	wantW, wantH := 2*colorizeMargin+3*160+2*colorizeGap, colorizeMargin+96+colorizeMargin+96+colorizeMargin
	if b := g.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Fatalf("grid %dx%d, want %dx%d", b.Dx(), b.Dy(), wantW, wantH)
	}
	for _, p := range [][2]int{{0, 0}, {39, 23}, {17, 5}} {
		gx, gy := colorizeMargin+2*(160+colorizeGap)+4*p[0]+1, colorizeMargin+4*p[1]+2
		got := imgcolor.NRGBAModel.Convert(g.At(gx, gy)).(imgcolor.NRGBA)
		if want := photo.NRGBAAt(p[0], p[1]); got != want {
			t.Fatalf("grid original pixel %v = %v, input %v", p, got, want)
		}
		// the grey column is neutral
		gr := imgcolor.NRGBAModel.Convert(g.At(colorizeMargin+4*p[0]+1, gy)).(imgcolor.NRGBA)
		if max(gr.R, gr.G, gr.B)-min(gr.R, gr.G, gr.B) > 1 {
			t.Fatalf("grid grey pixel %v = %v is not grey", p, gr)
		}
	}

	// bad input
	bad := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"colorize", "--ckpt", run}, 2, "no images given"},
		{[]string{"colorize", in1}, 2, "--ckpt is required"},
		{[]string{"colorize", "--ckpt", run, "--grid", "g.jpg", in1}, 2, "name the file *.png"},
		{[]string{"colorize", "--ckpt", run, in1, filepath.Join(tmp, "x", "photo.jpg"), "--out", outDir}, 2, "would both be written"},
		{[]string{"colorize", "--ckpt", run, filepath.Join(tmp, "missing.png")}, 1, "missing.png: no such file"},
		{[]string{"colorize", "--ckpt", run, filepath.Join(run, "config.json")}, 1, "not a PNG, JPEG or GIF image"},
		{[]string{"colorize", "--ckpt", tmp, in1}, 1, tmp},
	}
	for _, c := range bad {
		code, _, stderr := cli(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("selfsup %s: exit %d, stderr %q; want exit %d mentioning %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
		}
	}
}

// resizePlanes keeps constants constant, interpolates linearly between
// pixel centres when enlarging and averages when shrinking.
func TestResizePlanes(t *testing.T) {
	flat := rgbPlanes{c: 2, h: 3, w: 5, pix: make([]float32, 30)}
	for i := range flat.pix {
		flat.pix[i] = float32(i / 15) // plane 0 all 0, plane 1 all 1
	}
	for _, size := range [][2]int{{7, 2}, {1, 1}, {12, 20}} {
		out := resizePlanes(flat, size[0], size[1])
		for i, v := range out.pix {
			if want := float32(i / (size[0] * size[1])); math.Abs(float64(v-want)) > 1e-6 {
				t.Fatalf("resize to %v: value %d = %v, want %v", size, i, v, want)
			}
		}
	}
	// 1x2 -> 1x4: centres at 0.25 and 0.75 of the way
	up := resizePlanes(rgbPlanes{c: 1, h: 1, w: 2, pix: []float32{0, 1}}, 1, 4)
	for i, want := range []float32{0, 0.25, 0.75, 1} {
		if math.Abs(float64(up.pix[i]-want)) > 1e-6 {
			t.Fatalf("enlarged %v, want [0 0.25 0.75 1]", up.pix)
		}
	}
	// 1x4 -> 1x2: the filter widens to two samples each side (weights 3/4,
	// 3/4, 1/4 over the three samples within reach), so each output leans
	// to its own half without aliasing
	down := resizePlanes(rgbPlanes{c: 1, h: 1, w: 4, pix: []float32{0, 0, 1, 1}}, 1, 2)
	if down.pix[0] >= 0.25 || down.pix[1] <= 0.75 || math.Abs(float64(down.pix[0]+down.pix[1]-1)) > 1e-6 {
		t.Fatalf("shrunk %v", down.pix)
	}
}
