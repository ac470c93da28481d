package embed_test

import (
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"selfsup/checkpoint"
	"selfsup/methods"
	"selfsup/nn"
)

// saveCheckpoint writes a random-init SimCLR checkpoint of a small ResNet
// for inCh-channel size x size images and returns its directory.
func saveCheckpoint(t testing.TB, dir string, inCh, size int, seed uint64) string {
	t.Helper()
	spec := methods.Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: inCh, ImageSize: size}}
	m, err := methods.Build(spec, rand.New(rand.NewPCG(seed, 7)))
	if err != nil {
		t.Fatal(err)
	}
	ck := &checkpoint.Checkpoint{Arch: spec.Backbone.Arch, Method: spec.Method, Step: 1, Model: nn.StateDict("", m)}
	if err := ck.SetConfig(map[string]any{"spec": spec}); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Save(dir, ck); err != nil {
		t.Fatal(err)
	}
	return dir
}

// randomImage returns a w x h image of smooth random colours (or gray).
func randomImage(r *rand.Rand, w, h int, gray bool) image.Image {
	if gray {
		img := image.NewGray(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = uint8(r.IntN(256))
		}
		return img
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(r.IntN(256)), uint8(y * 255 / h), 255})
		}
	}
	return img
}

// writePNG saves img at path.
func writePNG(t testing.TB, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// maxAbsDiff returns the largest |a_i - b_i|.
func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		d := float64(a[i] - b[i])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}
