package nn

import (
	"fmt"

	"selfsup/tensor"
)

// EMAUpdate moves every parameter and buffer of target towards the same-named
// one of source: t = m*t + (1-m)*s. It is the momentum update of MoCo's key
// encoder, BYOL's target and DINO's teacher (m = 0.99 to 0.9999). Both
// modules must have the same architecture; target's tensors are updated in
// place and need no gradient (freeze them with SetRequiresGrad(target,
// false)). Integer-valued buffers such as num_batches_tracked are copied.
func EMAUpdate(target, source Module, m float32) error {
	ts, ss := StateDict("", target), StateDict("", source)
	if len(ts) != len(ss) {
		return fmt.Errorf("nn.EMAUpdate: target has %d tensors, source %d", len(ts), len(ss))
	}
	for name, t := range ts {
		s, ok := ss[name]
		if !ok || !tensor.SameShape(t.Shape(), s.Shape()) {
			return fmt.Errorf("nn.EMAUpdate: %s%v has no same-shaped counterpart in the source", name, t.Shape())
		}
		if len(name) >= len("num_batches_tracked") && name[len(name)-len("num_batches_tracked"):] == "num_batches_tracked" {
			t.CopyFrom(s)
			continue
		}
		tensor.EMA(t.Data, s.Data, m)
	}
	return nil
}

// CopyWeights copies source's parameters and buffers into target (the
// initialisation of a momentum encoder).
func CopyWeights(target, source Module) error { return EMAUpdate(target, source, 0) }
