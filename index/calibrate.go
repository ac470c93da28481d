package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
)

// DefaultCalibrationQueries is the number of stored vectors Calibrate uses
// as queries.
const DefaultCalibrationQueries = 1000

// calibrationMargin is added to the target recall on the calibration
// sample, so that fresh queries, which the sample only estimates, still
// reach the target.
const calibrationMargin = 0.01

// Calibrate sets NProbe to the smallest number of lists at which IVF
// search finds, on average, at least target of the 10 exact nearest
// neighbours, and returns it with the recall it measured. The queries are
// up to `queries` stored vectors (0: DefaultCalibrationQueries) chosen at
// random from seed, each searched with itself left out. Since an IVF
// search scans whole lists exactly, a true neighbour is found exactly when
// its list is among those probed, so one exact search per query gives the
// recall of every NProbe at once. The recall is measured against
// target plus a small margin, so that new queries from the same
// distribution reach the target too.
func (ix *Index) Calibrate(target float64, queries int, seed uint64) (nprobe int, recall float64, err error) {
	if !(target > 0 && target <= 1) {
		return 0, 0, fmt.Errorf("index: target recall %g must lie in (0, 1]", target)
	}
	if ix.kind != IVF {
		return 0, 0, errors.New("index: only an IVF index has an nprobe to calibrate")
	}
	if queries <= 0 {
		queries = DefaultCalibrationQueries
	}
	const k = 10
	ix.mu.RLock()
	n, d, nl := len(ix.loc), ix.dim, len(ix.lists)
	if n < 2 {
		ix.mu.RUnlock()
		ix.mu.Lock()
		ix.nprobe, ix.recall = nl, 1
		ix.mu.Unlock()
		return nl, 1, nil
	}
	// the sample: stored vectors picked at random
	all := make([]loc, 0, n)
	for l, li := range ix.lists {
		for p := range li.ids {
			all = append(all, loc{int32(l), int32(p)})
		}
	}
	r := rand.New(rand.NewPCG(seed, 0xca11))
	nq := min(queries, n)
	perm := r.Perm(n)[:nq]
	q := make([]float32, nq*d)
	self := make([]uint64, nq)
	for i, p := range perm {
		at := all[p]
		copy(q[i*d:(i+1)*d], ix.lists[at.list].vecs[int(at.pos)*d:int(at.pos+1)*d])
		self[i] = at.key()
	}
	kk := min(k+1, n)
	s := ix.newScan(q, nq, kk)
	s.plan(nil)
	s.run()
	// rank of every list for every query
	rankOf := make([]int32, nq*nl)
	ix.orderLists(q, nq, func(i int, order []int32) {
		for rank, l := range order {
			rankOf[i*nl+int(l)] = int32(rank)
		}
	})
	// found[p] counts the true neighbours whose list has rank p
	found := make([]int, nl)
	total := 0
	for i := 0; i < nq; i++ {
		keys := s.neighbourKeys(i, self[i], k)
		for _, key := range keys {
			found[rankOf[i*nl+int(key>>32)]]++
			total++
		}
	}
	for _, h := range s.heaps {
		heapsPool.Put(h)
	}
	ix.mu.RUnlock()
	want := min(1, target+calibrationMargin)
	cum := 0
	nprobe = nl
	recall = 1
	for p := 0; p < nl; p++ {
		cum += found[p]
		if total > 0 && float64(cum)/float64(total) >= want {
			nprobe, recall = p+1, float64(cum)/float64(total)
			break
		}
	}
	ix.mu.Lock()
	ix.nprobe, ix.recall = nprobe, recall
	ix.mu.Unlock()
	return nprobe, recall, nil
}

// neighbourKeys returns the keys of query i's best k candidates (merged over
// the workers), leaving out the key self.
func (s *scan) neighbourKeys(i int, self uint64, k int) []uint64 {
	type cand struct {
		score float32
		key   uint64
	}
	var cs []cand
	for _, h := range s.heaps {
		for j := 0; j < h.count[i]; j++ {
			if key := h.key[i*s.k+j]; key != self {
				cs = append(cs, cand{h.score[i*s.k+j], key})
			}
		}
	}
	sort.Slice(cs, func(a, b int) bool {
		if cs[a].score != cs[b].score {
			return cs[a].score > cs[b].score
		}
		return cs[a].key < cs[b].key
	})
	keys := make([]uint64, 0, k)
	for j := 0; j < len(cs) && j < k; j++ {
		keys = append(keys, cs[j].key)
	}
	return keys
}

// RecallAt measures recall@k of the index's default search against exact
// search on the given queries (n*Dim values): the share of each query's k
// exact nearest neighbours that the default search also returns, averaged.
func (ix *Index) RecallAt(queries []float32, k int) (float64, error) {
	approx, err := ix.SearchBatch(queries, SearchOptions{K: k})
	if err != nil {
		return 0, err
	}
	exact, err := ix.SearchBatch(queries, SearchOptions{K: k, Exact: true})
	if err != nil {
		return 0, err
	}
	return Recall(approx, exact), nil
}

// Recall returns the mean share of each row of exact that the same row of
// approx contains (by ID).
func Recall(approx, exact [][]Hit) float64 {
	hit, total := 0, 0
	for i := range exact {
		got := make(map[string]bool, len(approx[i]))
		for _, h := range approx[i] {
			got[h.ID] = true
		}
		for _, h := range exact[i] {
			if got[h.ID] {
				hit++
			}
			total++
		}
	}
	if total == 0 {
		return 1
	}
	return float64(hit) / float64(total)
}
