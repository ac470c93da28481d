package index

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"unicode/utf8"
)

// Kind says how an Index searches.
type Kind uint32

const (
	// Flat compares a query with every stored vector: exact, and fast
	// enough for millions of vectors on one machine (see the package
	// documentation for measurements).
	Flat Kind = iota
	// IVF (inverted file) partitions the vectors into lists around
	// k-means centroids and compares a query only with the vectors of the
	// NProbe lists whose centroids are nearest: approximate, and faster in
	// proportion to the share of lists skipped.
	IVF
)

// String names the kind as the command line spells it.
func (k Kind) String() string {
	switch k {
	case Flat:
		return "flat"
	case IVF:
		return "ivf"
	}
	return fmt.Sprintf("Kind(%d)", uint32(k))
}

// ParseKind reads "flat" (or "exact") and "ivf".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "flat", "exact":
		return Flat, nil
	case "ivf":
		return IVF, nil
	}
	return 0, fmt.Errorf("unknown index kind %q (flat or ivf)", s)
}

// Defaults of Build.
const (
	// DefaultTargetRecall is the recall@10 against exact search that
	// Build calibrates an IVF index's NProbe to reach.
	DefaultTargetRecall = 0.95
	// DefaultIterations of k-means.
	DefaultIterations = 20
)

// minPerList is the average list size below which error messages suggest
// fewer lists.
const minPerList = 8

// ErrNotFound is wrapped by errors about IDs the index does not hold.
var ErrNotFound = errors.New("not in the index")

// Hit is one search result.
type Hit struct {
	// ID of the stored vector.
	ID string `json:"id"`
	// Score is the cosine similarity with the query, in [-1, 1].
	Score float32 `json:"score"`
}

// Index holds L2-normalised vectors with string IDs and finds the nearest
// (highest cosine similarity) to a query. Searches may run concurrently
// with each other; Add, Remove and the other writes take an exclusive lock,
// so they are serialised and never seen half done.
type Index struct {
	mu        sync.RWMutex
	encoderID string
	dim       int
	kind      Kind
	centroids []float32 // NList x dim, unit rows (IVF only)
	lists     []*list
	loc       map[string]loc
	nprobe    int
	recall    float64 // recall estimated by the last calibration (0: none)
}

// list is one inverted list (the only list of a flat index): vectors
// stored contiguously so a scan is one matrix product, with their IDs.
type list struct {
	ids  []string
	vecs []float32
}

// loc locates a stored vector.
type loc struct{ list, pos int32 }

// key packs a location into the 64-bit key the search heaps order by.
func (l loc) key() uint64 { return uint64(l.list)<<32 | uint64(uint32(l.pos)) }

// New returns an empty flat index for vectors of the given dimension made
// by the encoder with the given ID.
func New(encoderID string, dim int) (*Index, error) {
	if dim <= 0 || dim > maxDim {
		return nil, fmt.Errorf("index: dimension %d out of range [1, %d]", dim, maxDim)
	}
	return &Index{encoderID: encoderID, dim: dim, kind: Flat, lists: []*list{{}}, loc: map[string]loc{}, nprobe: 1}, nil
}

// maxDim bounds the vector length.
const maxDim = 1 << 20

// Options configures Build.
type Options struct {
	// Kind is Flat (the zero value) or IVF.
	Kind Kind
	// NList is the number of IVF lists (0: the square root of the number of
	// vectors, which balances the cost of ranking centroids against the
	// cost of scanning lists).
	NList int
	// NProbe is the number of lists an IVF search scans (0: the smallest
	// number that reaches TargetRecall on a calibration sample, see
	// Calibrate).
	NProbe int
	// TargetRecall for the calibration (0: DefaultTargetRecall).
	TargetRecall float64
	// Iterations of k-means (0: DefaultIterations).
	Iterations int
	// TrainSize bounds the vectors k-means trains on (0: 128 per list).
	TrainSize int
	// Seed makes k-means and the calibration sample reproducible.
	Seed uint64
}

// Build creates an index of the given kind from n = len(ids) vectors (vecs
// holds them one after another, n*dim values; they are normalised into the
// index's own memory). For IVF it trains the centroids with spherical
// k-means on (a sample of) the vectors, assigns every vector to its nearest
// centroid and calibrates NProbe unless set.
func Build(encoderID string, dim int, ids []string, vecs []float32, opts Options) (*Index, error) {
	ix, err := New(encoderID, dim)
	if err != nil {
		return nil, err
	}
	n := len(ids)
	if len(vecs) != n*dim {
		return nil, fmt.Errorf("index: %d IDs but %d values (want %d x %d)", n, len(vecs), n, dim)
	}
	switch opts.Kind {
	case Flat:
		return ix, ix.Add(ids, vecs)
	case IVF:
	default:
		return nil, fmt.Errorf("index: unknown kind %v", opts.Kind)
	}
	if n == 0 {
		return nil, errors.New("index: an IVF index needs vectors to train its centroids on")
	}
	nlist := opts.NList
	if nlist <= 0 {
		nlist = max(1, int(math.Round(math.Sqrt(float64(n)))))
	}
	if nlist > n {
		return nil, fmt.Errorf("index: %d lists for %d vectors; use at most one list per vector (about %d would be usual)", nlist, n, max(1, n/minPerList))
	}
	unit := make([]float32, len(vecs))
	copy(unit, vecs)
	if err := normalizeRows(ids, unit, dim); err != nil {
		return nil, err
	}
	train := opts.TrainSize
	if train <= 0 {
		train = 128 * nlist
	}
	iters := opts.Iterations
	if iters <= 0 {
		iters = DefaultIterations
	}
	ix.kind = IVF
	ix.centroids = sphericalKMeans(unit, n, dim, nlist, min(train, n), iters, opts.Seed)
	ix.lists = make([]*list, nlist)
	for i := range ix.lists {
		ix.lists[i] = &list{}
	}
	if err := ix.add(ids, unit); err != nil {
		return nil, err
	}
	if opts.NProbe > 0 {
		if opts.NProbe > nlist {
			return nil, fmt.Errorf("index: NProbe %d is more than the %d lists", opts.NProbe, nlist)
		}
		ix.nprobe = opts.NProbe
		return ix, nil
	}
	target := opts.TargetRecall
	if target == 0 {
		target = DefaultTargetRecall
	}
	if _, _, err := ix.Calibrate(target, 0, opts.Seed); err != nil {
		return nil, err
	}
	return ix, nil
}

// normalizeRows scales each row to unit norm, refusing zero and
// non-finite rows with an error naming the ID.
func normalizeRows(ids []string, vecs []float32, dim int) error {
	for i, id := range ids {
		row := vecs[i*dim : (i+1)*dim]
		var s float64
		for _, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("index: vector of %q holds %v", id, v)
			}
			s += float64(v) * float64(v)
		}
		if s == 0 {
			return fmt.Errorf("index: vector of %q is zero and has no direction", id)
		}
		inv := float32(1 / math.Sqrt(s))
		for j := range row {
			row[j] *= inv
		}
	}
	return nil
}

// checkIDs validates new IDs: non-empty, UTF-8, unique among themselves
// and not already stored.
func (ix *Index) checkIDs(ids []string) error {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		switch {
		case id == "":
			return errors.New("index: empty ID")
		case len(id) > maxIDLength:
			return fmt.Errorf("index: ID %.40q... longer than %d bytes", id, maxIDLength)
		case !utf8.ValidString(id):
			return fmt.Errorf("index: ID %q is not valid UTF-8", id)
		case seen[id]:
			return fmt.Errorf("index: ID %q given twice", id)
		}
		if _, ok := ix.loc[id]; ok {
			return fmt.Errorf("index: ID %q is already in the index (remove it first to replace it)", id)
		}
		seen[id] = true
	}
	return nil
}

// maxIDLength bounds an ID's length in bytes.
const maxIDLength = 1 << 16

// Add inserts vectors (n*dim values for n IDs, normalised on the way in)
// without rebuilding anything: an IVF index puts each into the list of its
// nearest centroid. Either every vector is added or, on an error (a
// duplicate or empty ID, a zero or non-finite vector), none is.
func (ix *Index) Add(ids []string, vecs []float32) error {
	if len(vecs) != len(ids)*ix.dim {
		return fmt.Errorf("index: %d IDs but %d values (want %d x %d)", len(ids), len(vecs), len(ids), ix.dim)
	}
	unit := make([]float32, len(vecs))
	copy(unit, vecs)
	if err := normalizeRows(ids, unit, ix.dim); err != nil {
		return err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.add(ids, unit)
}

// add inserts normalised vectors (unit, which it may keep); the caller
// holds the write lock.
func (ix *Index) add(ids []string, unit []float32) error {
	if err := ix.checkIDs(ids); err != nil {
		return err
	}
	d := ix.dim
	if l := ix.lists[0]; ix.kind == Flat && len(l.ids) == 0 {
		// first fill of a flat index: adopt the normalised copy as is
		l.ids, l.vecs = append(l.ids, ids...), unit
		for i, id := range ids {
			ix.loc[id] = loc{0, int32(i)}
		}
		return nil
	}
	var assign []int32
	if ix.kind == IVF {
		assign = nearestCentroids(unit, len(ids), d, ix.centroids, len(ix.lists))
	}
	for i, id := range ids {
		li := int32(0)
		if assign != nil {
			li = assign[i]
		}
		l := ix.lists[li]
		ix.loc[id] = loc{li, int32(len(l.ids))}
		l.ids = append(l.ids, id)
		l.vecs = append(l.vecs, unit[i*d:(i+1)*d]...)
	}
	return nil
}

// Remove deletes the vectors of the given IDs and returns how many it
// removed and which IDs it did not hold. A removal moves the last vector
// of the same list into the freed slot, so lists stay compact and no
// rebuild is ever needed.
func (ix *Index) Remove(ids ...string) (removed int, missing []string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	d := ix.dim
	for _, id := range ids {
		at, ok := ix.loc[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		l := ix.lists[at.list]
		last := int32(len(l.ids) - 1)
		if at.pos != last {
			moved := l.ids[last]
			l.ids[at.pos] = moved
			copy(l.vecs[int(at.pos)*d:int(at.pos+1)*d], l.vecs[int(last)*d:int(last+1)*d])
			ix.loc[moved] = at
		}
		l.ids[last] = ""
		l.ids = l.ids[:last]
		l.vecs = l.vecs[:int(last)*d]
		delete(ix.loc, id)
		removed++
	}
	return removed, missing
}

// Len returns the number of stored vectors.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.loc)
}

// Has reports whether id is stored.
func (ix *Index) Has(id string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.loc[id]
	return ok
}

// Vector returns a copy of the (normalised) vector stored under id.
func (ix *Index) Vector(id string) ([]float32, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	at, ok := ix.loc[id]
	if !ok {
		return nil, false
	}
	d := ix.dim
	return append([]float32(nil), ix.lists[at.list].vecs[int(at.pos)*d:int(at.pos+1)*d]...), true
}

// IDs returns every stored ID (list by list).
func (ix *Index) IDs() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]string, 0, len(ix.loc))
	for _, l := range ix.lists {
		out = append(out, l.ids...)
	}
	return out
}

// Dim returns the vector length.
func (ix *Index) Dim() int { return ix.dim }

// EncoderID returns the ID of the encoder whose embeddings the index holds.
func (ix *Index) EncoderID() string { return ix.encoderID }

// Kind returns Flat or IVF.
func (ix *Index) Kind() Kind { return ix.kind }

// NList returns the number of lists (1 for a flat index).
func (ix *Index) NList() int { return len(ix.lists) }

// NProbe returns how many lists a search scans by default.
func (ix *Index) NProbe() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.nprobe
}

// CalibratedRecall returns the recall@10 the last calibration estimated
// for the default NProbe (0 when NProbe was set by hand).
func (ix *Index) CalibratedRecall() float64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.recall
}

// SetNProbe changes how many lists a search scans by default.
func (ix *Index) SetNProbe(n int) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n < 1 || n > len(ix.lists) {
		return fmt.Errorf("index: nprobe %d out of range [1, %d]", n, len(ix.lists))
	}
	ix.nprobe, ix.recall = n, 0
	return nil
}

// Compatible reports, as an error that says why, whether vectors of the
// encoder with the given ID and dimension may not be searched in ix.
func (ix *Index) Compatible(encoderID string, dim int) error {
	if dim != ix.dim {
		return fmt.Errorf("the index holds %d-d vectors (encoder %s), the encoder makes %d-d ones (encoder %s): rebuild the index with this encoder", ix.dim, ix.encoderID, dim, encoderID)
	}
	if encoderID != ix.encoderID {
		return fmt.Errorf("the index was built with encoder %s, not %s: its vectors live in another space; rebuild the index with this encoder", ix.encoderID, encoderID)
	}
	return nil
}

// String describes the index in one line.
func (ix *Index) String() string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.kind == Flat {
		return fmt.Sprintf("flat index of %d %d-d vectors (encoder %s)", len(ix.loc), ix.dim, ix.encoderID)
	}
	rec := ""
	if ix.recall > 0 {
		rec = fmt.Sprintf(", calibrated recall@10 %.3f", ix.recall)
	}
	return fmt.Sprintf("IVF index of %d %d-d vectors in %d lists, nprobe %d%s (encoder %s)", len(ix.loc), ix.dim, len(ix.lists), ix.nprobe, rec, ix.encoderID)
}
