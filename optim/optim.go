// Package optim updates parameters from their gradients: SGD (momentum,
// Nesterov, weight decay), AdamW and LARS, with a linear-warmup + cosine
// learning-rate schedule and gradient-norm clipping. The update rules follow
// PyTorch (torch.optim.SGD, torch.optim.AdamW) and the LARS of SimCLR /
// solo-learn, so hyper-parameters from the papers carry over unchanged.
//
// Optimizer state (momentum buffers, Adam moments) is exposed by parameter
// name for checkpoints, so a resumed run continues exactly.
package optim

import (
	"fmt"
	"math"

	"selfsup/autograd"
	"selfsup/tensor"
)

// Optimizer applies one update to its parameters from their gradients.
type Optimizer interface {
	// Step updates every parameter that has a gradient.
	Step()
	// LR returns the current learning rate; SetLR changes it (schedules
	// call it before each step).
	LR() float64
	SetLR(lr float64)
	// State returns the optimizer's buffers by "param name.buffer name",
	// plus "step" (the update count).
	State() map[string]*tensor.Tensor
	// LoadState restores buffers saved by State.
	LoadState(map[string]*tensor.Tensor) error
}

// ExcludeFromDecay reports whether a parameter is a bias or a normalisation
// scale/shift (any parameter with fewer than two dimensions): the
// parameters that weight decay and LARS adaptation conventionally skip.
func ExcludeFromDecay(p *autograd.Var) bool { return p.Value.Dims() < 2 }

// ZeroGrad drops the gradients of params.
func ZeroGrad(params []*autograd.Var) {
	for _, p := range params {
		p.ZeroGrad()
	}
}

// ClipGradNorm scales the gradients of params so that their global L2 norm
// is at most maxNorm, and returns the norm before clipping (NaN or Inf when
// a gradient is not finite; then nothing is scaled).
func ClipGradNorm(params []*autograd.Var, maxNorm float64) float64 {
	var ss float64
	for _, p := range params {
		if p.Grad != nil {
			ss += sumSquares(p.Grad.Data)
		}
	}
	norm := math.Sqrt(ss)
	if math.IsNaN(norm) || math.IsInf(norm, 0) || norm <= maxNorm || maxNorm <= 0 {
		return norm
	}
	scale := float32(maxNorm / (norm + 1e-6))
	for _, p := range params {
		if p.Grad != nil {
			for i := range p.Grad.Data {
				p.Grad.Data[i] *= scale
			}
		}
	}
	return norm
}

func sumSquares(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

// buffers keeps one named state tensor per parameter, shaped like the
// parameter or (scalar) holding one number.
type buffers struct {
	suffix string
	scalar bool
	m      map[*autograd.Var]*tensor.Tensor
}

func newBuffers(suffix string) buffers {
	return buffers{suffix: suffix, m: map[*autograd.Var]*tensor.Tensor{}}
}

func newScalarBuffers(suffix string) buffers {
	return buffers{suffix: suffix, scalar: true, m: map[*autograd.Var]*tensor.Tensor{}}
}

func (b buffers) shape(p *autograd.Var) []int {
	if b.scalar {
		return []int{}
	}
	return p.Value.Shape()
}

func (b buffers) get(p *autograd.Var) (*tensor.Tensor, bool) {
	t, ok := b.m[p]
	if !ok {
		t = tensor.New(b.shape(p)...)
		b.m[p] = t
	}
	return t, ok
}

func (b buffers) export(params []*autograd.Var, out map[string]*tensor.Tensor) {
	for _, p := range params {
		if t, ok := b.m[p]; ok {
			out[p.Name+"."+b.suffix] = t
		}
	}
}

func (b buffers) load(params []*autograd.Var, in map[string]*tensor.Tensor) error {
	for _, p := range params {
		t, ok := in[p.Name+"."+b.suffix]
		if !ok {
			continue
		}
		if !tensor.SameShape(t.Shape(), b.shape(p)) {
			return fmt.Errorf("optimizer state %s.%s: shape %v, want %v", p.Name, b.suffix, t.Shape(), b.shape(p))
		}
		b.m[p] = t.Clone()
	}
	return nil
}

func checkNames(params []*autograd.Var) {
	seen := map[string]bool{}
	for _, p := range params {
		if p.Name == "" || seen[p.Name] {
			panic(fmt.Sprintf("optim: parameters need distinct names for their state (got %q twice or empty); collect them with nn.Parameters", p.Name))
		}
		seen[p.Name] = true
	}
}

func stepTensor(n int64) *tensor.Tensor { return tensor.FromData([]float32{float32(n)}, 1) }

func loadStep(in map[string]*tensor.Tensor) int64 {
	if t, ok := in["step"]; ok && t.Len() == 1 {
		return int64(t.Data[0])
	}
	return 0
}
