package methods

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/nn"
	"selfsup/tensor"
)

// branch is an encoder followed by a head: the network a view goes through.
type branch struct {
	Enc  nn.Backbone
	Head *nn.MLP
}

// forward maps images to the head's output, freeing the features when no
// gradient is recorded.
func (b *branch) forward(x *autograd.Var) *autograd.Var {
	h := b.Enc.Forward(x)
	z := b.Head.Forward(h)
	h.Free()
	return z
}

func (b *branch) Collect(prefix string, s *nn.State) {
	b.Enc.Collect(prefix+"encoder.", s)
	b.Head.Collect(prefix+"projector.", s)
}

func (b *branch) SetTraining(on bool) {
	b.Enc.SetTraining(on)
	b.Head.SetTraining(on)
}

// newBranch builds the spec's backbone and a head of the given widths after
// it (the first width is the backbone's).
func newBranch(s Spec, head nn.MLPConfig, r *rand.Rand) (*branch, error) {
	enc, err := nn.NewBackbone(s.Backbone, r)
	if err != nil {
		return nil, err
	}
	head.Dims = append([]int{enc.OutDim()}, head.Dims...)
	h, err := nn.NewMLP(head, r)
	if err != nil {
		return nil, fmt.Errorf("%s head: %w", s.Method, err)
	}
	return &branch{Enc: enc, Head: h}, nil
}

// momentumCopy returns a frozen twin of online (same spec, built from its
// own random stream, then overwritten with online's weights): MoCo's key
// encoder, BYOL's target, DINO's teacher. Its parameters never receive
// gradients; nn.EMAUpdate moves them after each step.
func momentumCopy[T nn.Module](online T, build func() (T, error)) (T, error) {
	twin, err := build()
	if err != nil {
		return twin, err
	}
	if err := nn.CopyWeights(twin, online); err != nil {
		return twin, err
	}
	nn.SetRequiresGrad(twin, false)
	return twin, nil
}

// cosineMomentum is BYOL's / DINO's schedule for the target momentum: from
// base at the start of training to 1 at the end, along a half cosine.
func cosineMomentum(base, progress float64) float32 {
	return float32(1 - (1-base)*(math.Cos(math.Pi*progress)+1)/2)
}

// views2 concatenates two view tensors into one pool tensor owned by the
// tape (see autograd.Temp).
func views2(a, b *tensor.Tensor) *autograd.Var { return autograd.Temp(concatViews(a, b)) }

// halves splits a [2N, D] batch into its two views.
func halves(z *autograd.Var) (*autograd.Var, *autograd.Var) {
	n := z.Shape()[0] / 2
	p := autograd.Split(z, 0, n, n)
	return p[0], p[1]
}

// noGrad runs f without recording a graph and returns its tensor result,
// detached.
func noGrad(f func() *autograd.Var) *autograd.Var {
	var out *autograd.Var
	autograd.NoGrad(func() { out = f() })
	return autograd.Const(out.Value)
}

// targetForward runs the views, stacked into one batch, through a network
// that gets no gradient (a momentum target or teacher) and returns its
// output as a constant.
func targetForward(net *branch, views ...*tensor.Tensor) *autograd.Var {
	return noGrad(func() *autograd.Var {
		x := autograd.Temp(concatViews(views...))
		out := net.forward(x)
		x.Free()
		return out
	})
}

func checkPositive(method string, name string, v float64) error {
	if !(v > 0) {
		return fmt.Errorf("%s: %s = %v must be positive", method, name, v)
	}
	return nil
}
