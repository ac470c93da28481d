package autograd

import (
	"fmt"
	"math"
	"sync/atomic"

	"selfsup/tensor"
)

var visitEpoch atomic.Uint32

// Backward computes the gradient of the scalar v with respect to every leaf
// that requires one, accumulating into the leaves' Grad, then frees the
// graph (see the package comment). It returns an error when v is not finite,
// naming the value, so a diverging run stops with a readable message
// instead of filling the parameters with NaN.
func (v *Var) Backward() error {
	if v.Value.Len() != 1 {
		return fmt.Errorf("autograd: Backward needs a scalar, got shape %v (use BackwardWith)", v.Value.Shape())
	}
	if x := float64(v.Value.Data[0]); math.IsNaN(x) || math.IsInf(x, 0) {
		v.freeGraph()
		return fmt.Errorf("autograd: loss is %v (computed by %s); training diverged", x, v.op)
	}
	seed := tensor.Buffers.Get(v.Value.Shape()...)
	seed.Data[0] = 1
	return v.BackwardWith(seed)
}

// BackwardWith runs the backward pass from v seeded with grad (same shape as
// v), which it takes ownership of.
func (v *Var) BackwardWith(grad *tensor.Tensor) error {
	if !tensor.SameShape(grad.Shape(), v.Value.Shape()) {
		return fmt.Errorf("autograd: BackwardWith: gradient shape %v for value shape %v", grad.Shape(), v.Value.Shape())
	}
	if v.done {
		return fmt.Errorf("autograd: Backward called twice on the same %s result: the graph was freed by the first call", v.op)
	}
	if !v.requiresGrad {
		return fmt.Errorf("autograd: Backward on a value that depends on no parameter (op %q); was it computed under NoGrad or from frozen parameters only?", v.op)
	}
	v.done = true
	v.keepBases()
	if v.Grad != nil {
		tensor.Buffers.Put(v.Grad)
	}
	v.Grad = grad
	order := topoOrder(v)
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		if n.backward != nil && n.Grad != nil {
			n.backward()
		}
		n.release(n == v)
	}
	return nil
}

// freeGraph releases the graph under v without computing gradients.
func (v *Var) freeGraph() {
	order := topoOrder(v)
	for i := len(order) - 1; i >= 0; i-- {
		order[i].release(order[i] == v)
	}
}

// release frees what the node no longer needs once its backward has run.
func (n *Var) release(isRoot bool) {
	if n.leaf {
		if n.temp && n.Value != nil {
			tensor.Buffers.Put(n.Value)
			n.Value = nil
		}
		return
	}
	for _, s := range n.saved {
		tensor.Buffers.Put(s)
	}
	n.saved = nil
	n.parents = nil
	n.backward = nil
	if n.retain {
		return
	}
	if n.Grad != nil {
		tensor.Buffers.Put(n.Grad)
		n.Grad = nil
	}
	if !isRoot && n.ownsValue && !n.keepValue && n.Value != nil {
		tensor.Buffers.Put(n.Value)
		n.Value = nil
	}
}

// topoOrder returns the non-leaf-first topological order of the graph
// reachable from root (parents before children), iteratively so deep
// networks cannot overflow the stack.
func topoOrder(root *Var) []*Var {
	epoch := visitEpoch.Add(1)
	var order []*Var
	type frame struct {
		v    *Var
		next int
	}
	stack := []frame{{v: root}}
	root.visit = epoch
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next < len(top.v.parents) {
			p := top.v.parents[top.next]
			top.next++
			if p.visit != epoch && (p.backward != nil || p.leaf) {
				p.visit = epoch
				stack = append(stack, frame{v: p})
			}
			continue
		}
		order = append(order, top.v)
		stack = stack[:len(stack)-1]
	}
	return order
}
