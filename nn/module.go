package nn

import (
	"fmt"
	"sort"
	"strings"

	"selfsup/autograd"
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
// (names prefixed by prefix). With strict, names of m missing from src are
// an error; names of src under prefix that m lacks are always an error, as
// are shape mismatches. The error lists every problem.
func LoadStateDict(m Module, prefix string, src map[string]*tensor.Tensor, strict bool) error {
	dst := StateDict(prefix, m)
	var missing, mismatch, unexpected []string
	for name, t := range dst {
		s, ok := src[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if !tensor.SameShape(s.Shape(), t.Shape()) {
			mismatch = append(mismatch, fmt.Sprintf("%s: %v in checkpoint, %v in model", name, s.Shape(), t.Shape()))
		}
	}
	for name := range src {
		if _, ok := dst[name]; !ok && strings.HasPrefix(name, prefix) {
			unexpected = append(unexpected, name)
		}
	}
	if len(mismatch) > 0 || len(unexpected) > 0 || (strict && len(missing) > 0) {
		sort.Strings(missing)
		sort.Strings(mismatch)
		sort.Strings(unexpected)
		var b strings.Builder
		b.WriteString("state dict does not fit the model")
		if len(mismatch) > 0 {
			fmt.Fprintf(&b, "; shape mismatch: %s", strings.Join(limit(mismatch, 5), "; "))
		}
		if strict && len(missing) > 0 {
			fmt.Fprintf(&b, "; missing: %s", strings.Join(limit(missing, 8), ", "))
		}
		if len(unexpected) > 0 {
			fmt.Fprintf(&b, "; unexpected: %s", strings.Join(limit(unexpected, 8), ", "))
		}
		return fmt.Errorf("%s", b.String())
	}
	for name, t := range dst {
		if s, ok := src[name]; ok {
			t.CopyFrom(s)
		}
	}
	return nil
}

func limit(xs []string, n int) []string {
	if len(xs) <= n {
		return xs
	}
	return append(xs[:n:n], fmt.Sprintf("... (%d more)", len(xs)-n))
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
