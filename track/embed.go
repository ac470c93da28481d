package track

import (
	"fmt"

	"selfsup/color"
	"selfsup/data"
	"selfsup/methods"
	"selfsup/tensor"
)

// Embedder maps a video's frames to per-pixel embeddings on a feature map:
// what the attention of Propagate compares.
type Embedder interface {
	Embed(frames []data.Image) (*Embedding, error)
}

// checkFrames verifies that frames are RGB images of one size and returns
// it.
func checkFrames(frames []data.Image) (h, w int, err error) {
	if len(frames) == 0 {
		return 0, 0, fmt.Errorf("track: a video without frames")
	}
	h, w = frames[0].H, frames[0].W
	for t, f := range frames {
		if f.C != 3 || f.H != h || f.W != w || len(f.Pix) != 3*h*w {
			return 0, 0, fmt.Errorf("track: frame %d is %dx%dx%d, not RGB %dx%d like the first", t, f.C, f.H, f.W, h, w)
		}
	}
	return h, w, nil
}

// Pixels embeds each cell of Stride x Stride pixels by its mean CIE Lab
// colour (divided by 100), compared by Euclidean distance: the raw-colour
// baseline, attention on what the pixels look like with nothing learned.
type Pixels struct {
	Stride int
}

// Embed implements Embedder.
func (p Pixels) Embed(frames []data.Image) (*Embedding, error) {
	h, w, err := checkFrames(frames)
	if err != nil {
		return nil, err
	}
	s := p.Stride
	if s < 1 || h%s != 0 || w%s != 0 {
		return nil, fmt.Errorf("track: pixel stride %d must be positive and divide the %dx%d frames", s, w, h)
	}
	gh, gw := h/s, w/s
	e := &Embedding{H: gh, W: gw, D: 3, Stride: s, Distance: true}
	lab := make([]float32, 3*h*w)
	plane := h * w
	inv := 1 / float32(100*s*s)
	for _, f := range frames {
		if err := color.RGBToLabPlanar(lab, f.Pix, plane); err != nil {
			return nil, err
		}
		rows := make([]float32, gh*gw*3)
		for y := range h {
			for x := range w {
				cell := (y/s)*gw + x/s
				for ch := range 3 {
					rows[cell*3+ch] += lab[ch*plane+y*w+x] * inv
				}
			}
		}
		e.Frames = append(e.Frames, rows)
	}
	return e, nil
}

// Model embeds frames with a video colorization model's pointer features
// (methods.VideoColor.Embed), compared by inner product as in training. It
// switches the model to evaluation mode (batch norm with running
// statistics).
type Model struct {
	M *methods.VideoColor
}

// embedBatch bounds the frames embedded at once.
const embedBatch = 16

// Embed implements Embedder.
func (m Model) Embed(frames []data.Image) (*Embedding, error) {
	h, w, err := checkFrames(frames)
	if err != nil {
		return nil, err
	}
	var e *Embedding
	plane := 3 * h * w
	for lo := 0; lo < len(frames); lo += embedBatch {
		hi := min(len(frames), lo+embedBatch)
		x := tensor.New(hi-lo, 3, h, w)
		for i, f := range frames[lo:hi] {
			copy(x.Data[i*plane:(i+1)*plane], f.Pix)
		}
		emb, gh, gw, err := m.M.Embed(x)
		if err != nil {
			return nil, err
		}
		if e == nil {
			e = &Embedding{H: gh, W: gw, D: emb.Dim(2), Stride: h / gh, Distance: false}
		}
		n := gh * gw * e.D
		for i := range hi - lo {
			e.Frames = append(e.Frames, append([]float32(nil), emb.Data[i*n:(i+1)*n]...))
		}
	}
	return e, nil
}
