package tsne

import (
	"math"

	"selfsup/tensor"
)

// exactObjective evaluates the exact t-SNE gradient on dense affinities.
type exactObjective struct {
	n     int
	p     []float32 // n x n, symmetric, zero diagonal, sums to 1
	pSum  float64   // sum of p (1 up to rounding)
	pLogP float64   // sum of p log p, for the KL divergence
	// Per-point partial sums of one evaluation, reduced in point order.
	attr, rep []float64 // 2n each
	z, kl     []float64 // n each
}

func newExactObjective(p []float32, n int) *exactObjective {
	o := &exactObjective{n: n, p: p,
		attr: make([]float64, 2*n), rep: make([]float64, 2*n),
		z: make([]float64, n), kl: make([]float64, n)}
	for _, v := range p {
		if v > 0 {
			o.pSum += float64(v)
			o.pLogP += float64(v) * math.Log(float64(v))
		}
	}
	return o
}

// gradient writes dKL/dy of the layout y (x, y interleaved, 2n values) into
// grad, with the affinities multiplied by exag:
//
//	grad_i = 4 sum_j (exag p_ij - q_ij) w_ij (y_i - y_j),
//
// where w_ij = 1/(1 + |y_i - y_j|^2) and q_ij = w_ij / Z, Z = sum_{k!=l} w_kl.
// With wantKL it also returns KL(P || Q) for the unexaggerated P, which
// costs a logarithm per pair; otherwise it returns 0.
func (o *exactObjective) gradient(y, grad []float64, exag float64, wantKL bool) float64 {
	n := o.n
	tensor.ParallelFor(n, 32, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			o.row(i, y, wantKL)
		}
	})
	z := 0.0
	for _, v := range o.z {
		z += v
	}
	for c := range grad {
		grad[c] = 4 * (exag*o.attr[c] - o.rep[c]/z)
	}
	if !wantKL {
		return 0
	}
	// KL = sum p log p - sum p log w + (sum p) log Z.
	plogw := 0.0
	for _, v := range o.kl {
		plogw += v
	}
	return o.pLogP - plogw + o.pSum*math.Log(z)
}

// row accumulates the attractive sum sum_j p_ij w_ij (y_i - y_j), the
// repulsive sum sum_j w_ij^2 (y_i - y_j) and sum_j w_ij of point i (and
// sum_j p_ij log w_ij with wantKL). The pair j == i adds 1 to the sum of w
// and nothing else, so it is included and the 1 subtracted: no branch in
// the loop.
func (o *exactObjective) row(i int, y []float64, wantKL bool) {
	n := o.n
	prow := o.p[i*n : (i+1)*n]
	xi, yi := y[2*i], y[2*i+1]
	var ax, ay, bx, by, z, kl float64
	pts := y[:2*n]
	if wantKL {
		for j, pv := range prow {
			dx, dy := xi-pts[2*j], yi-pts[2*j+1]
			w := 1 / (1 + dx*dx + dy*dy)
			pw := float64(pv) * w
			ax += pw * dx
			ay += pw * dy
			w2 := w * w
			bx += w2 * dx
			by += w2 * dy
			z += w
			if pv > 0 {
				kl += float64(pv) * math.Log(w)
			}
		}
	} else {
		for j, pv := range prow {
			dx, dy := xi-pts[2*j], yi-pts[2*j+1]
			w := 1 / (1 + dx*dx + dy*dy)
			pw := float64(pv) * w
			ax += pw * dx
			ay += pw * dy
			w2 := w * w
			bx += w2 * dx
			by += w2 * dy
			z += w
		}
	}
	o.attr[2*i], o.attr[2*i+1] = ax, ay
	o.rep[2*i], o.rep[2*i+1] = bx, by
	o.z[i] = z - 1
	o.kl[i] = kl
}
