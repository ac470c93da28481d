package methods

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/nn"
	"selfsup/tensor"
)

// This file holds the spatial plumbing shared by the methods that predict
// images or maps from the backbone's feature map (inpainting, split-brain):
// the last feature map of any backbone, a differentiable resize by constant
// interpolation matrices, and a channel-wise fully connected layer.

// backboneMap runs the whole backbone and returns its last feature map
// [N, C, h, w]. A ResNet's last stage output is returned as is; a ViT's
// token sequence [N, 1+T, D] is normalised by the ViT's final norm, its CLS
// token dropped, and the patch tokens laid out on their square grid as
// [N, D, g, g].
func backboneMap(enc nn.Backbone, x *autograd.Var) *autograd.Var {
	maps := enc.ForwardStages(x, enc.NumStages(), false)
	m := maps[len(maps)-1]
	if m.Value.Dims() == 4 {
		return m
	}
	if m.Value.Dims() != 3 {
		panic(&autograd.OpError{Op: "backboneMap", Msg: fmt.Sprintf("backbone output %v is neither a map [N, C, H, W] nor tokens [N, T, D]", m.Shape())})
	}
	if v, ok := enc.(*nn.ViT); ok {
		n := v.Norm.Forward(m)
		m.Free()
		m = n
	}
	s := m.Shape()
	t := s[1] - 1
	g := int(math.Round(math.Sqrt(float64(t))))
	if g*g != t {
		panic(&autograd.OpError{Op: "backboneMap", Msg: fmt.Sprintf("%d patch tokens (after the CLS token) do not form a square grid", t)})
	}
	p := autograd.Narrow(m, 1, 1, t)
	m.Free()
	q := autograd.Permute(p, 0, 2, 1) // [N, D, T]
	p.Free()
	return autograd.Reshape(q, s[0], s[2], g, g)
}

// backboneMapShape returns the channels and spatial size of enc's last feature map
// for c-channel images of side size, by running one blank image through it
// in evaluation mode (so no batch-norm statistic moves) without gradients.
// The backbone is left in training mode.
func backboneMapShape(enc nn.Backbone, c, size int) (ch, h, w int, err error) {
	err = autograd.Guard(func() error {
		enc.SetTraining(false)
		defer enc.SetTraining(true)
		autograd.NoGrad(func() {
			x := autograd.Const(tensor.New(1, c, size, size))
			f := backboneMap(enc, x)
			s := f.Shape()
			ch, h, w = s[1], s[2], s[3]
			f.Free()
		})
		return nil
	})
	return ch, h, w, err
}

// resizeMatrix returns the [out, in] matrix that resamples a line of in
// samples to out samples: bilinear interpolation with half-pixel centres
// (PyTorch's align_corners=False) when enlarging, adaptive average pooling
// (PyTorch's adaptive_avg_pool bins) when shrinking, the identity when the
// sizes agree.
func resizeMatrix(in, out int) *tensor.Tensor {
	m := tensor.New(out, in)
	switch {
	case out == in:
		for i := 0; i < in; i++ {
			m.Data[i*in+i] = 1
		}
	case out > in:
		scale := float64(in) / float64(out)
		for i := 0; i < out; i++ {
			src := math.Max((float64(i)+0.5)*scale-0.5, 0)
			i0 := int(src)
			if i0 > in-1 {
				i0 = in - 1
			}
			i1 := min(i0+1, in-1)
			f := float32(src - float64(i0))
			m.Data[i*in+i0] += 1 - f
			m.Data[i*in+i1] += f
		}
	default:
		for i := 0; i < out; i++ {
			lo := i * in / out
			hi := ((i+1)*in + out - 1) / out
			for j := lo; j < hi; j++ {
				m.Data[i*in+j] = 1 / float32(hi-lo)
			}
		}
	}
	return m
}

// resizer resamples maps [N, C, h, w] to [N, C, H, W] with two constant
// interpolation matrices (one per axis), through autograd.MatMul, so the
// gradient flows back to the input. It is the decoders' upsampling (there is
// no transposed convolution) and the split-brain targets' downsampling.
type resizer struct {
	h, w, outH, outW int
	rh, rw           *autograd.Var // [H, h], [W, w]
}

// newResizer builds the resampler from h x w to outH x outW.
func newResizer(h, w, outH, outW int) *resizer {
	return &resizer{h: h, w: w, outH: outH, outW: outW,
		rh: autograd.Const(resizeMatrix(h, outH)), rw: autograd.Const(resizeMatrix(w, outW))}
}

// forward resamples x [N, C, h, w].
func (z *resizer) forward(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	if len(s) != 4 || s[2] != z.h || s[3] != z.w {
		panic(&autograd.OpError{Op: "resize", Msg: fmt.Sprintf("input %v is not [N, C, %d, %d]", s, z.h, z.w)})
	}
	nc := s[0] * s[1]
	a := autograd.Reshape(x, nc*z.h, z.w)
	b := autograd.MatMul(a, z.rw, false, true) // [N*C*h, W]
	c := autograd.Reshape(b, nc, z.h, z.outW)
	d := autograd.Permute(c, 0, 2, 1) // [N*C, W, h]
	b.Free()
	e := autograd.Reshape(d, nc*z.outW, z.h)
	f := autograd.MatMul(e, z.rh, false, true) // [N*C*W, H]
	d.Free()
	g := autograd.Reshape(f, nc, z.outW, z.outH)
	out := autograd.Permute(g, 0, 2, 1) // [N*C, H, W]
	f.Free()
	return autograd.Reshape(out, s[0], s[1], z.outH, z.outW)
}

// channelFC is the context encoder's channel-wise fully connected layer:
// each channel's h*w map goes through its own dense layer (no mixing between
// channels), so information can travel across the whole spatial extent
// cheaply (Pathak et al. 2016, section 3.1). Weight [C, hw, hw] plus a bias
// [C, 1, hw].
type channelFC struct {
	Weight, Bias *autograd.Var
}

func newChannelFC(c, hw int, r *rand.Rand) *channelFC {
	l := &channelFC{Weight: autograd.Param(tensor.New(c, hw, hw), "weight"), Bias: autograd.Param(tensor.New(c, 1, hw), "bias")}
	bound := 1 / math.Sqrt(float64(hw))
	for _, t := range []*tensor.Tensor{l.Weight.Value, l.Bias.Value} {
		for i := range t.Data {
			t.Data[i] = float32((2*r.Float64() - 1) * bound)
		}
	}
	return l
}

// forward maps x [N, C, h, w] to [N, C, h, w].
func (l *channelFC) forward(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	hw := s[2] * s[3]
	a := autograd.Reshape(x, s[0], s[1], hw)
	b := autograd.Permute(a, 1, 0, 2)              // [C, N, hw]
	c := autograd.MatMul(b, l.Weight, false, true) // [C, N, hw]: row n of channel c times W_c^T
	b.Free()
	d := autograd.Add(c, l.Bias)
	c.Free()
	e := autograd.Permute(d, 1, 0, 2) // [N, C, hw]
	d.Free()
	return autograd.Reshape(e, s[0], s[1], s[2], s[3])
}

func (l *channelFC) Collect(prefix string, s *nn.State) {
	s.Param(prefix+"weight", l.Weight)
	s.Param(prefix+"bias", l.Bias)
}

func (l *channelFC) SetTraining(bool) {}

// newOutputConv returns a k x k convolution with bias and PyTorch's default
// initialisation, U(+-1/sqrt(fan_in)) for weight and bias, for layers that
// emit predictions directly (no batch norm after them): nn.NewConv2d's
// Kaiming fan-out initialisation, right before a batch norm, would start
// such a layer with outputs many times larger than its targets.
func newOutputConv(in, out, k, stride int, r *rand.Rand) *nn.Conv2d {
	c := nn.NewConv2d(in, out, k, stride, k/2, true, r)
	bound := 1 / math.Sqrt(float64(in*k*k))
	nn.Uniform(c.Weight.Value, bound, r)
	nn.Uniform(c.Bias.Value, bound, r)
	return c
}
