package index

import (
	"math"
	"math/rand/v2"

	"selfsup/tensor"
)

// This file is a small spherical k-means for the IVF centroids. (eval had
// no k-means when the index was written; should it gain one, the two could
// share code.)

// assignRows is how many rows one assignment GEMM covers.
const assignRows = 1024

// nearestCentroids returns, for each of the n unit rows of x, the index of
// the most similar of the nc unit centroids (ties to the lower index).
func nearestCentroids(x []float32, n, d int, centroids []float32, nc int) []int32 {
	out := make([]int32, n)
	assignInto(x, n, d, centroids, nc, out, nil)
	return out
}

// assignInto writes each row's nearest centroid into out and, when sims is
// not nil, the similarity to it into sims. Row blocks run in parallel.
func assignInto(x []float32, n, d int, centroids []float32, nc int, out []int32, sims []float32) {
	blocks := (n + assignRows - 1) / assignRows
	bufs := make([][]float32, tensor.Workers())
	tensor.ParallelItems(blocks, func(w, b int) {
		lo, hi := b*assignRows, min((b+1)*assignRows, n)
		m := hi - lo
		if bufs[w] == nil {
			bufs[w] = make([]float32, assignRows*nc)
		}
		s := bufs[w][:m*nc]
		tensor.GemmSerial(false, true, m, nc, d, 1, x[lo*d:hi*d], d, centroids, d, 0, s, nc)
		for r := 0; r < m; r++ {
			row := s[r*nc : (r+1)*nc]
			best, bv := 0, row[0]
			for j, v := range row {
				if v > bv {
					best, bv = j, v
				}
			}
			out[lo+r] = int32(best)
			if sims != nil {
				sims[lo+r] = bv
			}
		}
	})
}

// sphericalKMeans clusters a random sample of train of the n unit rows of x
// into nc clusters by cosine similarity and returns the nc unit centroids.
// Centroids start at distinct random sample rows; each iteration assigns
// every sample row to its most similar centroid and moves each centroid to
// the normalised mean of its rows. A cluster left empty restarts at the
// sample row worst served by its centroid, so no list stays empty by
// accident. It stops early when no assignment changes.
func sphericalKMeans(x []float32, n, d, nc, train, iters int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x1f1f))
	sample := x
	if train < n {
		perm := r.Perm(n)[:train]
		sample = make([]float32, train*d)
		for i, p := range perm {
			copy(sample[i*d:(i+1)*d], x[p*d:(p+1)*d])
		}
	} else {
		train = n
	}
	cent := make([]float32, nc*d)
	for i, p := range r.Perm(train)[:nc] {
		copy(cent[i*d:(i+1)*d], sample[p*d:(p+1)*d])
	}
	assign := make([]int32, train)
	prev := make([]int32, train)
	sims := make([]float32, train)
	sums := make([]float64, nc*d)
	counts := make([]int, nc)
	for it := 0; it < iters; it++ {
		assignInto(sample, train, d, cent, nc, assign, sims)
		if it > 0 && slicesEqual(assign, prev) {
			break
		}
		copy(prev, assign)
		clear(sums)
		clear(counts)
		for i, c := range assign {
			counts[c]++
			s := sums[int(c)*d : int(c+1)*d]
			for j, v := range sample[i*d : (i+1)*d] {
				s[j] += float64(v)
			}
		}
		for c := 0; c < nc; c++ {
			dst := cent[c*d : (c+1)*d]
			if counts[c] == 0 {
				// restart at the row least similar to its centroid
				worst := 0
				for i, v := range sims {
					if v < sims[worst] {
						worst = i
					}
				}
				copy(dst, sample[worst*d:(worst+1)*d])
				sims[worst] = 2 // not chosen twice
				continue
			}
			var norm float64
			for _, v := range sums[c*d : (c+1)*d] {
				norm += v * v
			}
			if norm == 0 {
				continue // opposite vectors cancelled: keep the centroid
			}
			inv := 1 / math.Sqrt(norm)
			for j, v := range sums[c*d : (c+1)*d] {
				dst[j] = float32(v * inv)
			}
		}
	}
	return cent
}

func slicesEqual(a, b []int32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
