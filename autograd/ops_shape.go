package autograd

import (
	"selfsup/tensor"
)

// Reshape returns a with a new shape (one dimension may be -1). The value is
// a view of a's; the gradient is copied back.
func Reshape(a *Var, shape ...int) *Var {
	s, err := tensor.ResolveShape(a.Value.Len(), shape)
	if err != nil {
		panic(opErr("Reshape", "%v: input shape %v", err, a.Value.Shape()))
	}
	out := tensor.FromData(a.Value.Data, s...)
	return newResult("Reshape", out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			addOrCopy(dst.Data, res.Grad.Data, acc)
		}
	}).view(a)
}

// Flatten reshapes [N, ...] to [N, rest].
func Flatten(a *Var) *Var { return Reshape(a, a.Value.Dim(0), -1) }

// Detach returns a copy of a's value that is cut off from the graph
// (a stop-gradient), safe to keep after Backward frees a.
func Detach(a *Var) *Var { return Const(a.Value.Clone()) }

// Permute reorders the dimensions of a: output dimension i is input
// dimension perm[i].
func Permute(a *Var, perm ...int) *Var {
	shape := a.Value.Shape()
	if len(perm) != len(shape) {
		panic(opErr("Permute", "permutation %v for shape %v", perm, shape))
	}
	seen := make([]bool, len(perm))
	oshape := make([]int, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(shape) || seen[p] {
			panic(opErr("Permute", "%v is not a permutation of %d dimensions", perm, len(shape)))
		}
		seen[p] = true
		oshape[i] = shape[p]
	}
	out := tensor.Buffers.Get(oshape...)
	permuteCopy(a.Value.Data, shape, perm, out.Data, false)
	return newResult("Permute", out, []*Var{a}, func(res *Var) func() {
		return func() {
			inv := make([]int, len(perm))
			for i, p := range perm {
				inv[p] = i
			}
			dst, acc := a.gradDst()
			permuteCopy(res.Grad.Data, oshape, inv, dst.Data, acc)
		}
	})
}

// Transpose swaps the last two dimensions of a.
func Transpose(a *Var) *Var {
	n := a.Value.Dims()
	if n < 2 {
		panic(opErr("Transpose", "needs at least 2 dimensions, got %v", a.Value.Shape()))
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	perm[n-1], perm[n-2] = n-2, n-1
	return Permute(a, perm...)
}

// permuteCopy writes src (shape) permuted by perm into dst (or adds).
func permuteCopy(src []float32, shape, perm []int, dst []float32, acc bool) {
	nd := len(shape)
	if nd == 0 {
		addOrCopy(dst, src, acc)
		return
	}
	strides := tensor.Strides(shape)
	oshape := make([]int, nd)
	ostr := make([]int, nd) // stride in src for each output dim
	for i, p := range perm {
		oshape[i] = shape[p]
		ostr[i] = strides[p]
	}
	inner := oshape[nd-1]
	is := ostr[nd-1]
	total := len(dst)
	if total == 0 {
		return
	}
	idx := make([]int, nd)
	off := 0
	for o := 0; o < total; o += inner {
		row := dst[o : o+inner]
		if acc {
			for j := range row {
				row[j] += src[off+j*is]
			}
		} else {
			for j := range row {
				row[j] = src[off+j*is]
			}
		}
		for d := nd - 2; d >= 0; d-- {
			idx[d]++
			off += ostr[d]
			if idx[d] < oshape[d] {
				break
			}
			off -= ostr[d] * oshape[d]
			idx[d] = 0
		}
	}
}

// Concat joins vars along axis; all other dimensions must match.
func Concat(axis int, vs ...*Var) *Var {
	if len(vs) == 0 {
		panic(opErr("Concat", "nothing to concatenate"))
	}
	base := vs[0].Value.Shape()
	if axis < 0 {
		axis += len(base)
	}
	if axis < 0 || axis >= len(base) {
		panic(opErr("Concat", "axis %d out of range for shape %v", axis, base))
	}
	total := 0
	for _, v := range vs {
		s := v.Value.Shape()
		if len(s) != len(base) {
			panic(opErr("Concat", "shapes %v and %v differ in rank", base, s))
		}
		for d := range s {
			if d != axis && s[d] != base[d] {
				panic(opErr("Concat", "shapes %v and %v differ outside axis %d", base, s, axis))
			}
		}
		total += s[axis]
	}
	oshape := append([]int(nil), base...)
	oshape[axis] = total
	outer := tensor.Numel(base[:axis])
	inner := tensor.Numel(base[axis+1:])
	out := tensor.Buffers.Get(oshape...)
	off := 0
	for _, v := range vs {
		w := v.Value.Dim(axis) * inner
		for o := 0; o < outer; o++ {
			copy(out.Data[o*total*inner+off:o*total*inner+off+w], v.Value.Data[o*w:(o+1)*w])
		}
		off += w
	}
	return newResult("Concat", out, vs, func(res *Var) func() {
		return func() {
			off := 0
			for _, v := range vs {
				w := v.Value.Dim(axis) * inner
				if v.needsGrad() {
					dst, acc := v.gradDst()
					for o := 0; o < outer; o++ {
						addOrCopy(dst.Data[o*w:(o+1)*w], res.Grad.Data[o*total*inner+off:o*total*inner+off+w], acc)
					}
				}
				off += w
			}
		}
	})
}

// Narrow returns elements [start, start+length) of a along axis.
func Narrow(a *Var, axis, start, length int) *Var {
	shape := a.Value.Shape()
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) || start < 0 || length < 0 || start+length > shape[axis] {
		panic(opErr("Narrow", "[%d, %d) along axis %d out of range for shape %v", start, start+length, axis, shape))
	}
	outer := tensor.Numel(shape[:axis])
	inner := tensor.Numel(shape[axis+1:])
	n := shape[axis]
	oshape := append([]int(nil), shape...)
	oshape[axis] = length
	out := tensor.Buffers.Get(oshape...)
	w := length * inner
	for o := 0; o < outer; o++ {
		copy(out.Data[o*w:(o+1)*w], a.Value.Data[(o*n+start)*inner:(o*n+start)*inner+w])
	}
	return newResult("Narrow", out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			if !acc {
				clear(dst.Data)
			}
			for o := 0; o < outer; o++ {
				d := dst.Data[(o*n+start)*inner : (o*n+start)*inner+w]
				for j, v := range res.Grad.Data[o*w : (o+1)*w] {
					d[j] += v
				}
			}
		}
	})
}

// Split cuts a along axis into pieces of the given sizes, which must add up
// to the dimension.
func Split(a *Var, axis int, sizes ...int) []*Var {
	total := 0
	for _, s := range sizes {
		total += s
	}
	if total != a.Value.Dim(axis) {
		panic(opErr("Split", "sizes %v do not add up to dimension %d of %v", sizes, axis, a.Value.Shape()))
	}
	out := make([]*Var, len(sizes))
	start := 0
	for i, s := range sizes {
		out[i] = Narrow(a, axis, start, s)
		start += s
	}
	return out
}

// IndexSelect picks rows of a [N, ...] by index: out[i] = a[idx[i]].
// Repeated indices are allowed (their gradients add up).
func IndexSelect(a *Var, idx []int) *Var {
	n := a.Value.Dim(0)
	inner := a.Value.Len() / max(n, 1)
	for i, j := range idx {
		if j < 0 || j >= n {
			panic(opErr("IndexSelect", "index %d (position %d) out of range for %d rows", j, i, n))
		}
	}
	oshape := append([]int{len(idx)}, a.Value.Shape()[1:]...)
	out := tensor.Buffers.Get(oshape...)
	for i, j := range idx {
		copy(out.Data[i*inner:(i+1)*inner], a.Value.Data[j*inner:(j+1)*inner])
	}
	idx = append([]int(nil), idx...)
	return newResult("IndexSelect", out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			if !acc {
				clear(dst.Data)
			}
			for i, j := range idx {
				d := dst.Data[j*inner : (j+1)*inner]
				for k, v := range res.Grad.Data[i*inner : (i+1)*inner] {
					d[k] += v
				}
			}
		}
	})
}

// GatherTokens picks, for each batch element b, the tokens idx[b][0..K) of
// x [B, T, D], giving [B, K, D] (MAE keeps the visible patches this way).
func GatherTokens(x *Var, idx [][]int) *Var {
	checkDims("GatherTokens", "x", x, 3)
	b, t, d := x.Value.Dim(0), x.Value.Dim(1), x.Value.Dim(2)
	if len(idx) != b {
		panic(opErr("GatherTokens", "%d index rows for batch %d", len(idx), b))
	}
	k := len(idx[0])
	for bi, row := range idx {
		if len(row) != k {
			panic(opErr("GatherTokens", "index row %d has %d entries, row 0 has %d", bi, len(row), k))
		}
		for _, j := range row {
			if j < 0 || j >= t {
				panic(opErr("GatherTokens", "token index %d out of range for %d tokens", j, t))
			}
		}
	}
	out := tensor.Buffers.Get(b, k, d)
	for bi, row := range idx {
		for i, j := range row {
			copy(out.Data[(bi*k+i)*d:(bi*k+i+1)*d], x.Value.Data[(bi*t+j)*d:(bi*t+j+1)*d])
		}
	}
	return newResult("GatherTokens", out, []*Var{x}, func(res *Var) func() {
		return func() {
			dst, acc := x.gradDst()
			if !acc {
				clear(dst.Data)
			}
			for bi, row := range idx {
				for i, j := range row {
					dd := dst.Data[(bi*t+j)*d : (bi*t+j+1)*d]
					for c, v := range res.Grad.Data[(bi*k+i)*d : (bi*k+i+1)*d] {
						dd[c] += v
					}
				}
			}
		}
	})
}

// ScatterTokens is GatherTokens' inverse: it returns base [B, T, D] with
// row idx[b][i] replaced by src[b][i] for src [B, K, D]. Gradients flow to
// src at the scattered positions and to base everywhere else.
func ScatterTokens(base, src *Var, idx [][]int) *Var {
	checkDims("ScatterTokens", "base", base, 3)
	checkDims("ScatterTokens", "src", src, 3)
	b, t, d := base.Value.Dim(0), base.Value.Dim(1), base.Value.Dim(2)
	k := src.Value.Dim(1)
	if src.Value.Dim(0) != b || src.Value.Dim(2) != d || len(idx) != b {
		panic(opErr("ScatterTokens", "src %v, base %v, %d index rows", src.Value.Shape(), base.Value.Shape(), len(idx)))
	}
	seen := make([]int, t)
	for bi, row := range idx {
		if len(row) != k {
			panic(opErr("ScatterTokens", "index row of %d for %d source tokens", len(row), k))
		}
		for _, j := range row {
			if j < 0 || j >= t {
				panic(opErr("ScatterTokens", "token index %d out of range for %d tokens", j, t))
			}
			if seen[j] == bi+1 {
				panic(opErr("ScatterTokens", "token index %d repeated in row %d (indices must be distinct)", j, bi))
			}
			seen[j] = bi + 1
		}
	}
	out := tensor.Buffers.Get(b, t, d)
	copy(out.Data, base.Value.Data)
	for bi, row := range idx {
		for i, j := range row {
			copy(out.Data[(bi*t+j)*d:(bi*t+j+1)*d], src.Value.Data[(bi*k+i)*d:(bi*k+i+1)*d])
		}
	}
	return newResult("ScatterTokens", out, []*Var{base, src}, func(res *Var) func() {
		return func() {
			g := res.Grad.Data
			if base.needsGrad() {
				dst, acc := base.gradDst()
				tmp := tensor.Buffers.Get(b, t, d)
				copy(tmp.Data, g)
				for bi, row := range idx {
					for _, j := range row {
						clear(tmp.Data[(bi*t+j)*d : (bi*t+j+1)*d])
					}
				}
				addOrCopy(dst.Data, tmp.Data, acc)
				tensor.Buffers.Put(tmp)
			}
			if src.needsGrad() {
				dst, acc := src.gradDst()
				for bi, row := range idx {
					for i, j := range row {
						addOrCopy(dst.Data[(bi*k+i)*d:(bi*k+i+1)*d], g[(bi*t+j)*d:(bi*t+j+1)*d], acc)
					}
				}
			}
		}
	})
}
