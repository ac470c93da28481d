package nn

import (
	"fmt"

	"selfsup/tensor"
)

// EMAUpdate moves every parameter of target towards the same-named one of
// source: t = m*t + (1-m)*s. It is the momentum update of MoCo's key
// encoder, BYOL's target and DINO's teacher (m = 0.99 to 0.9999), which, as
// in the papers' code, touches parameters only: batch-norm statistics of
// the target come from its own forward passes. Both modules must have the
// same architecture; target's parameters should be frozen
// (SetRequiresGrad(target, false)) since gradients never update them.
func EMAUpdate(target, source Module, m float32) error {
	tp, sp := StateOf(target).Params, StateOf(source).Params
	if len(tp) != len(sp) {
		return fmt.Errorf("nn.EMAUpdate: target has %d parameters, source %d", len(tp), len(sp))
	}
	for i, t := range tp {
		s := sp[i]
		if t.Name != s.Name || !tensor.SameShape(t.Var.Value.Shape(), s.Var.Value.Shape()) {
			return fmt.Errorf("nn.EMAUpdate: target %s%v does not match source %s%v", t.Name, t.Var.Value.Shape(), s.Name, s.Var.Value.Shape())
		}
		tensor.EMA(t.Var.Value.Data, s.Var.Value.Data, m)
	}
	return nil
}

// CopyWeights copies source's parameters and buffers into target (the
// initialisation of a momentum encoder or teacher).
func CopyWeights(target, source Module) error {
	ts, ss := StateDict("", target), StateDict("", source)
	if len(ts) != len(ss) {
		return fmt.Errorf("nn.CopyWeights: target has %d tensors, source %d", len(ts), len(ss))
	}
	for name, t := range ts {
		s, ok := ss[name]
		if !ok || !tensor.SameShape(t.Shape(), s.Shape()) {
			return fmt.Errorf("nn.CopyWeights: %s%v has no same-shaped counterpart in the source", name, t.Shape())
		}
		t.CopyFrom(s)
	}
	return nil
}
