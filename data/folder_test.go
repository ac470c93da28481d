package data

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testRGB is a small image whose pixel (x, y) has colour (10x, 20y, 7x+y).
func testRGB(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(10 * x), uint8(20 * y), uint8(7*x + y), 255})
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeGIF(t testing.TB, m *image.Paletted) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestFolderClassesAndDecoding(t *testing.T) {
	dir := t.TempDir()
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(40 * i)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}})
	pal.Pix = []uint8{0, 1, 1, 0}
	writeFile(t, dir, "dog/b.PNG", encodePNG(t, testRGB(4, 3)))
	writeFile(t, dir, "dog/a.png", encodePNG(t, gray))
	writeFile(t, dir, "cat/deep/c.gif", encodeGIF(t, pal))
	writeFile(t, dir, "cat/x.jpeg", encodeJPEG(t, testRGB(16, 16)))
	writeFile(t, dir, "cat/notes.txt", []byte("not an image"))
	writeFile(t, dir, "cat/._x.jpeg", []byte("macOS resource fork"))
	writeFile(t, dir, ".hidden/y.png", encodePNG(t, gray))

	ds, err := Open("folder:"+dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ds.Classes(), ","); got != "cat,dog" {
		t.Fatalf("classes %q, want cat,dog", got)
	}
	wantFiles := []string{"cat/deep/c.gif", "cat/x.jpeg", "dog/a.png", "dog/b.PNG"}
	wantLabels := []int{0, 0, 1, 1}
	if ds.Len() != len(wantFiles) {
		t.Fatalf("len %d, want %d", ds.Len(), len(wantFiles))
	}
	for i, f := range wantFiles {
		if got := ImagePath(ds, i); got != filepath.Join(dir, f) {
			t.Errorf("image %d is %s, want %s", i, got, f)
		}
		if ds.Label(i) != wantLabels[i] {
			t.Errorf("label %d = %d, want %d", i, ds.Label(i), wantLabels[i])
		}
	}
	if c, h, w := ds.Shape(); c != 0 || h != 0 || w != 0 {
		t.Errorf("shape %d %d %d, want zeros (sizes vary)", c, h, w)
	}

	// GIF: palette expanded to RGB.
	img, err := ds.Image(0, Image{})
	if err != nil {
		t.Fatal(err)
	}
	if img.C != 3 || img.H != 2 || img.W != 2 {
		t.Fatalf("gif decoded to %dx%dx%d", img.C, img.H, img.W)
	}
	if r, b := img.Pix[0], img.Pix[2*4+0]; r != 1 || b != 0 || img.Pix[1] != 0 || img.Pix[2*4+1] != 1 {
		t.Errorf("gif pixels %v", img.Pix)
	}
	// JPEG: close to the source colours.
	img, err = ds.Image(1, img)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]int{{0, 0}, {5, 9}, {15, 15}} {
		x, y := p[0], p[1]
		want := [3]float32{float32(uint8(10*x)) / 255, float32(uint8(20*y)) / 255, float32(uint8(7*x+y)) / 255}
		for c := 0; c < 3; c++ {
			if d := img.Pix[(c*16+y)*16+x] - want[c]; d > 0.05 || d < -0.05 {
				t.Errorf("jpeg pixel (%d,%d) channel %d = %v, want about %v", x, y, c, img.Pix[(c*16+y)*16+x], want[c])
			}
		}
	}
	// Gray PNG: replicated to three equal channels.
	img, err = ds.Image(2, img)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		for c := 0; c < 3; c++ {
			if img.Pix[c*6+i] != float32(40*i)/255 {
				t.Fatalf("gray pixel %d channel %d = %v, want %v", i, c, img.Pix[c*6+i], float32(40*i)/255)
			}
		}
	}
	// RGB PNG: exact.
	img, err = ds.Image(3, img)
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 3; y++ {
		for x := 0; x < 4; x++ {
			want := [3]float32{float32(10*x) / 255, float32(20*y) / 255, float32(7*x+y) / 255}
			for c := 0; c < 3; c++ {
				if got := img.Pix[(c*3+y)*4+x]; got != want[c] {
					t.Errorf("png pixel (%d,%d,%d) = %v, want %v", c, y, x, got, want[c])
				}
			}
		}
	}
}

func TestFolderLayouts(t *testing.T) {
	png1 := encodePNG(t, testRGB(2, 2))
	cases := []struct {
		name    string
		files   []string
		split   string
		n       int
		classes string
		labels  []int
		want    string // error substring; "" for success
	}{
		{name: "unlabeled", files: []string{"a.png", "b.jpg", "c.GIF"}, n: 3, labels: []int{-1, -1, -1}},
		{name: "splits train", files: []string{"train/cat/1.png", "train/dog/2.png", "test/cat/3.png", "test/emu/4.png"},
			n: 2, classes: "cat,dog,emu", labels: []int{0, 1}},
		{name: "splits test", split: "test", files: []string{"train/cat/1.png", "train/dog/2.png", "test/cat/3.png", "test/emu/4.png"},
			n: 2, classes: "cat,dog,emu", labels: []int{0, 2}},
		{name: "val as test", split: "test", files: []string{"train/a/1.png", "val/a/2.png", "val/b/3.png"},
			n: 2, classes: "a,b", labels: []int{0, 1}},
		{name: "unlabeled splits", split: "test", files: []string{"train/1.png", "test/2.png", "test/3.png"},
			n: 2, labels: []int{-1, -1}},
		{name: "empty", want: "no images found (looked for .jpg .jpeg .png .gif)"},
		{name: "only other files", files: []string{"a.txt", "sub/b.bmp"}, want: "no images found (looked for .jpg .jpeg .png .gif)"},
		{name: "loose and classes", files: []string{"a.png", "cls/b.png"}, want: "holds both class sub-folders and loose images (first: a.png)"},
		{name: "missing split", split: "test", files: []string{"train/a/1.png"}, want: "no test split (sub-folders present: train)"},
		{name: "no splits", split: "test", files: []string{"a/1.png"}, want: "no test split: the folder has no train/test/val sub-folders"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				writeFile(t, dir, f, png1)
			}
			ds, err := Open("folder:"+dir, OpenOptions{Split: tc.split})
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.want)
				}
				if !strings.HasPrefix(err.Error(), "folder:"+dir+": ") {
					t.Errorf("error %q does not start with the spec", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != tc.n || strings.Join(ds.Classes(), ",") != tc.classes {
				t.Fatalf("len %d classes %v, want %d %q", ds.Len(), ds.Classes(), tc.n, tc.classes)
			}
			for i, l := range tc.labels {
				if ds.Label(i) != l {
					t.Errorf("label %d = %d, want %d", i, ds.Label(i), l)
				}
			}
		})
	}
}

func TestFolderCorruptImages(t *testing.T) {
	dir := t.TempDir()
	good := encodePNG(t, testRGB(3, 3))
	jpg := encodeJPEG(t, testRGB(8, 8))
	writeFile(t, dir, "a/1.png", good)
	writeFile(t, dir, "a/2.jpg", []byte("this is not a jpeg"))
	writeFile(t, dir, "b/3.png", good)
	writeFile(t, dir, "b/4.jpg", jpg[:len(jpg)/2]) // truncated
	writeFile(t, dir, "b/5.png", good)

	ds, err := Open("folder:"+dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ds.Image(1, Image{})
	var ie *ImageError
	if !errors.As(err, &ie) || ie.Path != filepath.Join(dir, "a/2.jpg") {
		t.Fatalf("Image(1) err = %v, want an ImageError for a/2.jpg", err)
	}

	t.Run("skip", func(t *testing.T) {
		var warnings []string
		ok, err := Open("folder:"+dir, OpenOptions{Validate: true, Warn: func(m string) { warnings = append(warnings, m) }})
		if err != nil {
			t.Fatal(err)
		}
		if ok.Len() != 3 {
			t.Fatalf("len %d after skipping, want 3", ok.Len())
		}
		for i, want := range []string{"a/1.png", "b/3.png", "b/5.png"} {
			if ImagePath(ok, i) != filepath.Join(dir, want) {
				t.Errorf("image %d is %s, want %s", i, ImagePath(ok, i), want)
			}
			if _, err := ok.Image(i, Image{}); err != nil {
				t.Error(err)
			}
		}
		if ok.Label(2) != 1 {
			t.Errorf("label of b/5.png = %d, want 1", ok.Label(2))
		}
		wantMsg := "skipped 2 unreadable images (first: " + filepath.Join(dir, "a/2.jpg") + ": "
		if len(warnings) != 1 || !strings.Contains(warnings[0], wantMsg) {
			t.Fatalf("warnings %q, want one containing %q", warnings, wantMsg)
		}
	})
	t.Run("strict", func(t *testing.T) {
		_, err := Open("folder:"+dir, OpenOptions{Validate: true, Strict: true, Warn: func(m string) { t.Error("warned in strict mode:", m) }})
		if err == nil || !strings.Contains(err.Error(), "unreadable image "+filepath.Join(dir, "a/2.jpg")) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("all bad", func(t *testing.T) {
		d := t.TempDir()
		writeFile(t, d, "x.png", []byte("junk"))
		_, err := Open("folder:"+d, OpenOptions{Validate: true})
		if err == nil || !strings.Contains(err.Error(), "none of the 1 images is readable") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		d := t.TempDir()
		p := writeFile(t, d, "x.png", good)
		ds, err := Open("folder:"+d, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		_, bad, err := Validate(ds, false)
		if err == nil || len(bad) != 1 || bad[0].Path != p || !errors.Is(bad[0].Err, os.ErrNotExist) {
			t.Fatalf("err %v bad %v", err, bad)
		}
	})
}

func TestFolderResizeForBatching(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "wide.png", encodePNG(t, testRGB(40, 20)))
	writeFile(t, dir, "tall.jpg", encodeJPEG(t, testRGB(10, 30)))
	ds, err := Open("folder:"+dir, OpenOptions{Resize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := ds.Shape(); c != 3 || h != 8 || w != 8 {
		t.Fatalf("shape %d %d %d, want 3 8 8", c, h, w)
	}
	dst := NewImage(3, 8, 8)
	for i := 0; i < ds.Len(); i++ {
		img, err := ds.Image(i, dst)
		if err != nil {
			t.Fatal(err)
		}
		if img.C != 3 || img.H != 8 || img.W != 8 || &img.Pix[0] != &dst.Pix[0] {
			t.Fatalf("image %d: %dx%dx%d, reused dst %v", i, img.C, img.H, img.W, &img.Pix[0] == &dst.Pix[0])
		}
	}
}

func TestToRGBImageTypes(t *testing.T) {
	rect := image.Rect(2, 3, 4, 4) // non-zero origin: 2 wide, 1 high
	rgba := image.NewRGBA(rect)
	rgba.SetRGBA(2, 3, color.RGBA{255, 0, 51, 255})
	rgba.SetRGBA(3, 3, color.RGBA{50, 100, 0, 100}) // premultiplied at alpha 100
	g16 := image.NewGray16(rect)
	g16.SetGray16(2, 3, color.Gray16{0xffff})
	g16.SetGray16(3, 3, color.Gray16{0x8080})
	cmyk := image.NewCMYK(rect)
	cmyk.SetCMYK(2, 3, color.CMYK{0, 255, 255, 0}) // red
	cmyk.SetCMYK(3, 3, color.CMYK{0, 0, 0, 255})   // black
	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = 200
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = 128, 128
	}
	cases := []struct {
		name string
		img  image.Image
		want [6]float32 // R0 R1 G0 G1 B0 B1
	}{
		{"rgba unpremultiplies", rgba, [6]float32{1, 0.5, 0, 1, 0.2, 0}},
		{"gray16", g16, [6]float32{1, float32(0x8080) / 65535, 1, float32(0x8080) / 65535, 1, float32(0x8080) / 65535}},
		{"cmyk", cmyk, [6]float32{1, 0, 0, 0, 0, 0}},
		{"ycbcr grey", ycc, [6]float32{200. / 255, 200. / 255, 200. / 255, 200. / 255, 200. / 255, 200. / 255}},
	}
	for _, tc := range cases {
		dst := NewImage(3, 1, 2)
		toRGB(tc.img, dst)
		for i, w := range tc.want {
			if d := dst.Pix[i] - w; d > 1e-6 || d < -1e-6 {
				t.Errorf("%s: value %d = %v, want %v (all %v)", tc.name, i, dst.Pix[i], w, dst.Pix)
			}
		}
	}
}

func TestFolderFollowsSymlinks(t *testing.T) {
	real := t.TempDir()
	writeFile(t, real, "1.png", encodePNG(t, testRGB(2, 2)))
	dir := t.TempDir()
	if err := os.Symlink(real, filepath.Join(dir, "linked")); err != nil {
		t.Skip("no symlinks:", err)
	}
	writeFile(t, dir, "plain/2.png", encodePNG(t, testRGB(2, 2)))
	os.Symlink(filepath.Join(dir, "missing.png"), filepath.Join(dir, "plain", "dangling.png"))
	ds, err := Open("folder:"+dir, OpenOptions{Validate: true, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 2 || ds.Classes()[0] != "linked" || ds.Label(0) != 0 || ds.Label(1) != 1 {
		t.Errorf("len %d classes %v", ds.Len(), ds.Classes())
	}
}
