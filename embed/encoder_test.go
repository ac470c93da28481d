package embed_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"selfsup/data"
	"selfsup/embed"
)

func TestLoadIDAndDim(t *testing.T) {
	dir := t.TempDir()
	a := saveCheckpoint(t, filepath.Join(dir, "a"), 1, 28, 1)
	b := saveCheckpoint(t, filepath.Join(dir, "b"), 1, 28, 2)
	c := saveCheckpoint(t, filepath.Join(dir, "c"), 3, 28, 1)
	ea, err := embed.Load(a)
	if err != nil {
		t.Fatal(err)
	}
	ea2, err := embed.Load(a)
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := embed.Load(b)
	ec, _ := embed.Load(c)
	if ea.ID() != ea2.ID() {
		t.Errorf("the same checkpoint gave IDs %s and %s", ea.ID(), ea2.ID())
	}
	if ea.ID() == eb.ID() || ea.ID() == ec.ID() {
		t.Errorf("different encoders share an ID: %s %s %s", ea.ID(), eb.ID(), ec.ID())
	}
	if len(ea.ID()) != 32 {
		t.Errorf("ID %q is not 32 hex digits", ea.ID())
	}
	if ea.Dim() != 256 {
		t.Errorf("Dim %d, want resnet-small's 256", ea.Dim())
	}
	if !strings.Contains(ea.String(), ea.ID()) || ea.Checkpoint() == "" || !filepath.IsAbs(ea.Checkpoint()) {
		t.Errorf("String %q, Checkpoint %q", ea.String(), ea.Checkpoint())
	}
	if _, err := embed.Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("Load of a missing directory succeeded")
	}
}

// An image embedded directly must get the embedding the same file gets
// when read from a folder dataset, for gray and colour models, images
// smaller and larger than the input, and colour and gray files.
func TestEmbedMatchesFolderDataset(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	root := t.TempDir()
	folder := filepath.Join(root, "imgs")
	var imgs []image.Image
	for i, sz := range [][2]int{{28, 28}, {40, 31}, {17, 23}, {64, 64}} {
		img := randomImage(r, sz[0], sz[1], i == 3)
		imgs = append(imgs, img)
		writePNG(t, filepath.Join(folder, fmt.Sprintf("img%d.png", i)), img)
	}
	for _, ch := range []int{1, 3} {
		t.Run(fmt.Sprintf("%dch", ch), func(t *testing.T) {
			enc, err := embed.Load(saveCheckpoint(t, filepath.Join(root, fmt.Sprint("ck", ch)), ch, 28, 5))
			if err != nil {
				t.Fatal(err)
			}
			ds, err := data.Open("folder:"+folder, data.OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]float32{}
			err = enc.EmbedDataset(context.Background(), ds, embed.DatasetConfig{BatchSize: 3}, func(b embed.Batch) error {
				for k, i := range b.Indices {
					got[filepath.Base(data.ImagePath(ds, i))] = append([]float32(nil), b.Vectors.Data[k*enc.Dim():(k+1)*enc.Dim()]...)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			batch, err := enc.EmbedBatch(imgs)
			if err != nil {
				t.Fatal(err)
			}
			for i, img := range imgs {
				// decode the file, as a server would
				raw, _ := os.ReadFile(filepath.Join(folder, fmt.Sprintf("img%d.png", i)))
				dec, err := embed.DecodeImage(raw, 0)
				if err != nil {
					t.Fatal(err)
				}
				one, err := enc.Embed(dec)
				if err != nil {
					t.Fatal(err)
				}
				want := got[fmt.Sprintf("img%d.png", i)]
				if len(one) != enc.Dim() || len(want) != enc.Dim() {
					t.Fatalf("image %d: lengths %d and %d", i, len(one), len(want))
				}
				if d := maxAbsDiff(one, want); d > 1e-4 {
					t.Errorf("image %d (%v): Embed and the folder dataset differ by %g", i, img.Bounds().Size(), d)
				}
				if d := maxAbsDiff(one, batch[i]); d > 1e-4 {
					t.Errorf("image %d: Embed and EmbedBatch differ by %g", i, d)
				}
			}
			if maxAbsDiff(batch[0], batch[1]) == 0 {
				t.Error("two different images got the same embedding")
			}
		})
	}
}

func TestEmbedConcurrent(t *testing.T) {
	enc, err := embed.Load(saveCheckpoint(t, t.TempDir(), 3, 28, 9))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	imgs := make([]image.Image, 8)
	want := make([][]float32, len(imgs))
	for i := range imgs {
		imgs[i] = randomImage(r, 20+i*5, 30, false)
		if want[i], err = enc.Embed(imgs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(imgs))
	for g := 0; g < 4; g++ {
		for i := range imgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := enc.Embed(imgs[i])
				if err == nil && maxAbsDiff(v, want[i]) > 1e-4 {
					err = fmt.Errorf("image %d: concurrent embedding differs by %g", i, maxAbsDiff(v, want[i]))
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestDecodeImage(t *testing.T) {
	var small, big bytes.Buffer
	png.Encode(&small, image.NewGray(image.Rect(0, 0, 10, 10)))
	png.Encode(&big, image.NewGray(image.Rect(0, 0, 2000, 1000)))
	for _, tc := range []struct {
		name      string
		in        []byte
		maxPixels int
		want      error
	}{
		{"png", small.Bytes(), 0, nil},
		{"text", []byte("hello, this is not an image"), 0, embed.ErrNotImage},
		{"empty", nil, 0, embed.ErrNotImage},
		{"truncated png", small.Bytes()[:40], 0, embed.ErrNotImage},
		{"too many pixels", big.Bytes(), 1_000_000, embed.ErrTooLarge},
		{"under the limit", big.Bytes(), 2_000_000, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := embed.DecodeImage(tc.in, tc.maxPixels)
			if tc.want == nil {
				if err != nil || img == nil {
					t.Fatalf("DecodeImage: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEmbedImagesChecksShape(t *testing.T) {
	enc, err := embed.Load(saveCheckpoint(t, t.TempDir(), 1, 28, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.EmbedImages([]data.Image{data.NewImage(3, 28, 28)}); err == nil || !strings.Contains(err.Error(), "1x28x28") {
		t.Errorf("a 3-channel input to a gray encoder: %v", err)
	}
	if _, err := enc.Embed(image.NewGray(image.Rect(0, 0, 0, 5))); err == nil {
		t.Error("an empty image was embedded")
	}
}
