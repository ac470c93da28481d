package tsne

import (
	"fmt"
	"math"

	"selfsup/eval"
	"selfsup/tensor"
)

// Binary search of the Gaussian precision: stop when the entropy is within
// entropyTol nats of log(perplexity), or after maxSearchSteps halvings.
const (
	entropyTol     = 1e-5
	maxSearchSteps = 200
)

// calibrate finds the precision beta of the Gaussian over the squared
// distances d (to the other points) whose conditional distribution
// p_j = exp(-beta d_j) / sum_k exp(-beta d_k) has entropy logPerp (in
// nats), writes that distribution into p and returns beta and the entropy
// reached. The distances are shifted by their minimum first, which leaves p
// unchanged and keeps exp from underflowing to an all-zero row.
func calibrate(d []float64, logPerp float64, p []float64) (beta, entropy float64) {
	dmin := math.Inf(1)
	mean := 0.0
	for _, v := range d {
		dmin = math.Min(dmin, v)
		mean += v
	}
	mean = mean/float64(len(d)) - dmin
	beta = 1
	if mean > 0 {
		beta = 1 / mean
	}
	lo, hi := 0.0, math.Inf(1)
	for step := 0; step < maxSearchSteps; step++ {
		entropy = gaussianRow(d, dmin, beta, p)
		diff := entropy - logPerp
		if math.Abs(diff) < entropyTol {
			break
		}
		if diff > 0 { // too flat: narrow the Gaussian
			lo = beta
			if math.IsInf(hi, 1) {
				beta *= 2
			} else {
				beta = (beta + hi) / 2
			}
		} else {
			hi = beta
			beta = (beta + lo) / 2
		}
	}
	return beta, entropy
}

// gaussianRow writes p_j proportional to exp(-beta (d_j - dmin)) into p,
// normalised, and returns its entropy.
func gaussianRow(d []float64, dmin, beta float64, p []float64) float64 {
	sum, dot := 0.0, 0.0
	for j, v := range d {
		e := v - dmin
		w := math.Exp(-beta * e)
		p[j] = w
		sum += w
		dot += e * w
	}
	// H = -sum p log p = log(sum) + beta E[d - dmin].
	h := math.Log(sum) + beta*dot/sum
	inv := 1 / sum
	for j := range p[:len(d)] {
		p[j] *= inv
	}
	return h
}

// denseAffinities returns the symmetric t-SNE input affinities of the n
// rows of x ([n, d]) as a dense n x n matrix: p_ij = (p_j|i + p_i|j) / 2n,
// with zero diagonal, summing to 1.
func denseAffinities(x []float32, n, d int, perplexity float64) []float32 {
	// Squared distances |xi|^2 + |xj|^2 - 2 xi.xj from one GEMM; each row
	// is then replaced in place by its conditional distribution.
	p := make([]float32, n*n)
	tensor.Gemm(false, true, n, n, d, 1, x, d, x, d, 0, p, n)
	sq := make([]float64, n)
	for i := range sq {
		sq[i] = float64(p[i*n+i])
	}
	logPerp := math.Log(perplexity)
	workers := tensor.Workers()
	dist := make([][]float64, workers)
	cond := make([][]float64, workers)
	for w := range dist {
		dist[w] = make([]float64, n-1)
		cond[w] = make([]float64, n-1)
	}
	tensor.ParallelFor(n, 16, func(w, lo, hi int) {
		dw, cw := dist[w], cond[w]
		for i := lo; i < hi; i++ {
			row := p[i*n : (i+1)*n]
			k := 0
			for j, g := range row {
				if j != i {
					dw[k] = math.Max(sq[i]+sq[j]-2*float64(g), 0)
					k++
				}
			}
			calibrate(dw, logPerp, cw)
			k = 0
			for j := range row {
				if j == i {
					row[j] = 0
					continue
				}
				row[j] = float32(cw[k])
				k++
			}
		}
	})
	scale := float32(1 / (2 * float64(n)))
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			v := (p[i*n+j] + p[j*n+i]) * scale
			p[i*n+j], p[j*n+i] = v, v
		}
	}
	return p
}

// sparseP is a symmetric sparse affinity matrix in compressed-row form: the
// entries of row i are col[rowPtr[i]:rowPtr[i+1]] with values val[...].
type sparseP struct {
	rowPtr []int
	col    []int32
	val    []float64
}

// sparseAffinities returns the symmetric affinities restricted to each
// point's floor(3*perplexity) nearest neighbours (exact Euclidean search):
// the conditional p_j|i is calibrated over the neighbours only, and
// p_ij = (p_j|i + p_i|j) / 2n on the union of the two neighbour graphs.
func sparseAffinities(x []float32, n, d int, perplexity float64) (*sparseP, error) {
	k := min(int(3*perplexity), n-1)
	xt := tensor.FromData(x, n, d)
	nb, err := eval.Search(xt, xt, eval.SearchConfig{K: k, Metric: eval.Euclidean, ExcludeSelf: true})
	if err != nil {
		return nil, fmt.Errorf("tsne: neighbour search: %w", err)
	}
	k = nb.K
	logPerp := math.Log(perplexity)
	cond := make([]float64, n*k)
	workers := tensor.Workers()
	dist := make([][]float64, workers)
	for w := range dist {
		dist[w] = make([]float64, k)
	}
	tensor.ParallelFor(n, 64, func(w, lo, hi int) {
		dw := dist[w]
		for i := lo; i < hi; i++ {
			_, score := nb.Row(i)
			for j, s := range score {
				dw[j] = float64(s) * float64(s) // score is minus the distance
			}
			calibrate(dw, logPerp, cond[i*k:(i+1)*k])
		}
	})
	return symmetrize(nb.Index, cond, n, k), nil
}

// symmetrize builds P = (C + C^T) / 2n from the conditional affinities C,
// given as k neighbours per row (index and value, row-major). The entries
// of a row keep a fixed order: its own neighbours first, then the points
// that have it as a neighbour, by increasing index.
func symmetrize(index []int, cond []float64, n, k int) *sparseP {
	// Incoming edges per row, in compressed form.
	inPtr := make([]int, n+1)
	for _, j := range index {
		inPtr[j+1]++
	}
	for i := 0; i < n; i++ {
		inPtr[i+1] += inPtr[i]
	}
	inFrom := make([]int32, len(index))
	inVal := make([]float64, len(index))
	fill := append([]int(nil), inPtr[:n]...)
	for e, j := range index {
		inFrom[fill[j]], inVal[fill[j]] = int32(e/k), cond[e]
		fill[j]++
	}
	p := &sparseP{rowPtr: make([]int, n+1)}
	p.col = make([]int32, 0, 2*len(index))
	p.val = make([]float64, 0, 2*len(index))
	slot := make([]int, n) // position of column j in the current row, or -1
	for j := range slot {
		slot[j] = -1
	}
	scale := 1 / (2 * float64(n))
	add := func(j int, v float64) {
		if s := slot[j]; s >= 0 {
			p.val[s] += v * scale
			return
		}
		slot[j] = len(p.col)
		p.col = append(p.col, int32(j))
		p.val = append(p.val, v*scale)
	}
	for i := 0; i < n; i++ {
		for e := i * k; e < (i+1)*k; e++ {
			add(index[e], cond[e])
		}
		for e := inPtr[i]; e < inPtr[i+1]; e++ {
			add(int(inFrom[e]), inVal[e])
		}
		for _, j := range p.col[p.rowPtr[i]:] {
			slot[j] = -1
		}
		p.rowPtr[i+1] = len(p.col)
	}
	return p
}
