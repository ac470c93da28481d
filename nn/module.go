package nn

import (
	"fmt"

	"selfsup/autograd"
	"selfsup/checkpoint"
	"selfsup/tensor"
)

// Module is a layer or a network of layers.
type Module interface {
	// Collect adds the module's parameters and buffers to s, their names
	// prefixed by prefix (which ends in "." unless empty).
	Collect(prefix string, s *State)
	// SetTraining switches training mode (batch statistics, dropout) on or
	// off, for the module and everything inside it.
	SetTraining(on bool)
}

// State lists a module's parameters and buffers by name.
type State struct {
	Params  []NamedParam
	Buffers []NamedTensor
	// BatchNorms lists the batch-norm layers met on the way, for code that
	// must reach their statistics (recalibration, freezing).
	BatchNorms []*BatchNorm
}

// VisitBatchNorms calls f for every batch-norm layer inside m.
func VisitBatchNorms(m Module, f func(*BatchNorm)) {
	for _, b := range StateOf(m).BatchNorms {
		f(b)
	}
}

// NamedParam is a parameter with its dotted name.
type NamedParam struct {
	Name string
	Var  *autograd.Var
}

// NamedTensor is a buffer (running statistics, a queue) with its name.
type NamedTensor struct {
	Name   string
	Tensor *tensor.Tensor
}

// Param adds a parameter; it also sets the Var's Name to its full name so
// errors and optimizers can report it.
func (s *State) Param(name string, v *autograd.Var) {
	if v == nil {
		return
	}
	v.Name = name
	s.Params = append(s.Params, NamedParam{name, v})
}

// Buffer adds a buffer.
func (s *State) Buffer(name string, t *tensor.Tensor) {
	if t != nil {
		s.Buffers = append(s.Buffers, NamedTensor{name, t})
	}
}

// StateOf collects m's state with no prefix.
func StateOf(m Module) *State {
	s := &State{}
	m.Collect("", s)
	return s
}

// Parameters returns m's trainable parameters in a stable order.
func Parameters(m Module) []*autograd.Var {
	s := StateOf(m)
	out := make([]*autograd.Var, 0, len(s.Params))
	for _, p := range s.Params {
		out = append(out, p.Var)
	}
	return out
}

// NumParams counts the scalar parameters of m.
func NumParams(m Module) int {
	n := 0
	for _, p := range StateOf(m).Params {
		n += p.Var.Value.Len()
	}
	return n
}

// StateDict returns every parameter and buffer of m by name (the tensors
// themselves, not copies), prefixed by prefix.
func StateDict(prefix string, m Module) map[string]*tensor.Tensor {
	s := &State{}
	m.Collect(prefix, s)
	out := make(map[string]*tensor.Tensor, len(s.Params)+len(s.Buffers))
	for _, p := range s.Params {
		out[p.Name] = p.Var.Value
	}
	for _, b := range s.Buffers {
		out[b.Name] = b.Tensor
	}
	return out
}

// LoadStateDict copies the tensors of src into m's parameters and buffers
// (whose names are prefixed by prefix), with checkpoint.Apply's rules: in
// strict mode names and shapes must match exactly; otherwise the shared
// names are copied and their shapes must agree. The error lists every
// problem.
func LoadStateDict(m Module, prefix string, src map[string]*tensor.Tensor, strict bool) error {
	return checkpoint.Apply(StateDict(prefix, m), src, strict)
}

// SetRequiresGrad freezes (false) or unfreezes (true) every parameter of m.
func SetRequiresGrad(m Module, on bool) {
	for _, p := range StateOf(m).Params {
		p.Var.SetRequiresGrad(on)
	}
}

// ZeroGrad drops the gradients of m's parameters.
func ZeroGrad(m Module) {
	for _, p := range StateOf(m).Params {
		p.Var.ZeroGrad()
	}
}

// Sequential applies layers in order.
type Sequential struct {
	Layers []Layer
}

// Layer is a Module with a single-input forward pass.
type Layer interface {
	Module
	Forward(x *autograd.Var) *autograd.Var
}

// Forward runs the layers in order, freeing intermediate values when no
// gradient is recorded.
func (s *Sequential) Forward(x *autograd.Var) *autograd.Var {
	for i, l := range s.Layers {
		y := l.Forward(x)
		if i > 0 && y != x {
			x.Free()
		}
		x = y
	}
	return x
}

// Collect implements Module; children are named by index.
func (s *Sequential) Collect(prefix string, st *State) {
	for i, l := range s.Layers {
		l.Collect(fmt.Sprintf("%s%d.", prefix, i), st)
	}
}

// SetTraining implements Module.
func (s *Sequential) SetTraining(on bool) {
	for _, l := range s.Layers {
		l.SetTraining(on)
	}
}

// ReLU is the rectifier as a Layer.
type ReLU struct{}

// Forward implements Layer.
func (ReLU) Forward(x *autograd.Var) *autograd.Var { return autograd.ReLU(x) }

// Collect implements Module (no state).
func (ReLU) Collect(string, *State) {}

// SetTraining implements Module (no mode).
func (ReLU) SetTraining(bool) {}

// GELU is the Gaussian error linear unit as a Layer.
type GELU struct{}

// Forward implements Layer.
func (GELU) Forward(x *autograd.Var) *autograd.Var { return autograd.GELU(x) }

// Collect implements Module (no state).
func (GELU) Collect(string, *State) {}

// SetTraining implements Module (no mode).
func (GELU) SetTraining(bool) {}
