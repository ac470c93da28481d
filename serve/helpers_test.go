package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"selfsup/checkpoint"
	"selfsup/data"
	"selfsup/embed"
	"selfsup/eval"
	"selfsup/index"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/serve"
	"selfsup/tensor"
)

// fixture is a small world to serve: an encoder, a folder of PNG files
// indexed by path, and a classifier telling bright from dark images.
type fixture struct {
	enc   *embed.Encoder
	ix    *index.Index
	clf   *embed.Classifier
	files []string // the indexed images
	pngs  [][]byte // their bytes
}

// digit draws a 28x28 gray image: a bright or dark background with a
// random rectangle, so images differ and have two classes.
func digit(r *rand.Rand, bright bool) image.Image {
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	bg := uint8(20 + r.IntN(40))
	if bright {
		bg = uint8(190 + r.IntN(40))
	}
	for i := range img.Pix {
		img.Pix[i] = bg
	}
	x0, y0 := r.IntN(14), r.IntN(14)
	fg := 255 - bg
	for y := y0; y < y0+10; y++ {
		for x := x0; x < x0+10; x++ {
			img.SetGray(x, y, color.Gray{fg})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	dir := t.TempDir()
	spec := methods.Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 28}}
	m, err := methods.Build(spec, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ck := &checkpoint.Checkpoint{Arch: spec.Backbone.Arch, Method: spec.Method, Model: nn.StateDict("", m)}
	ck.SetConfig(map[string]any{"spec": spec})
	ckDir := filepath.Join(dir, "ckpt")
	if err := checkpoint.Save(ckDir, ck); err != nil {
		t.Fatal(err)
	}
	f := &fixture{}
	if f.enc, err = embed.Load(ckDir); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < n; i++ {
		cls := []string{"dark", "bright"}[i%2]
		p := filepath.Join(dir, "imgs", cls, fmt.Sprintf("img %03d.png", i)) // a space, to exercise escaping
		os.MkdirAll(filepath.Dir(p), 0o755)
		b := encodePNG(t, digit(r, i%2 == 1))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		f.files, f.pngs = append(f.files, p), append(f.pngs, b)
	}
	ds, err := data.Open("folder:"+filepath.Join(dir, "imgs"), data.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := f.enc.Dim()
	ids := make([]string, ds.Len())
	x := tensor.New(ds.Len(), d)
	labels := make([]int, ds.Len())
	err = f.enc.EmbedDataset(context.Background(), ds, embed.DatasetConfig{}, func(b embed.Batch) error {
		for k, i := range b.Indices {
			ids[i] = data.ImagePath(ds, i)
			labels[i] = b.Labels[k]
			copy(x.Data[i*d:(i+1)*d], b.Vectors.Data[k*d:(k+1)*d])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.ix, err = index.Build(f.enc.ID(), d, ids, x.Data, index.Options{}); err != nil {
		t.Fatal(err)
	}
	probe, _, err := eval.TrainLinear(x, labels, 2, eval.LinearConfig{WeightDecay: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	f.clf = &embed.Classifier{Probe: probe, Info: embed.ClassifierInfo{EncoderID: f.enc.ID(), Classes: ds.Classes()}}
	return f
}

// start serves the fixture with cfg's limits and returns the test server.
func (f *fixture) start(t testing.TB, cfg serve.Config) (*serve.Server, *httptest.Server) {
	t.Helper()
	cfg.Encoder, cfg.Index = f.enc, f.ix
	s, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

// bigNoise is an image of random colour pixels (compresses badly).
func bigNoise(w, h int) image.Image {
	r := rand.New(rand.NewPCG(9, 9))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	return img
}

// bigBlank is a uniform image (a tiny file of many pixels).
func bigBlank(w, h int) image.Image { return image.NewGray(image.Rect(0, 0, w, h)) }
