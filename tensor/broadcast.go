package tensor

import "fmt"

// BinaryOp selects the arithmetic of Broadcast.Binary.
type BinaryOp int

// The binary operations.
const (
	Add BinaryOp = iota
	Sub
	Mul
	Div
)

// Broadcast is the iteration plan for an elementwise operation on two
// shapes under NumPy broadcasting rules. Adjacent dimensions with the same
// broadcast pattern are merged, so the common cases (same shape, a bias over
// rows, a per-channel scale over NCHW) run as one or two tight loops.
type Broadcast struct {
	// Out is the broadcast result shape.
	Out    []int
	dims   []int
	sa, sb []int
	n      int
}

// NewBroadcast plans a op b for operands of shapes a and b.
func NewBroadcast(a, b []int) (*Broadcast, error) {
	nd := max(len(a), len(b))
	out := make([]int, nd)
	pa := make([]int, nd)
	pb := make([]int, nd)
	for i := 0; i < nd; i++ {
		da, db := 1, 1
		if j := i - (nd - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (nd - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, fmt.Errorf("shapes %v and %v cannot be broadcast (dimension %d: %d vs %d)", a, b, i, da, db)
		}
		pa[i], pb[i] = da, db
	}
	p := &Broadcast{Out: out, n: Numel(out)}
	// strides of each operand over the full dims, 0 where broadcast
	sa := make([]int, nd)
	sb := make([]int, nd)
	accA, accB := 1, 1
	for i := nd - 1; i >= 0; i-- {
		if pa[i] != 1 || out[i] == 1 {
			sa[i] = accA
		}
		if pb[i] != 1 || out[i] == 1 {
			sb[i] = accB
		}
		if pa[i] == 1 && out[i] != 1 {
			sa[i] = 0
		}
		if pb[i] == 1 && out[i] != 1 {
			sb[i] = 0
		}
		accA *= pa[i]
		accB *= pb[i]
	}
	// merge dims (dropping size-1 dims) where both operands keep contiguity
	for i := 0; i < nd; i++ {
		if out[i] == 1 {
			continue
		}
		k := len(p.dims) - 1
		if k >= 0 && mergeable(p.sa[k], sa[i], out[i]) && mergeable(p.sb[k], sb[i], out[i]) {
			p.dims[k] *= out[i]
			p.sa[k], p.sb[k] = sa[i], sb[i]
			continue
		}
		p.dims = append(p.dims, out[i])
		p.sa = append(p.sa, sa[i])
		p.sb = append(p.sb, sb[i])
	}
	if len(p.dims) == 0 {
		p.dims, p.sa, p.sb = []int{1}, []int{0}, []int{0}
	}
	return p, nil
}

// mergeable: an outer dim with stride outer can fold into an inner dim of
// size n and stride inner when outer == inner*n (contiguous) or both are 0.
func mergeable(outer, inner, n int) bool {
	return (outer == 0 && inner == 0) || (inner != 0 && outer == inner*n)
}

// Len is the number of output elements.
func (p *Broadcast) Len() int { return p.n }

// Binary computes out = a op b (or out += a op b when accumulate), where out
// has shape p.Out and a, b have the shapes the plan was made for.
func (p *Broadcast) Binary(op BinaryOp, out, a, b []float32, accumulate bool) {
	p.each(func(o, ia, ib, n, sa, sb int) {
		binaryInner(op, accumulate, out[o:o+n], a[ia:], sa, b[ib:], sb)
	})
}

// ReduceInto sums src (shape p.Out) into dst, where dst has the shape of the
// plan's first operand: dimensions broadcast in dst are summed over. With
// accumulate false dst is overwritten. This is the backward of broadcasting.
func (p *Broadcast) ReduceInto(dst, src []float32, accumulate bool) {
	if !accumulate {
		clear(dst)
	}
	p.each(func(o, ia, _, n, sa, _ int) {
		s := src[o : o+n]
		if sa == 0 {
			var acc float32
			for _, v := range s {
				acc += v
			}
			dst[ia] += acc
			return
		}
		d := dst[ia : ia+n]
		for j, v := range s {
			d[j] += v
		}
	})
}

// each walks the plan: for every run of the innermost dim it calls fn with
// the output offset, the operand offsets, the run length and the inner
// strides.
func (p *Broadcast) each(fn func(o, ia, ib, n, sa, sb int)) {
	k := len(p.dims) - 1
	inner := p.dims[k]
	isa, isb := p.sa[k], p.sb[k]
	if k == 0 {
		fn(0, 0, 0, inner, isa, isb)
		return
	}
	var idx [16]int
	if k > len(idx) {
		panic("tensor: broadcast over more than 16 merged dimensions")
	}
	ia, ib := 0, 0
	for o := 0; o < p.n; o += inner {
		fn(o, ia, ib, inner, isa, isb)
		for d := k - 1; d >= 0; d-- {
			idx[d]++
			ia += p.sa[d]
			ib += p.sb[d]
			if idx[d] < p.dims[d] {
				break
			}
			ia -= p.sa[d] * p.dims[d]
			ib -= p.sb[d] * p.dims[d]
			idx[d] = 0
		}
	}
}

func binaryInner(op BinaryOp, acc bool, out, a []float32, sa int, b []float32, sb int) {
	n := len(out)
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case Add:
			if acc {
				for i := range out {
					out[i] += a[i] + b[i]
				}
			} else {
				for i := range out {
					out[i] = a[i] + b[i]
				}
			}
		case Sub:
			if acc {
				for i := range out {
					out[i] += a[i] - b[i]
				}
			} else {
				for i := range out {
					out[i] = a[i] - b[i]
				}
			}
		case Mul:
			if acc {
				for i := range out {
					out[i] += a[i] * b[i]
				}
			} else {
				for i := range out {
					out[i] = a[i] * b[i]
				}
			}
		case Div:
			if acc {
				for i := range out {
					out[i] += a[i] / b[i]
				}
			} else {
				for i := range out {
					out[i] = a[i] / b[i]
				}
			}
		}
	case sa == 1 && sb == 0:
		a = a[:n]
		y := b[0]
		switch op {
		case Add:
			scalarLoop(out, a, y, 1, acc)
		case Sub:
			scalarLoop(out, a, -y, 1, acc)
		case Mul:
			scalarLoop(out, a, 0, y, acc)
		case Div:
			scalarLoop(out, a, 0, 1/y, acc)
		}
	case sa == 0 && sb == 1:
		x := a[0]
		b = b[:n]
		switch op {
		case Add:
			scalarLoop(out, b, x, 1, acc)
		case Sub:
			scalarLoop(out, b, x, -1, acc)
		case Mul:
			scalarLoop(out, b, 0, x, acc)
		case Div:
			for i := range out {
				v := x / b[i]
				if acc {
					out[i] += v
				} else {
					out[i] = v
				}
			}
		}
	default: // both broadcast along this run: a constant
		var v float32
		x, y := a[0], b[0]
		switch op {
		case Add:
			v = x + y
		case Sub:
			v = x - y
		case Mul:
			v = x * y
		case Div:
			v = x / y
		}
		for i := range out {
			if acc {
				out[i] += v
			} else {
				out[i] = v
			}
		}
	}
}

// scalarLoop computes out = add + mul*x (or adds it to out).
func scalarLoop(out, x []float32, add, mul float32, acc bool) {
	x = x[:len(out)]
	if acc {
		for i := range out {
			out[i] += add + mul*x[i]
		}
		return
	}
	for i := range out {
		out[i] = add + mul*x[i]
	}
}
