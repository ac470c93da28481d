package eval

import (
	"fmt"
	"math"

	"selfsup/tensor"
)

// Metric selects how Search measures nearness between feature rows.
type Metric int

const (
	// Cosine ranks by cosine similarity: rows are compared as if
	// L2-normalised (a zero row has similarity 0 with everything). This is
	// the kNN-monitor metric of InstDisc, solo-learn and lightly.
	Cosine Metric = iota
	// Euclidean ranks by L2 distance, nearest first: the classic kNN.
	Euclidean
)

// String names the metric.
func (m Metric) String() string {
	switch m {
	case Cosine:
		return "cosine"
	case Euclidean:
		return "euclidean"
	}
	return fmt.Sprintf("Metric(%d)", int(m))
}

// Default block sizes of Search: 1024 query rows against 2048 base rows per
// GEMM keeps each worker's similarity buffer at 8 MiB. The GEMM packs every
// base chunk once per query block, so the cost of packing per
// multiply-add falls with the block's query rows: on the 2-core Zen 4
// machines, 1024 rows ran the 784-wide MNIST search about 1.5x faster than
// 256.
const (
	DefaultBlockRows = 1024
	DefaultBlockCols = 2048
)

// SearchConfig sets up a nearest-neighbour search. Zero fields take the
// documented defaults.
type SearchConfig struct {
	// K is the number of neighbours kept per query row (default 200). When
	// the base has fewer rows, all of them are kept.
	K int
	// Metric is Cosine (the zero value) or Euclidean.
	Metric Metric
	// ExcludeSelf skips base row i when searching for query row i, for
	// leave-one-out evaluation of a set against itself. It requires query
	// and base to have the same number of rows, row i of the query being
	// row i of the base.
	ExcludeSelf bool
	// BlockRows is how many query rows one GEMM covers (default
	// DefaultBlockRows). It is lowered automatically so that every worker
	// gets a block.
	BlockRows int
	// BlockCols is how many base rows one GEMM covers (default
	// DefaultBlockCols). Memory per worker is BlockRows*BlockCols floats.
	BlockCols int
}

// Neighbors holds the K nearest base rows of every query row, nearest first;
// among equally near rows the lower base index comes first, so the result
// does not depend on the block sizes.
type Neighbors struct {
	// K is the number of neighbours per query row.
	K int
	// Metric is the metric the search used.
	Metric Metric
	// Index holds the base row indices, K per query row (row-major).
	Index []int
	// Score holds how near each neighbour is, larger meaning nearer: the
	// cosine similarity for Cosine, minus the Euclidean distance for
	// Euclidean.
	Score []float32
}

// Len returns the number of query rows.
func (nb *Neighbors) Len() int {
	if nb.K == 0 {
		return 0
	}
	return len(nb.Index) / nb.K
}

// Row returns the neighbours of query row i (views into nb, nearest first).
func (nb *Neighbors) Row(i int) (index []int, score []float32) {
	return nb.Index[i*nb.K : (i+1)*nb.K], nb.Score[i*nb.K : (i+1)*nb.K]
}

// Search finds, for every row of query ([Nq, D]), the cfg.K nearest rows of
// base ([Nb, D]). Similarities are computed with tensor.Gemm in blocks of
// BlockRows x BlockCols, so memory stays bounded whatever Nq and Nb are, and
// each query row keeps its best K candidates in a small heap rather than
// sorting all Nb of them. Blocks of query rows are spread over the worker
// pool; when there is a single block the GEMM itself runs in parallel.
func Search(query, base *tensor.Tensor, cfg SearchConfig) (*Neighbors, error) {
	const fn = "eval.Search"
	nq, d, err := checkFeatures(fn, "query features", query)
	if err != nil {
		return nil, err
	}
	nbase, db, err := checkFeatures(fn, "base features", base)
	if err != nil {
		return nil, err
	}
	if d != db {
		return nil, fmt.Errorf("%s: query features have %d columns, base features %d", fn, d, db)
	}
	return search(fn, query, base, nq, nbase, d, cfg)
}

// search runs Search on validated inputs.
func search(fn string, query, base *tensor.Tensor, nq, nbase, d int, cfg SearchConfig) (*Neighbors, error) {
	k := cfg.K
	if k == 0 {
		k = DefaultK
	}
	if k < 0 {
		return nil, fmt.Errorf("%s: K is %d, want a positive number of neighbours", fn, k)
	}
	if cfg.Metric != Cosine && cfg.Metric != Euclidean {
		return nil, fmt.Errorf("%s: unknown metric %v", fn, cfg.Metric)
	}
	if cfg.BlockRows < 0 || cfg.BlockCols < 0 {
		return nil, fmt.Errorf("%s: block sizes %d x %d must not be negative", fn, cfg.BlockRows, cfg.BlockCols)
	}
	avail := nbase
	if cfg.ExcludeSelf {
		if nq != nbase {
			return nil, fmt.Errorf("%s: ExcludeSelf needs the query to be the base, but they have %d and %d rows", fn, nq, nbase)
		}
		avail--
	}
	if avail < 1 {
		return nil, fmt.Errorf("%s: the base has no rows left to search (%d rows, ExcludeSelf %v)", fn, nbase, cfg.ExcludeSelf)
	}
	k = min(k, avail)

	s := &searcher{
		query: query.Data, base: base.Data, nq: nq, nbase: nbase, d: d, k: k,
		metric: cfg.Metric, excludeSelf: cfg.ExcludeSelf,
		out: &Neighbors{K: k, Metric: cfg.Metric, Index: make([]int, nq*k), Score: make([]float32, nq*k)},
	}
	s.prepare()

	workers := tensor.Workers()
	rows := cfg.BlockRows
	if rows == 0 {
		rows = DefaultBlockRows
	}
	rows = max(1, min(rows, (nq+workers-1)/workers))
	cols := cfg.BlockCols
	if cols == 0 {
		cols = DefaultBlockCols
	}
	cols = min(cols, nbase)
	s.rows, s.cols = rows, cols
	nBlocks := (nq + rows - 1) / rows

	scratch := make([]*searchScratch, workers)
	for w := range scratch {
		scratch[w] = &searchScratch{
			sim:   make([]float32, rows*cols),
			score: make([]float32, rows*k),
			index: make([]int32, rows*k),
			count: make([]int, rows),
		}
	}
	if nBlocks > 1 && workers > 1 {
		// One block per worker at a time; the GEMM inside runs serially.
		tensor.ParallelFor(nBlocks, 1, func(w, lo, hi int) {
			for b := lo; b < hi; b++ {
				s.block(scratch[w], b*rows, min((b+1)*rows, nq), false)
			}
		})
	} else {
		// A single block: parallelise the GEMM and the selection instead.
		for b := 0; b < nBlocks; b++ {
			s.block(scratch[0], b*rows, min((b+1)*rows, nq), true)
		}
	}
	return s.out, nil
}

// searcher holds one search's inputs and the per-row terms of its metric.
type searcher struct {
	query, base      []float32
	nq, nbase, d, k  int
	rows, cols       int
	metric           Metric
	excludeSelf      bool
	baseScale, shift []float32 // per base row: key = dot*baseScale + shift
	queryTerm        []float32 // per query row: 1/|q| (cosine) or |q|^2 (euclidean)
	out              *Neighbors
}

// searchScratch is one worker's memory: the similarity block and a heap of
// the best K candidates for each row of the block.
type searchScratch struct {
	sim   []float32
	score []float32
	index []int32
	count []int
}

// prepare computes the per-row norms. For a fixed query row, the ranking key
// dot(q, x)/|x| orders base rows like the cosine similarity, and
// 2 dot(q, x) - |x|^2 orders them like minus the squared distance, so the
// scan never needs a normalised copy of the base.
func (s *searcher) prepare() {
	s.baseScale = make([]float32, s.nbase)
	s.shift = make([]float32, s.nbase)
	s.queryTerm = make([]float32, s.nq)
	sq := func(v []float32) float64 {
		t := 0.0
		for _, x := range v {
			t += float64(x) * float64(x)
		}
		return t
	}
	tensor.ParallelFor(s.nbase, 256, func(_, lo, hi int) {
		for j := lo; j < hi; j++ {
			n2 := sq(s.base[j*s.d : (j+1)*s.d])
			if s.metric == Cosine {
				if n2 > 0 {
					s.baseScale[j] = float32(1 / math.Sqrt(n2))
				}
			} else {
				s.baseScale[j] = 2
				s.shift[j] = float32(-n2)
			}
		}
	})
	tensor.ParallelFor(s.nq, 256, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			n2 := sq(s.query[i*s.d : (i+1)*s.d])
			if s.metric == Cosine {
				if n2 > 0 {
					s.queryTerm[i] = float32(1 / math.Sqrt(n2))
				}
			} else {
				s.queryTerm[i] = float32(n2)
			}
		}
	})
}

// block finds the neighbours of query rows [q0, q1). With inner set, the
// GEMM and the selection use the worker pool themselves.
func (s *searcher) block(sc *searchScratch, q0, q1 int, inner bool) {
	m := q1 - q0
	clear(sc.count[:m])
	gemm := tensor.GemmSerial
	if inner {
		gemm = tensor.Gemm
	}
	for c0 := 0; c0 < s.nbase; c0 += s.cols {
		c1 := min(c0+s.cols, s.nbase)
		n := c1 - c0
		gemm(false, true, m, n, s.d, 1, s.query[q0*s.d:q1*s.d], s.d, s.base[c0*s.d:c1*s.d], s.d, 0, sc.sim, n)
		scan := func(_, lo, hi int) {
			for r := lo; r < hi; r++ {
				self := -1
				if s.excludeSelf {
					self = q0 + r - c0
				}
				sc.count[r] = s.scanRow(sc.sim[r*n:(r+1)*n], s.baseScale[c0:c1], s.shift[c0:c1],
					sc.score[r*s.k:(r+1)*s.k], sc.index[r*s.k:(r+1)*s.k], sc.count[r], c0, self)
			}
		}
		if inner {
			tensor.ParallelFor(m, 16, scan)
		} else {
			scan(0, 0, m)
		}
	}
	for r := 0; r < m; r++ {
		s.finish(q0+r, sc.score[r*s.k:(r+1)*s.k], sc.index[r*s.k:(r+1)*s.k])
	}
}

// scanRow offers the candidates of one similarity row (base rows c0...) to a
// row's heap holding cnt entries and returns the new count. self, when in
// range, is the position to skip. The heap is a min-heap under "worse":
// lower key, or equal key and higher index, so its root is the candidate to
// evict. Candidates arrive in increasing index order, so a new one beats
// the root only with a strictly higher key.
func (s *searcher) scanRow(sim, scale, shift, hs []float32, hx []int32, cnt, c0, self int) int {
	k := s.k
	j := 0
	for ; j < len(sim) && cnt < k; j++ {
		if j == self {
			continue
		}
		hs[cnt], hx[cnt] = sim[j]*scale[j]+shift[j], int32(c0+j)
		siftUp(hs, hx, cnt)
		cnt++
	}
	if cnt < k {
		return cnt
	}
	thr := hs[0]
	scale, shift = scale[:len(sim)], shift[:len(sim)]
	for ; j < len(sim); j++ {
		v := sim[j]*scale[j] + shift[j]
		if v > thr && j != self {
			hs[0], hx[0] = v, int32(c0+j)
			siftDown(hs, hx, 0, k)
			thr = hs[0]
		}
	}
	return cnt
}

// finish sorts a full heap nearest first and stores it as query row i.
func (s *searcher) finish(i int, hs []float32, hx []int32) {
	for n := s.k - 1; n > 0; n-- {
		hs[0], hs[n] = hs[n], hs[0]
		hx[0], hx[n] = hx[n], hx[0]
		siftDown(hs, hx, 0, n)
	}
	idx, score := s.out.Row(i)
	q := s.queryTerm[i]
	for r := range idx {
		idx[r] = int(hx[r])
		if s.metric == Cosine {
			score[r] = hs[r] * q
		} else {
			score[r] = -float32(math.Sqrt(math.Max(0, float64(q)-float64(hs[r]))))
		}
	}
}

// worse reports whether heap entry a ranks below entry b.
func worse(hs []float32, hx []int32, a, b int) bool {
	return hs[a] < hs[b] || (hs[a] == hs[b] && hx[a] > hx[b])
}

func siftUp(hs []float32, hx []int32, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !worse(hs, hx, i, p) {
			return
		}
		hs[i], hs[p] = hs[p], hs[i]
		hx[i], hx[p] = hx[p], hx[i]
		i = p
	}
}

func siftDown(hs []float32, hx []int32, i, n int) {
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && worse(hs, hx, c+1, c) {
			c++
		}
		if !worse(hs, hx, c, i) {
			return
		}
		hs[i], hs[c] = hs[c], hs[i]
		hx[i], hx[c] = hx[c], hx[i]
		i = c
	}
}
