package diag

import (
	"math"
	"sync"

	"selfsup/tensor"
)

// Metric names of Collapse, as they appear in metrics.jsonl.
const (
	// StdKey names NormalizedStd.
	StdKey = "emb_std"
	// RankKey names EffectiveRank.
	RankKey = "eff_rank"
)

// rankEps is the epsilon RankMe adds to each normalised singular value
// before taking the entropy (the value of the paper's code), so that zero
// singular values do not produce 0 * log 0.
const rankEps = 1e-7

// normEps is the floor of a row's norm in NormalizedStd, as in PyTorch's
// F.normalize: a zero row stays zero instead of becoming NaN.
const normEps = 1e-12

// NormalizedStd is the SimSiam paper's collapse indicator: every row of z
// ([N, D]) is divided by its L2 norm, the standard deviation over the N rows
// of each of the D columns is taken (with the N-1 denominator of
// torch.std, which the SimSiam code uses), and the D values are averaged.
// Embeddings spread over the unit sphere give about 1/sqrt(D); embeddings
// collapsed to one direction give 0.
//
// The result is NaN when z holds NaN or Inf, when z is not 2-D, or when it
// has fewer than two rows (a spread over one sample is undefined). All-zero
// rows stay zero (the norm is floored at 1e-12, as F.normalize does).
func NormalizedStd(z *tensor.Tensor) float64 {
	n, d, ok := matrixDims(z)
	if !ok || n < 2 {
		return math.NaN()
	}
	ws := getWorkspace()
	defer workspaces.Put(ws)
	buf := ws.floats(n + 2*d)
	inv, mean, m2 := buf[:n], buf[n:n+d], buf[n+d:]
	// Pass 1: row norms and the column means of the normalised rows.
	for i := range n {
		row := z.Data[i*d : (i+1)*d]
		ss := 0.0
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		if math.IsNaN(ss) || math.IsInf(ss, 0) {
			return math.NaN()
		}
		inv[i] = 1 / max(math.Sqrt(ss), normEps)
		for j, v := range row {
			mean[j] += float64(v) * inv[i]
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	// Pass 2: squared deviations from the means (two passes keep the
	// variance of identical rows at zero up to rounding of the mean).
	for i := range n {
		row := z.Data[i*d : (i+1)*d]
		s := inv[i]
		for j, v := range row {
			dv := float64(v)*s - mean[j]
			m2[j] += dv * dv
		}
	}
	total := 0.0
	for _, v := range m2 {
		total += math.Sqrt(v / float64(n-1))
	}
	return total / float64(d)
}

// EffectiveRank is RankMe (Garrido et al., "RankMe: Assessing the
// downstream performance of pretrained self-supervised representations by
// their rank", ICML 2023): with s the min(N, D) singular values of z
// ([N, D]) and p_k = s_k / sum(s) + 1e-7, it returns exp(-sum p_k log p_k),
// a smooth count of the directions the batch uses, between 1 (all rows on
// one line through the origin) and min(N, D) (all singular values equal).
//
// Like RankMe, it uses the raw embeddings, without centering: centering
// would remove the mean direction, so a batch collapsed to one point would
// become the zero matrix. Note that a shared offset therefore counts as one
// direction: a batch collapsed to a point reads as rank 1, not 0.
//
// The singular values are the square roots of the eigenvalues of the Gram
// matrix of the smaller side, z^T z (D x D) when D <= N and z z^T (N x N)
// otherwise, computed in float64 and solved with SymEigen. The cost is
// about N*min(N,D)*max(N,D)/2 multiply-adds for the Gram matrix plus
// (4/3) min(N,D)^3 for the eigenvalues.
//
// The result is NaN when z holds NaN or Inf or is not 2-D, and 0 when z is
// all zeros (no direction at all).
func EffectiveRank(z *tensor.Tensor) float64 {
	n, d, ok := matrixDims(z)
	if !ok {
		return math.NaN()
	}
	for _, v := range z.Data {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return math.NaN()
		}
	}
	k := min(n, d)
	ws := getWorkspace()
	defer workspaces.Put(ws)
	buf := ws.floats(k*k + 2*k + n*d)
	g, vals, e, x := buf[:k*k], buf[k*k:k*k+k], buf[k*k+k:k*k+2*k], buf[k*k+2*k:]
	for i, v := range z.Data[:n*d] {
		x[i] = float64(v)
	}
	if d <= n {
		gramColumns(g, x, n, d)
	} else {
		gramRows(g, x, n, d)
	}
	if err := symEigen(g, vals, e, k, false); err != nil {
		return math.NaN()
	}
	sum := 0.0
	for i, v := range vals {
		vals[i] = math.Sqrt(max(v, 0))
		sum += vals[i]
	}
	if sum == 0 {
		return 0
	}
	h := 0.0
	for _, s := range vals {
		p := s/sum + rankEps
		h -= p * math.Log(p)
	}
	return min(max(math.Exp(h), 1), float64(k))
}

// gramBlock is the number of rows of the Gram matrix one parallel item
// fills: small enough to balance the triangle over the workers, large
// enough that each pass over z updates a block that stays in L1.
const gramBlock = 8

// gramColumns fills the upper triangle of g (d x d) with x^T x for the
// n x d matrix x (float64): rank-1 updates by the rows of x, with blocks of
// rows of g spread over the worker pool.
func gramColumns(g, x []float64, n, d int) {
	blocks := (d + gramBlock - 1) / gramBlock
	tensor.ParallelItems(blocks, func(_, b int) {
		lo, hi := b*gramBlock, min((b+1)*gramBlock, d)
		for r := range n {
			row := x[r*d : (r+1)*d]
			for i := lo; i < hi; i++ {
				if xi := row[i]; xi != 0 {
					axpy(g[i*d+i:(i+1)*d], row[i:], xi)
				}
			}
		}
	})
}

// gramRows fills the upper triangle of g (n x n) with x x^T for the n x d
// matrix x (float64): the dot products of its rows, with blocks of rows of
// g spread over the worker pool.
func gramRows(g, x []float64, n, d int) {
	blocks := (n + gramBlock - 1) / gramBlock
	tensor.ParallelItems(blocks, func(_, b int) {
		for i := b * gramBlock; i < min((b+1)*gramBlock, n); i++ {
			xi := x[i*d : (i+1)*d]
			for j := i; j < n; j++ {
				g[i*n+j] = dot(xi, x[j*d:(j+1)*d])
			}
		}
	})
}

// axpy adds a*x to y (len(y) == len(x)), four at a time.
func axpy(y, x []float64, a float64) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		y[i] += a * x[i]
		y[i+1] += a * x[i+1]
		y[i+2] += a * x[i+2]
		y[i+3] += a * x[i+3]
	}
	for ; i < len(y); i++ {
		y[i] += a * x[i]
	}
}

// dot returns the dot product of x and y (len(y) >= len(x)) with four
// partial sums.
func dot(x, y []float64) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Option changes what Collapse computes.
type Option func(*options)

type options struct {
	skipRank bool
}

// WithoutRank leaves EffectiveRank (and its eigenvalue solve) out of
// Collapse, for embeddings too wide to afford it every step; NormalizedStd
// costs only two passes over the batch.
func WithoutRank() Option { return func(o *options) { o.skipRank = true } }

// Collapse returns the collapse diagnostics of a batch of embeddings z
// ([N, D]) under the names metrics.jsonl uses: StdKey ("emb_std",
// NormalizedStd) and RankKey ("eff_rank", EffectiveRank), the latter unless
// WithoutRank is given. A method merges the map into its Output.Metrics.
// Bad input (NaN, Inf, not 2-D) gives NaN values rather than a panic, so a
// diverged run shows up in the log.
//
// For N = 256 the whole call takes a few milliseconds at D = 128 (see the
// package's benchmarks); the rank's cost grows as N*min(N,D)*max(N,D), so
// for wide outputs such as DINO's consider WithoutRank on most steps.
func Collapse(z *tensor.Tensor, opts ...Option) map[string]float64 {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	out := map[string]float64{StdKey: NormalizedStd(z)}
	if !o.skipRank {
		out[RankKey] = EffectiveRank(z)
	}
	return out
}

// matrixDims returns the rows and columns of a non-empty 2-D tensor.
func matrixDims(z *tensor.Tensor) (n, d int, ok bool) {
	if z == nil || z.Dims() != 2 {
		return 0, 0, false
	}
	n, d = z.Dim(0), z.Dim(1)
	return n, d, n > 0 && d > 0 && len(z.Data) >= n*d
}

// workspace holds the float64 scratch of one call, reused across calls
// through workspaces so that a per-step diagnostic does not allocate.
type workspace struct{ buf []float64 }

var workspaces = sync.Pool{New: func() any { return new(workspace) }}

func getWorkspace() *workspace { return workspaces.Get().(*workspace) }

// floats returns n zeroed float64s.
func (w *workspace) floats(n int) []float64 {
	if cap(w.buf) < n {
		w.buf = make([]float64, n)
	}
	w.buf = w.buf[:n]
	clear(w.buf)
	return w.buf
}
