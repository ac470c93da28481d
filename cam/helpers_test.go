package cam

import (
	"fmt"
	"math/rand/v2"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/tensor"
)

// blobs is a tiny labelled dataset: n single-channel size x size images,
// each black but for a bright square of side size/4 whose position is
// fixed by the image index; the label is i % 3.
type blobs struct{ n, size int }

func (b blobs) Name() string         { return fmt.Sprintf("blobs/%d", b.n) }
func (b blobs) Len() int             { return b.n }
func (b blobs) Classes() []string    { return []string{"a", "b", "c"} }
func (b blobs) Shape() (c, h, w int) { return 1, b.size, b.size }
func (b blobs) Label(i int) int      { return i % 3 }

// box is where the square of image i lies.
func (b blobs) box(i int) (x, y, side int) {
	side = b.size / 4
	span := b.size - side + 1
	return (i * 7) % span, (i * 3) % span, side
}

func (b blobs) Image(i int, dst data.Image) (data.Image, error) {
	if i < 0 || i >= b.n {
		return dst, fmt.Errorf("%s: image index %d out of range", b.Name(), i)
	}
	img := data.NewImage(1, b.size, b.size)
	x0, y0, s := b.box(i)
	for y := y0; y < y0+s; y++ {
		for x := x0; x < x0+s; x++ {
			img.Pix[y*b.size+x] = 0.3 + 0.3*float32(i%3)
		}
	}
	return img, nil
}

// randomProbe returns a linear classifier of k classes on d features with
// random weights and positive standard deviations.
func randomProbe(d, k int, seed uint64) *eval.LinearClassifier {
	r := rand.New(rand.NewPCG(seed, 5))
	lc := &eval.LinearClassifier{W: tensor.New(k, d), B: tensor.New(k), Mean: tensor.New(d), Std: tensor.New(d)}
	for i := range lc.W.Data {
		lc.W.Data[i] = float32(r.NormFloat64())
	}
	for i := range lc.B.Data {
		lc.B.Data[i] = float32(r.NormFloat64())
	}
	for i := range lc.Mean.Data {
		lc.Mean.Data[i] = float32(r.NormFloat64())
		lc.Std.Data[i] = 0.5 + float32(r.Float64())
	}
	return lc
}

// randomTensor fills a new tensor of the given shape with N(0, 1) values.
func randomTensor(seed uint64, shape ...int) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 6))
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}
