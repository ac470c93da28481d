package autograd

import (
	"fmt"
	"os"
	"sync/atomic"

	"selfsup/tensor"
)

// Var is a node of the computation graph: a tensor value and, once Backward
// has reached it, its gradient.
type Var struct {
	// Value is the forward result. Backward releases the values of
	// intermediate Vars (not leaves, not the root, not retained ones) and
	// sets Value to nil, so a stale read fails loudly.
	Value *tensor.Tensor
	// Grad is the gradient of the loss with respect to Value, or nil when
	// none has been computed (or it was released).
	Grad *tensor.Tensor
	// Name labels parameters (for errors, state dicts and optimizers).
	Name string

	requiresGrad bool
	leaf         bool
	retain       bool
	keepValue    bool // a retained view shares this value
	base         *Var // for views: the Var whose buffer Value shares
	done         bool // Backward has run from this root
	temp         bool
	ownsValue    bool
	op           string
	parents      []*Var
	backward     func()
	saved        []*tensor.Tensor // op-private buffers, released with the node
	visit        uint32
}

// Param returns a leaf Var whose gradient is accumulated by Backward: a
// trainable parameter.
func Param(t *tensor.Tensor, name string) *Var {
	return &Var{Value: t, Name: name, requiresGrad: true, leaf: true}
}

// Const returns a leaf Var that never receives a gradient (an input batch,
// a target, a frozen buffer).
func Const(t *tensor.Tensor) *Var { return &Var{Value: t, leaf: true} }

// Temp is Const for a buffer taken from tensor.Buffers for this step only:
// Backward returns it to the pool once no closure needs it (and Free does
// so under NoGrad).
func Temp(t *tensor.Tensor) *Var { return &Var{Value: t, leaf: true, temp: true, ownsValue: true} }

// RequiresGrad reports whether gradients flow into v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad freezes (false) or unfreezes (true) a leaf parameter.
func (v *Var) SetRequiresGrad(on bool) {
	if !v.leaf {
		panic(opErr("SetRequiresGrad", "only leaves (parameters) can be frozen; %s is computed by %s", v.describe(), v.op))
	}
	v.requiresGrad = on
}

// IsLeaf reports whether v was created by Param or Const rather than an op.
func (v *Var) IsLeaf() bool { return v.leaf }

// Op names the operation that produced v ("" for leaves).
func (v *Var) Op() string { return v.op }

// Retain keeps v's value and gradient alive through Backward (for reading
// embeddings or intermediate gradients afterwards). It returns v.
func (v *Var) Retain() *Var {
	v.retain = true
	v.keepBases()
	return v
}

// keepBases stops Backward from releasing the buffers v's value is a view
// of.
func (v *Var) keepBases() {
	for b := v.base; b != nil; b = b.base {
		b.keepValue = true
	}
}

// Shape is shorthand for v.Value.Shape().
func (v *Var) Shape() []int { return v.Value.Shape() }

// Item returns the value of a one-element Var.
func (v *Var) Item() float32 { return v.Value.Item() }

// ZeroGrad drops v's gradient (returning the buffer to the pool).
func (v *Var) ZeroGrad() {
	if v.Grad != nil {
		tensor.Buffers.Put(v.Grad)
		v.Grad = nil
	}
}

func (v *Var) describe() string {
	if v.Name != "" {
		return fmt.Sprintf("%q%v", v.Name, v.Value.Shape())
	}
	if v.Value == nil {
		return "released value"
	}
	return fmt.Sprintf("%v", v.Value.Shape())
}

// Free returns v's value buffer to the pool when no backward pass can need
// it: v was computed by an op without gradient tracking (under NoGrad, or
// from inputs that need no gradient). It does nothing otherwise, so layer
// code can call it unconditionally after a value's last use to keep
// evaluation memory to a few live activations.
func (v *Var) Free() {
	if v == nil || (v.leaf && !v.temp) || v.backward != nil || !v.ownsValue || v.retain || v.keepValue || v.Value == nil {
		return
	}
	tensor.Buffers.Put(v.Value)
	v.Value = nil
}

var noGradDepth atomic.Int32

// NoGrad runs f without recording a graph: ops compute values only. It is
// process-wide (the flag is shared by all goroutines), so don't train in one
// goroutine while another evaluates under NoGrad.
func NoGrad(f func()) {
	noGradDepth.Add(1)
	defer noGradDepth.Add(-1)
	f()
}

// GradEnabled reports whether ops currently record the graph.
func GradEnabled() bool { return noGradDepth.Load() == 0 }

var detectAnomaly = os.Getenv("SELFSUP_DETECT_ANOMALY") != ""

// SetDetectAnomaly turns on (or off) a check of every op's output for NaN
// and Inf, which panics with the name of the first op that produced one.
// It is slow; SELFSUP_DETECT_ANOMALY=1 turns it on at start-up.
func SetDetectAnomaly(on bool) { detectAnomaly = on }

// newResult wraps out, computed by op from inputs, in a Var. When any input
// needs a gradient and grad mode is on, the Var records its parents and the
// closure returned by mk (called only then, so ops skip saving state when no
// backward will run).
func newResult(op string, out *tensor.Tensor, inputs []*Var, mk func(res *Var) func()) *Var {
	res := &Var{Value: out, op: op, ownsValue: true}
	if detectAnomaly && out.HasNaNOrInf() {
		panic(opErr(op, "produced NaN or Inf (output shape %v)", out.Shape()))
	}
	if !GradEnabled() || mk == nil {
		return res
	}
	for _, in := range inputs {
		if in.requiresGrad {
			res.requiresGrad = true
			break
		}
	}
	if !res.requiresGrad {
		return res
	}
	res.parents = inputs
	res.backward = mk(res)
	// Inputs computed without a graph (a frozen stage's output) are not
	// released by Backward, but Free must not release them either: this
	// node's backward may read them.
	for _, in := range inputs {
		if in != nil && !in.leaf && in.backward == nil {
			in.keepValue = true
			in.keepBases()
		}
	}
	return res
}

// view marks v as sharing its value buffer with base, so Backward and Free
// never return that buffer to the pool through v, and keep base's buffer
// while v is retained.
func (v *Var) view(base *Var) *Var {
	v.ownsValue = false
	v.base = base
	return v
}

// save attaches op-private buffers to be released with the node.
func (v *Var) save(ts ...*tensor.Tensor) { v.saved = append(v.saved, ts...) }

// gradDst returns the buffer that v's gradient accumulates into and whether
// it already holds a gradient (accumulate) or must be overwritten (a fresh
// buffer with undefined contents). Ops use it to skip a zeroing pass for the
// common single-consumer case.
func (v *Var) gradDst() (g *tensor.Tensor, accumulate bool) {
	if v.Grad != nil {
		return v.Grad, true
	}
	v.Grad = tensor.Buffers.Get(v.Value.Shape()...)
	return v.Grad, false
}

// needsGrad reports whether backward should compute a gradient for v.
func (v *Var) needsGrad() bool { return v.requiresGrad }
