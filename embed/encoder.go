package embed

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"path/filepath"
	"sort"
	"sync"

	"selfsup/autograd"
	"selfsup/data"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/tensor"
)

// DefaultBatchSize is how many images one forward pass takes when a caller
// hands over more (EmbedBatch, EmbedDataset).
const DefaultBatchSize = 256

// Encoder is a frozen image encoder ready to embed images: the backbone of
// a checkpoint in evaluation mode (batch norm with its running statistics),
// its input size and channel count, and an ID that identifies its weights.
// It is safe for concurrent use: preprocessing runs in the caller's
// goroutine, forward passes one at a time (each already uses every core).
type Encoder struct {
	mu  sync.Mutex // serialises forward passes and guards input
	enc nn.Backbone

	cfg    nn.BackboneConfig
	id     string
	dim    int
	dir    string
	method string
	step   int64

	input *tensor.Tensor // reused batch input
	pool  sync.Pool      // *scratch for Preprocess
}

// scratch holds one Preprocess call's intermediate images.
type scratch struct{ rgb, sized data.Image }

// Load reads the checkpoint in dir (a step directory, or a run directory
// whose newest checkpoint is taken) and returns its encoder.
func Load(dir string) (*Encoder, error) {
	m, ck, err := methods.Load(dir)
	if err != nil {
		return nil, err
	}
	spec, err := methods.SpecOf(ck)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(ck.Dir)
	if err != nil {
		abs = ck.Dir
	}
	e, err := New(m.Encoder(), spec.Backbone)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", ck.Dir, err)
	}
	e.dir, e.method, e.step = abs, ck.Method, ck.Step
	return e, nil
}

// New wraps a backbone built for cfg (for example a random-init baseline)
// as an Encoder. The backbone is switched to evaluation mode and must not
// be trained while the Encoder uses it.
func New(b nn.Backbone, cfg nn.BackboneConfig) (*Encoder, error) {
	if b == nil {
		return nil, errors.New("embed.New: nil backbone")
	}
	if cfg.InChannels != 1 && cfg.InChannels != 3 {
		return nil, fmt.Errorf("embed.New: backbone %s takes %d channels; only 1 (gray) and 3 (RGB) are supported", cfg.Arch, cfg.InChannels)
	}
	if cfg.ImageSize <= 0 {
		return nil, fmt.Errorf("embed.New: backbone %s has image size %d", cfg.Arch, cfg.ImageSize)
	}
	b.SetTraining(false)
	e := &Encoder{enc: b, cfg: cfg, dim: b.OutDim(), method: "none"}
	e.id = weightsID(cfg, nn.StateDict("", b))
	e.pool.New = func() any { return new(scratch) }
	return e, nil
}

// weightsID hashes the backbone configuration and every tensor of the
// encoder (parameters and batch-norm statistics, sorted by name, with their
// shapes) with SHA-256 and returns the first 128 bits in hex. Two encoders
// with the same ID compute the same function, so embeddings of one may be
// searched with queries of the other.
func weightsID(cfg nn.BackboneConfig, tensors map[string]*tensor.Tensor) string {
	h := sha256.New()
	cj, _ := json.Marshal(cfg)
	h.Write([]byte("selfsup-encoder/v1\x00"))
	h.Write(cj)
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf []byte
	for _, n := range names {
		t := tensors[n]
		buf = buf[:0]
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(n)))
		buf = append(buf, n...)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(t.Shape())))
		for _, d := range t.Shape() {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(d))
		}
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ID identifies the encoder's weights and architecture (32 hex digits).
// Indexes and classifiers record it and refuse an encoder with another ID.
func (e *Encoder) ID() string { return e.id }

// Dim is the length of an embedding.
func (e *Encoder) Dim() int { return e.dim }

// Config returns the backbone configuration: architecture, input channels
// and input size.
func (e *Encoder) Config() nn.BackboneConfig { return e.cfg }

// Checkpoint returns the absolute path of the checkpoint the encoder was
// loaded from ("" for New).
func (e *Encoder) Checkpoint() string { return e.dir }

// String describes the encoder in one line.
func (e *Encoder) String() string {
	src := "not from a checkpoint"
	if e.dir != "" {
		src = fmt.Sprintf("%s at step %d, %s", e.method, e.step, e.dir)
	}
	return fmt.Sprintf("%s (%d-channel %dx%d input, %d-d embedding, id %s; %s)",
		e.cfg.Arch, e.cfg.InChannels, e.cfg.ImageSize, e.cfg.ImageSize, e.dim, e.id, src)
}

// Transform returns the per-image step that adapts dataset images, already
// of the model's size, to its channel count (see Channels).
func (e *Encoder) Transform() augment.Transform { return Channels{C: e.cfg.InChannels} }

// Preprocess turns a decoded image into the model's input: converted to RGB
// floats in [0, 1] as image folders are read, its shorter side resized to
// the model's input size and centre-cropped (bilinear, the resampler of
// data.Resized), then converted to the model's channel count. The result
// lives in dst's storage when it is large enough. It runs in the caller's
// goroutine, so concurrent callers preprocess in parallel.
func (e *Encoder) Preprocess(img image.Image, dst data.Image) (data.Image, error) {
	if img == nil {
		return dst, errors.New("embed: nil image")
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return dst, fmt.Errorf("embed: empty image (%dx%d)", b.Dx(), b.Dy())
	}
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	s.rgb = data.FromImage(img, s.rgb)
	src := s.rgb
	if src.H != e.cfg.ImageSize || src.W != e.cfg.ImageSize {
		rs, err := data.Resized(singleImage{s.rgb}, e.cfg.ImageSize)
		if err != nil {
			return dst, err
		}
		if s.sized, err = rs.Image(0, s.sized); err != nil {
			return dst, err
		}
		src = s.sized
	}
	return Channels{C: e.cfg.InChannels}.Apply(dst, src, nil), nil
}

// Embed returns the embedding of one image (Dim values, not normalised).
func (e *Encoder) Embed(img image.Image) ([]float32, error) {
	x, err := e.Preprocess(img, data.Image{})
	if err != nil {
		return nil, err
	}
	out, err := e.EmbedImages([]data.Image{x})
	if err != nil {
		return nil, err
	}
	return out.Data, nil
}

// EmbedBatch embeds several images with batched forward passes and returns
// one embedding per image, in order.
func (e *Encoder) EmbedBatch(imgs []image.Image) ([][]float32, error) {
	xs := make([]data.Image, len(imgs))
	for i, img := range imgs {
		var err error
		if xs[i], err = e.Preprocess(img, data.Image{}); err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
	}
	out, err := e.EmbedImages(xs)
	if err != nil {
		return nil, err
	}
	res := make([][]float32, len(imgs))
	for i := range res {
		res[i] = out.Data[i*e.dim : (i+1)*e.dim : (i+1)*e.dim]
	}
	return res, nil
}

// EmbedImages runs the encoder on preprocessed images (each C x S x S for
// the model's channels C and size S) and returns their embeddings as an
// [N, Dim] tensor owned by the caller. Batches larger than
// DefaultBatchSize are split.
func (e *Encoder) EmbedImages(xs []data.Image) (*tensor.Tensor, error) {
	c, s := e.cfg.InChannels, e.cfg.ImageSize
	for i, x := range xs {
		if x.C != c || x.H != s || x.W != s || len(x.Pix) != c*s*s {
			return nil, fmt.Errorf("embed: image %d is %dx%dx%d, the encoder takes %dx%dx%d (use Preprocess)", i, x.C, x.H, x.W, c, s, s)
		}
	}
	out := tensor.New(len(xs), e.dim)
	for lo := 0; lo < len(xs); lo += DefaultBatchSize {
		hi := min(lo+DefaultBatchSize, len(xs))
		if err := e.forward(xs[lo:hi], out.Data[lo*e.dim:hi*e.dim]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// forward embeds one batch into dst under the lock.
func (e *Encoder) forward(xs []data.Image, dst []float32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, s := e.cfg.InChannels, e.cfg.ImageSize
	n, per := len(xs), c*s*s
	if e.input == nil || e.input.Dim(0) != n {
		if e.input != nil && cap(e.input.Data) >= n*per {
			e.input = tensor.FromData(e.input.Data[:n*per], n, c, s, s)
		} else {
			e.input = tensor.New(n, c, s, s)
		}
	}
	for i, x := range xs {
		copy(e.input.Data[i*per:(i+1)*per], x.Pix)
	}
	return e.run(e.input, dst)
}

// run is the forward pass of a prepared input batch, copying the features
// into dst. A failing op (OpError panic) becomes an error.
func (e *Encoder) run(x *tensor.Tensor, dst []float32) error {
	var f *tensor.Tensor
	err := autograd.Guard(func() error {
		autograd.NoGrad(func() { f = e.enc.Forward(autograd.Const(x)).Value })
		return nil
	})
	if err != nil {
		return fmt.Errorf("embed: forward pass: %w", err)
	}
	if f.Dims() != 2 || f.Dim(0) != x.Dim(0) || f.Dim(1) != e.dim {
		return fmt.Errorf("embed: the encoder returned shape %v, want [%d %d]", f.Shape(), x.Dim(0), e.dim)
	}
	copy(dst, f.Data)
	tensor.Buffers.Put(f)
	for i, v := range dst {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("embed: the encoder produced %v in embedding %d", v, i/e.dim)
		}
	}
	return nil
}

// DatasetConfig controls EmbedDataset.
type DatasetConfig struct {
	// BatchSize of the forward passes (0: DefaultBatchSize).
	BatchSize int
	// Workers decoding images (0: GOMAXPROCS).
	Workers int
}

// Batch is one batch of EmbedDataset's output.
type Batch struct {
	// Indices are the dataset indices of the rows, in dataset order.
	Indices []int
	// Labels are the dataset labels of the rows (-1: none).
	Labels []int
	// Vectors holds the embeddings, [len(Indices), Dim]. It is reused for
	// the next batch: copy what must outlive the callback.
	Vectors *tensor.Tensor
}

// EmbedDataset embeds every image of ds in dataset order and hands each
// batch to fn as soon as it is computed, so memory stays bounded whatever
// the dataset's size. Images are decoded by the loader's workers while the
// previous batch runs through the encoder. Images whose size differs from
// the model's input are resized (shorter side) and centre-cropped, and
// their channels converted, as Preprocess does. An error from fn stops the
// pass and is returned.
func (e *Encoder) EmbedDataset(ctx context.Context, ds data.Dataset, cfg DatasetConfig, fn func(Batch) error) error {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if _, h, w := ds.Shape(); h != e.cfg.ImageSize || w != e.cfg.ImageSize {
		var err error
		if ds, err = data.Resized(ds, e.cfg.ImageSize); err != nil {
			return err
		}
	}
	ld, err := loader.New(ds, loader.Config{BatchSize: cfg.BatchSize, Views: []augment.Transform{e.Transform()}, Workers: cfg.Workers})
	if err != nil {
		return fmt.Errorf("embed %s: %w", ds.Name(), err)
	}
	it := ld.Epoch(ctx, 0)
	defer it.Close()
	out := tensor.New(cfg.BatchSize, e.dim)
	for {
		b, err := it.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("embed %s: %w", ds.Name(), err)
		}
		n := b.Len()
		vecs := tensor.FromData(out.Data[:n*e.dim], n, e.dim)
		e.mu.Lock()
		err = e.run(b.Views[0], vecs.Data)
		e.mu.Unlock()
		if err != nil {
			return fmt.Errorf("embed %s: %w", ds.Name(), err)
		}
		err = fn(Batch{Indices: b.Indices, Labels: b.Labels, Vectors: vecs})
		ld.Release(b)
		if err != nil {
			return err
		}
	}
}

// Normalize scales v to unit L2 norm in place and reports false (leaving v
// unchanged) when its norm is zero.
func Normalize(v []float32) bool {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return false
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
	return true
}
