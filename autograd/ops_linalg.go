package autograd

import (
	"selfsup/tensor"
)

// Linear returns x W^T + b for x [..., in], W [out, in], b [out] (b may be
// nil): PyTorch's nn.Linear. Leading dimensions of x are flattened.
func Linear(x, w, b *Var) *Var {
	xs := x.Value.Shape()
	if len(xs) < 1 || w.Value.Dims() != 2 || xs[len(xs)-1] != w.Value.Dim(1) {
		panic(opErr("Linear", "input %v does not match weight %v (want [..., %d])", xs, w.Value.Shape(), w.Value.Dim(-1)))
	}
	in, outF := w.Value.Dim(1), w.Value.Dim(0)
	if b != nil && (b.Value.Dims() != 1 || b.Value.Dim(0) != outF) {
		panic(opErr("Linear", "bias %v does not match weight %v", b.Value.Shape(), w.Value.Shape()))
	}
	rows := x.Value.Len() / in
	oshape := append(append([]int(nil), xs[:len(xs)-1]...), outF)
	out := tensor.Buffers.Get(oshape...)
	if b != nil {
		for r := 0; r < rows; r++ {
			copy(out.Data[r*outF:(r+1)*outF], b.Value.Data)
		}
	}
	beta := float32(0)
	if b != nil {
		beta = 1
	}
	tensor.Gemm(false, true, rows, outF, in, 1, x.Value.Data, in, w.Value.Data, in, beta, out.Data, outF)
	inputs := []*Var{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	return newResult("Linear", out, inputs, func(res *Var) func() {
		return func() {
			g := res.Grad.Data
			if x.needsGrad() {
				dst, acc := x.gradDst()
				tensor.Gemm(false, false, rows, in, outF, 1, g, outF, w.Value.Data, in, betaOf(acc), dst.Data, in)
			}
			if w.needsGrad() {
				dst, acc := w.gradDst()
				tensor.Gemm(true, false, outF, in, rows, 1, g, outF, x.Value.Data, in, betaOf(acc), dst.Data, in)
			}
			if b != nil && b.needsGrad() {
				dst, acc := b.gradDst()
				colSums(g, rows, outF, dst.Data, acc)
			}
		}
	})
}

func betaOf(acc bool) float32 {
	if acc {
		return 1
	}
	return 0
}

// colSums writes (or adds) the column sums of m [rows, cols] into dst.
func colSums(m []float32, rows, cols int, dst []float32, acc bool) {
	if !acc {
		clear(dst[:cols])
	}
	tensor.ParallelFor(cols, 256, func(_, lo, hi int) {
		d := dst[lo:hi]
		for r := 0; r < rows; r++ {
			row := m[r*cols+lo : r*cols+hi]
			for j, v := range row {
				d[j] += v
			}
		}
	})
}

// MatMul returns op(a) op(b) for 2-D a and b, or batched over the first
// dimension for 3-D a and b ([B, M, K] x [B, K, N]); transA and transB
// transpose the last two dimensions of a and b.
func MatMul(a, b *Var, transA, transB bool) *Var {
	as, bs := a.Value.Shape(), b.Value.Shape()
	if len(as) != len(bs) || (len(as) != 2 && len(as) != 3) {
		panic(opErr("MatMul", "operands %v and %v must both be 2-D or both 3-D", as, bs))
	}
	batch := 1
	if len(as) == 3 {
		if as[0] != bs[0] {
			panic(opErr("MatMul", "batch sizes differ: %v and %v", as, bs))
		}
		batch = as[0]
	}
	ar, ac := as[len(as)-2], as[len(as)-1]
	br, bc := bs[len(bs)-2], bs[len(bs)-1]
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	k2, n := br, bc
	if transB {
		k2, n = bc, br
	}
	if k != k2 {
		panic(opErr("MatMul", "inner dimensions differ: %v (trans %v) x %v (trans %v)", as, transA, bs, transB))
	}
	oshape := []int{m, n}
	if batch > 1 || len(as) == 3 {
		oshape = []int{batch, m, n}
	}
	out := tensor.Buffers.Get(oshape...)
	batchedGemm(batch, transA, transB, m, n, k, a.Value.Data, ac, ar*ac, b.Value.Data, bc, br*bc, out.Data, n, m*n, false)
	return newResult("MatMul", out, []*Var{a, b}, func(res *Var) func() {
		return func() {
			g := res.Grad.Data
			if a.needsGrad() {
				dst, acc := a.gradDst()
				// dA = dC op(B)^T, or its transpose when A was transposed
				if !transA {
					batchedGemm(batch, false, !transB, m, k, n, g, n, m*n, b.Value.Data, bc, br*bc, dst.Data, ac, ar*ac, acc)
				} else {
					batchedGemm(batch, transB, true, k, m, n, b.Value.Data, bc, br*bc, g, n, m*n, dst.Data, ac, ar*ac, acc)
				}
			}
			if b.needsGrad() {
				dst, acc := b.gradDst()
				// dB = op(A)^T dC, or its transpose when B was transposed
				if !transB {
					batchedGemm(batch, !transA, false, k, n, m, a.Value.Data, ac, ar*ac, g, n, m*n, dst.Data, bc, br*bc, acc)
				} else {
					batchedGemm(batch, true, transA, n, k, m, g, n, m*n, a.Value.Data, ac, ar*ac, dst.Data, bc, br*bc, acc)
				}
			}
		}
	})
}

// batchedGemm runs batch independent GEMMs (strided operands). A single
// large product uses the parallel GEMM; many small ones are spread over the
// workers with serial GEMMs.
func batchedGemm(batch int, ta, tb bool, m, n, k int, a []float32, lda, sa int, b []float32, ldb, sb int, c []float32, ldc, sc int, acc bool) {
	beta := betaOf(acc)
	if batch == 1 {
		tensor.Gemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	tensor.ParallelFor(batch, 1, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			tensor.GemmSerial(ta, tb, m, n, k, 1, a[i*sa:(i+1)*sa], lda, b[i*sb:(i+1)*sb], ldb, beta, c[i*sc:(i+1)*sc], ldc)
		}
	})
}
