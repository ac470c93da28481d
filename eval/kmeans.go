package eval

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/tensor"
)

// Defaults of KMeans, as in scikit-learn (n_init=10 as before its 1.4
// "auto", since restarts are cheap next to feature extraction).
const (
	DefaultKMeansRestarts = 10
	DefaultKMeansMaxIter  = 300
	DefaultKMeansTol      = 1e-4
)

// kmeansBlock is how many rows one distance GEMM of the assignment step
// covers, bounding its buffer at kmeansBlock*K floats.
const kmeansBlock = 4096

// KMeansConfig sets up k-means clustering. Zero fields other than K take
// the documented defaults.
type KMeansConfig struct {
	// K is the number of clusters, from 1 to the number of rows.
	K int
	// Restarts is how many times k-means runs from a fresh k-means++
	// initialisation (default 10); the run with the lowest inertia wins.
	Restarts int
	// MaxIter caps the Lloyd iterations of one run (default 300).
	MaxIter int
	// Tol stops a run when the centroids move less than this, as the sum
	// of their squared shifts relative to the mean per-feature variance of
	// the data (scikit-learn's rule; default 1e-4). A run also stops when
	// no assignment changes.
	Tol float64
	// Seed drives the initialisations; the same seed and data give the
	// same clustering.
	Seed uint64
}

// KMeansResult is a clustering: the best of the restarts.
type KMeansResult struct {
	// Centroids holds the cluster centres, [K, D].
	Centroids *tensor.Tensor
	// Assign gives the cluster of every row, in [0, K): its nearest
	// centroid.
	Assign []int
	// Inertia is the sum of squared distances of the rows to their
	// centroids, computed in float64.
	Inertia float64
	// Iterations is the number of Lloyd iterations of the best run.
	Iterations int
	// Converged reports whether the best run stopped before MaxIter.
	Converged bool
}

// KMeans clusters the rows of x ([N, D], finite) into cfg.K clusters with
// Lloyd's algorithm from k-means++ seeds (Arthur and Vassilvitskii 2007, in
// scikit-learn's greedy form: each new centre is the best of 2 + ln K
// candidates drawn with probability proportional to the squared distance to
// the nearest centre so far), restarted cfg.Restarts times, keeping the run
// with the lowest inertia. Distances come from tensor.Gemm in blocks of rows.
// A cluster that loses all its points is moved to the point farthest from
// its centroid, so no cluster is returned empty while N >= K distinct
// points exist.
func KMeans(x *tensor.Tensor, cfg KMeansConfig) (*KMeansResult, error) {
	const fn = "eval.KMeans"
	n, d, err := checkFeatures(fn, "features", x)
	if err != nil {
		return nil, err
	}
	if cfg.K < 1 || cfg.K > n {
		return nil, fmt.Errorf("%s: K is %d, want 1 to the number of rows (%d)", fn, cfg.K, n)
	}
	if cfg.Restarts == 0 {
		cfg.Restarts = DefaultKMeansRestarts
	}
	if cfg.MaxIter == 0 {
		cfg.MaxIter = DefaultKMeansMaxIter
	}
	if cfg.Tol == 0 {
		cfg.Tol = DefaultKMeansTol
	}
	if cfg.Restarts < 0 || cfg.MaxIter < 0 || !(cfg.Tol >= 0) || math.IsInf(cfg.Tol, 0) {
		return nil, fmt.Errorf("%s: restarts %d, max iterations %d and tolerance %v must be positive", fn, cfg.Restarts, cfg.MaxIter, cfg.Tol)
	}
	km := newKMeans(x.Data, n, d, cfg.K)
	tol := cfg.Tol * km.meanVariance()
	var best *KMeansResult
	for r := 0; r < cfg.Restarts; r++ {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(r)))
		km.seed(rng)
		res := km.lloyd(cfg.MaxIter, tol)
		if best == nil || res.Inertia < best.Inertia {
			best = res
		}
	}
	return best, nil
}

// kmeans holds the data and the buffers of the runs.
type kmeans struct {
	x       []float32
	n, d, k int
	xNorm   []float64 // |x_i|^2
	c       []float32 // centroids, k x d
	cNorm   []float32
	dots    []float32 // one block of x c^T
	assign  []int
	dist    []float64 // squared distance of each row to its centroid
	sums    []float64 // k x d
	counts  []int
}

func newKMeans(x []float32, n, d, k int) *kmeans {
	km := &kmeans{x: x, n: n, d: d, k: k,
		xNorm: make([]float64, n), c: make([]float32, k*d), cNorm: make([]float32, k),
		dots: make([]float32, min(n, kmeansBlock)*max(k, seedTrials(k))),
		dist: make([]float64, n), sums: make([]float64, k*d), counts: make([]int, k)}
	for i := 0; i < n; i++ {
		km.xNorm[i] = sqNorm(x[i*d : (i+1)*d])
	}
	return km
}

func sqNorm(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}

// meanVariance is the mean over features of their variance, the scale of
// the convergence tolerance.
func (km *kmeans) meanVariance() float64 {
	mean := make([]float64, km.d)
	for i := 0; i < km.n; i++ {
		for j, v := range km.x[i*km.d : (i+1)*km.d] {
			mean[j] += float64(v)
		}
	}
	total := 0.0
	for j := range mean {
		mean[j] /= float64(km.n)
	}
	for i := 0; i < km.n; i++ {
		for j, v := range km.x[i*km.d : (i+1)*km.d] {
			dv := float64(v) - mean[j]
			total += dv * dv
		}
	}
	return total / float64(km.n*km.d)
}

// sqDists writes the squared distances of rows [r0, r1) to the m points
// c (m x d) into out ((r1-r0) x m), from |x|^2 + |c|^2 - 2 x.c, clamped at 0.
func (km *kmeans) sqDists(r0, r1 int, c []float32, cNorm []float32, m int, out []float32) {
	d := km.d
	tensor.Gemm(false, true, r1-r0, m, d, -2, km.x[r0*d:r1*d], d, c, d, 0, out, m)
	for i := r0; i < r1; i++ {
		row := out[(i-r0)*m : (i-r0+1)*m]
		xn := float32(km.xNorm[i])
		for j := range row {
			row[j] = max(row[j]+xn+cNorm[j], 0)
		}
	}
}

// seed picks the initial centroids by greedy k-means++.
func (km *kmeans) seed(rng *rand.Rand) {
	n, d, k := km.n, km.d, km.k
	trials := seedTrials(k)
	closest := km.dist // squared distance to the nearest chosen centre
	first := rng.IntN(n)
	copy(km.c[:d], km.x[first*d:(first+1)*d])
	cand := make([]float32, trials*d)
	candNorm := make([]float32, trials)
	candDist := make([]float64, n*trials)
	km.distsTo(km.c[:d], []float32{float32(km.xNorm[first])}, 1, candDist[:n])
	copy(closest, candDist[:n])
	cum := make([]float64, n)
	ids := make([]int, trials)
	for c := 1; c < k; c++ {
		pot := 0.0
		for i, v := range closest {
			pot += v
			cum[i] = pot
		}
		for t := range ids {
			r := rng.Float64() * pot
			ids[t] = min(searchCum(cum, r), n-1)
			copy(cand[t*d:(t+1)*d], km.x[ids[t]*d:(ids[t]+1)*d])
			candNorm[t] = float32(km.xNorm[ids[t]])
		}
		km.distsTo(cand, candNorm, trials, candDist)
		best, bestPot := 0, math.Inf(1)
		for t := 0; t < trials; t++ {
			p := 0.0
			for i := 0; i < n; i++ {
				p += math.Min(closest[i], candDist[i*trials+t])
			}
			if p < bestPot {
				best, bestPot = t, p
			}
		}
		for i := 0; i < n; i++ {
			closest[i] = math.Min(closest[i], candDist[i*trials+best])
		}
		copy(km.c[c*d:(c+1)*d], cand[best*d:(best+1)*d])
	}
}

// seedTrials is the number of candidates greedy k-means++ draws per centre.
func seedTrials(k int) int { return 2 + int(math.Log(float64(k))) }

// distsTo writes the squared distances of every row to the m points c into
// out (n x m, float64), block by block.
func (km *kmeans) distsTo(c, cNorm []float32, m int, out []float64) {
	for r0 := 0; r0 < km.n; r0 += kmeansBlock {
		r1 := min(r0+kmeansBlock, km.n)
		buf := km.dots[:(r1-r0)*m]
		km.sqDists(r0, r1, c, cNorm, m, buf)
		for i, v := range buf {
			out[r0*m+i] = float64(v)
		}
	}
}

// searchCum returns the first index whose cumulative sum reaches r.
func searchCum(cum []float64, r float64) int {
	lo, hi := 0, len(cum)
	for lo < hi {
		mid := (lo + hi) / 2
		if cum[mid] < r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// lloyd runs Lloyd iterations from the current centroids and returns the
// result of this run.
func (km *kmeans) lloyd(maxIter int, tol float64) *KMeansResult {
	n, d, k := km.n, km.d, km.k
	assign := make([]int, n)
	for i := range assign {
		assign[i] = -1
	}
	next := make([]float32, k*d)
	iters, converged := 0, false
	for iters < maxIter {
		iters++
		changed := km.assignAll(assign)
		relocated := km.updateCentroids(assign, next)
		shift := 0.0
		for i, v := range next {
			dv := float64(v) - float64(km.c[i])
			shift += dv * dv
		}
		km.c, next = next, km.c
		if (changed == 0 && relocated == 0) || shift <= tol {
			converged = true
			break
		}
	}
	// Final assignment to the final centroids, and the exact inertia.
	km.assignAll(assign)
	inertia := 0.0
	for i, a := range assign {
		xi, ci := km.x[i*d:(i+1)*d], km.c[a*d:(a+1)*d]
		for j, v := range xi {
			dv := float64(v) - float64(ci[j])
			inertia += dv * dv
		}
	}
	return &KMeansResult{
		Centroids: tensor.FromData(append([]float32(nil), km.c...), k, d),
		Assign:    assign, Inertia: inertia, Iterations: iters, Converged: converged,
	}
}

// assignAll gives every row its nearest centroid (the lowest index on ties),
// records the squared distance, and returns how many rows changed cluster.
func (km *kmeans) assignAll(assign []int) int {
	k, d := km.k, km.d
	for c := 0; c < k; c++ {
		km.cNorm[c] = float32(sqNorm(km.c[c*d : (c+1)*d]))
	}
	changed := 0
	for r0 := 0; r0 < km.n; r0 += kmeansBlock {
		r1 := min(r0+kmeansBlock, km.n)
		buf := km.dots[:(r1-r0)*k]
		km.sqDists(r0, r1, km.c, km.cNorm, k, buf)
		for i := r0; i < r1; i++ {
			row := buf[(i-r0)*k : (i-r0+1)*k]
			best := 0
			for c, v := range row {
				if v < row[best] {
					best = c
				}
			}
			if assign[i] != best {
				assign[i] = best
				changed++
			}
			km.dist[i] = float64(row[best])
		}
	}
	return changed
}

// updateCentroids writes the mean of every cluster into next. An empty
// cluster takes the row farthest from its own centroid (among rows not
// already taken this way), as scikit-learn does; it returns how many
// clusters were moved so.
func (km *kmeans) updateCentroids(assign []int, next []float32) int {
	d, k := km.d, km.k
	clear(km.sums)
	clear(km.counts)
	for i, a := range assign {
		km.counts[a]++
		s := km.sums[a*d : (a+1)*d]
		for j, v := range km.x[i*d : (i+1)*d] {
			s[j] += float64(v)
		}
	}
	var taken map[int]bool
	relocated := 0
	for c := 0; c < k; c++ {
		if km.counts[c] > 0 {
			inv := 1 / float64(km.counts[c])
			for j := 0; j < d; j++ {
				next[c*d+j] = float32(km.sums[c*d+j] * inv)
			}
			continue
		}
		if taken == nil {
			taken = map[int]bool{}
		}
		far := -1
		for i, v := range km.dist {
			if !taken[i] && (far < 0 || v > km.dist[far]) {
				far = i
			}
		}
		taken[far] = true
		relocated++
		copy(next[c*d:(c+1)*d], km.x[far*d:(far+1)*d])
	}
	return relocated
}
