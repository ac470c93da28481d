package index

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"selfsup/tensor"
)

// DefaultK is the number of neighbours a search returns when not told.
const DefaultK = 10

// Scan parameters. A task compares a group of queries with at most
// chunkRows stored vectors, so its similarity block stays in cache; groups
// of fewer than gemmMinQueries queries use dot products (a matrix product
// would spend more time packing the vectors than multiplying), larger ones
// one GEMM per task.
const (
	chunkRows      = 2048
	maxGroup       = 256
	gemmMinQueries = 4
)

// SearchOptions tune one search. Zero fields take the defaults.
type SearchOptions struct {
	// K is the number of neighbours per query (default DefaultK); fewer
	// come back when the index holds fewer vectors.
	K int
	// NProbe overrides the index's number of lists scanned (IVF only).
	NProbe int
	// Exact scans every list, making an IVF search exact.
	Exact bool
}

// Search returns the k stored vectors most similar to vec (cosine
// similarity; vec need not be normalised), most similar first; ties go to
// the vector stored first in its list.
func (ix *Index) Search(vec []float32, k int) ([]Hit, error) {
	res, err := ix.SearchBatch(vec, SearchOptions{K: k})
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// SearchBatch searches for several queries at once (len(queries)/Dim of
// them, one after another), which shares each pass over the stored
// vectors between the queries: a batch of 64 costs far less than 64
// single searches. Work is spread over tensor's worker pool.
func (ix *Index) SearchBatch(queries []float32, opts SearchOptions) ([][]Hit, error) {
	d := ix.dim
	if len(queries) == 0 || len(queries)%d != 0 {
		return nil, fmt.Errorf("index: %d query values are not a positive multiple of the dimension %d", len(queries), d)
	}
	nq := len(queries) / d
	q := make([]float32, len(queries))
	copy(q, queries)
	for i := 0; i < nq; i++ {
		row := q[i*d : (i+1)*d]
		var s float64
		for _, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("index: query %d holds %v", i, v)
			}
			s += float64(v) * float64(v)
		}
		if s == 0 {
			return nil, fmt.Errorf("index: query %d is the zero vector, which has no direction", i)
		}
		inv := float32(1 / math.Sqrt(s))
		for j := range row {
			row[j] *= inv
		}
	}
	k := opts.K
	if k == 0 {
		k = DefaultK
	}
	if k < 0 {
		return nil, fmt.Errorf("index: k = %d, want a positive number of neighbours", k)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	nprobe := opts.NProbe
	if nprobe == 0 {
		nprobe = ix.nprobe
	}
	if nprobe < 0 {
		return nil, fmt.Errorf("index: nprobe %d is negative", nprobe)
	}
	if opts.Exact || ix.kind == Flat {
		nprobe = len(ix.lists)
	}
	nprobe = min(nprobe, len(ix.lists))
	k = min(k, len(ix.loc))
	out := make([][]Hit, nq)
	if k == 0 {
		for i := range out {
			out[i] = []Hit{}
		}
		return out, nil
	}
	s := ix.newScan(q, nq, k)
	s.plan(ix.probes(q, nq, nprobe))
	s.run()
	s.collect(out)
	return out, nil
}

// SearchID returns the k stored vectors most similar to the one stored
// under id, leaving that one out. An unknown id is an error wrapping
// ErrNotFound.
func (ix *Index) SearchID(id string, opts SearchOptions) ([]Hit, error) {
	vec, ok := ix.Vector(id)
	if !ok {
		return nil, fmt.Errorf("index: ID %q: %w", id, ErrNotFound)
	}
	k := opts.K
	if k == 0 {
		k = DefaultK
	}
	opts.K = k + 1
	res, err := ix.SearchBatch(vec, opts)
	if err != nil {
		return nil, err
	}
	hits := res[0][:0]
	for _, h := range res[0] {
		if h.ID != id {
			hits = append(hits, h)
		}
	}
	return hits[:min(len(hits), k)], nil
}

// probes returns, for each query, the lists to scan: every list for a
// flat or exhaustive search (nil), else the nprobe lists whose centroids
// are most similar to the query.
func (ix *Index) probes(q []float32, nq, nprobe int) [][]int32 {
	nl := len(ix.lists)
	if nprobe >= nl {
		return nil
	}
	out := make([][]int32, nq)
	ix.orderLists(q, nq, func(i int, order []int32) {
		out[i] = append([]int32(nil), order[:nprobe]...)
	})
	return out
}

// orderLists ranks the lists for each of the nq queries in q by the
// similarity of their centroids, most similar first (ties by list number),
// and hands every query's order to use, from several goroutines at once
// (order is reused after use returns).
func (ix *Index) orderLists(q []float32, nq int, use func(query int, order []int32)) {
	nl, d := len(ix.lists), ix.dim
	sims := make([]float32, nq*nl)
	tensor.Gemm(false, true, nq, nl, d, 1, q, d, ix.centroids, d, 0, sims, nl)
	tensor.ParallelFor(nq, 1, func(_, lo, hi int) {
		order := make([]int32, nl)
		for i := lo; i < hi; i++ {
			row := sims[i*nl : (i+1)*nl]
			for j := range order {
				order[j] = int32(j)
			}
			slices.SortFunc(order, func(a, b int32) int {
				switch {
				case row[a] > row[b]:
					return -1
				case row[a] < row[b]:
					return 1
				}
				return int(a - b)
			})
			use(i, order)
		}
	})
}

// scan is one search in progress: its normalised queries, its tasks and a
// top-k heap per query in every worker.
type scan struct {
	ix     *Index
	q      []float32
	nq, k  int
	tasks  []task
	heaps  []*heaps // per worker
	groups [][]int32
}

// task compares the queries of group g with rows [lo, hi) of a list.
type task struct {
	list   int32
	lo, hi int
	group  int
}

// heaps are one worker's candidate heaps, k per query.
type heaps struct {
	score []float32
	key   []uint64
	count []int
	sim   []float32 // similarity block
	qbuf  []float32 // gathered queries
}

var heapsPool sync.Pool

func (ix *Index) newScan(q []float32, nq, k int) *scan {
	w := tensor.Workers()
	s := &scan{ix: ix, q: q, nq: nq, k: k, heaps: make([]*heaps, w)}
	for i := range s.heaps {
		h, _ := heapsPool.Get().(*heaps)
		if h == nil {
			h = &heaps{}
		}
		h.score = grow(h.score, nq*k)
		h.key = growU(h.key, nq*k)
		h.count = growI(h.count, nq)
		clear(h.count)
		s.heaps[i] = h
	}
	return s
}

// plan turns the probe lists into tasks: per list, the queries that probe
// it, in groups of at most maxGroup, against chunks of chunkRows rows.
func (s *scan) plan(probes [][]int32) {
	ix := s.ix
	byList := make([][]int32, len(ix.lists))
	if probes == nil {
		all := make([]int32, s.nq)
		for i := range all {
			all[i] = int32(i)
		}
		for l := range byList {
			byList[l] = all
		}
	} else {
		for qi, ls := range probes {
			for _, l := range ls {
				byList[l] = append(byList[l], int32(qi))
			}
		}
	}
	for l, qs := range byList {
		rows := len(ix.lists[l].ids)
		if rows == 0 || len(qs) == 0 {
			continue
		}
		for g0 := 0; g0 < len(qs); g0 += maxGroup {
			s.groups = append(s.groups, qs[g0:min(g0+maxGroup, len(qs))])
			g := len(s.groups) - 1
			for lo := 0; lo < rows; lo += chunkRows {
				s.tasks = append(s.tasks, task{list: int32(l), lo: lo, hi: min(lo+chunkRows, rows), group: g})
			}
		}
	}
}

// run executes the tasks on the worker pool, handing them out one at a
// time so uneven lists balance.
func (s *scan) run() {
	tensor.ParallelItems(len(s.tasks), func(w, i int) { s.do(s.heaps[w], s.tasks[i]) })
}

// do compares one task's queries with its rows.
func (s *scan) do(h *heaps, t task) {
	d := s.ix.dim
	l := s.ix.lists[t.list]
	block := l.vecs[t.lo*d : t.hi*d]
	rows := t.hi - t.lo
	qs := s.groups[t.group]
	base := loc{t.list, int32(t.lo)}.key()
	if len(qs) < gemmMinQueries {
		for _, qi := range qs {
			q := s.q[int(qi)*d : int(qi+1)*d]
			hs, hk := h.score[int(qi)*s.k:int(qi+1)*s.k], h.key[int(qi)*s.k:int(qi+1)*s.k]
			cnt := h.count[qi]
			for r := 0; r < rows; r++ {
				cnt = push(hs, hk, cnt, dot(q, block[r*d:(r+1)*d]), base+uint64(r))
			}
			h.count[qi] = cnt
		}
		return
	}
	g := len(qs)
	h.qbuf = grow(h.qbuf, g*d)
	for j, qi := range qs {
		copy(h.qbuf[j*d:(j+1)*d], s.q[int(qi)*d:int(qi+1)*d])
	}
	// sim = block * queries^T, rows x g: the stored vectors are the GEMM's
	// A operand, which it packs in storage order (as B they would be
	// transposed while packed, which cost more than the product)
	h.sim = grow(h.sim, rows*g)
	tensor.GemmSerial(false, true, rows, g, d, 1, block, d, h.qbuf, d, 0, h.sim, g)
	for j, qi := range qs {
		hs, hk := h.score[int(qi)*s.k:int(qi+1)*s.k], h.key[int(qi)*s.k:int(qi+1)*s.k]
		cnt := h.count[qi]
		for r := 0; r < rows; r++ {
			cnt = push(hs, hk, cnt, h.sim[r*g+j], base+uint64(r))
		}
		h.count[qi] = cnt
	}
}

// collect merges the workers' heaps of every query, best first, into out,
// and returns the heaps to the pool.
func (s *scan) collect(out [][]Hit) {
	type cand struct {
		score float32
		key   uint64
	}
	var cs []cand
	for qi := range out {
		cs = cs[:0]
		for _, h := range s.heaps {
			for j := 0; j < h.count[qi]; j++ {
				cs = append(cs, cand{h.score[qi*s.k+j], h.key[qi*s.k+j]})
			}
		}
		slices.SortFunc(cs, func(a, b cand) int {
			switch {
			case a.score > b.score:
				return -1
			case a.score < b.score:
				return 1
			case a.key < b.key:
				return -1
			case a.key > b.key:
				return 1
			}
			return 0
		})
		hits := make([]Hit, min(s.k, len(cs)))
		for j := range hits {
			l, p := int32(cs[j].key>>32), int32(uint32(cs[j].key))
			hits[j] = Hit{ID: s.ix.lists[l].ids[p], Score: min(cs[j].score, 1)}
		}
		out[qi] = hits
	}
	for _, h := range s.heaps {
		heapsPool.Put(h)
	}
}

// push offers a candidate to a heap of cnt entries (capacity len(hs)) and
// returns the new count. The heap is a min-heap under "worse" (lower score,
// or equal score and higher key), so its root is the one to evict.
func push(hs []float32, hk []uint64, cnt int, score float32, key uint64) int {
	k := len(hs)
	if cnt < k {
		hs[cnt], hk[cnt] = score, key
		siftUp(hs, hk, cnt)
		return cnt + 1
	}
	if score < hs[0] || (score == hs[0] && key > hk[0]) {
		return cnt
	}
	hs[0], hk[0] = score, key
	siftDown(hs, hk, 0, k)
	return cnt
}

func worse(hs []float32, hk []uint64, a, b int) bool {
	return hs[a] < hs[b] || (hs[a] == hs[b] && hk[a] > hk[b])
}

func siftUp(hs []float32, hk []uint64, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !worse(hs, hk, i, p) {
			return
		}
		hs[i], hs[p] = hs[p], hs[i]
		hk[i], hk[p] = hk[p], hk[i]
		i = p
	}
}

func siftDown(hs []float32, hk []uint64, i, n int) {
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && worse(hs, hk, c+1, c) {
			c++
		}
		if !worse(hs, hk, c, i) {
			return
		}
		hs[i], hs[c] = hs[c], hs[i]
		hk[i], hk[c] = hk[c], hk[i]
		i = c
	}
}

// dot returns the inner product of a and b (len(b) >= len(a)), with eight
// independent sums so the additions pipeline.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x, y := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
		s4 += x[4] * y[4]
		s5 += x[5] * y[5]
		s6 += x[6] * y[6]
		s7 += x[7] * y[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func growU(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}

func growI(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}
