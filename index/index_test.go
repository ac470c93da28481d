package index_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"selfsup/eval"
	"selfsup/index"
	"selfsup/tensor"
)

func hitsOf(h []index.Hit) []struct {
	ID    string
	Score float32
} {
	out := make([]struct {
		ID    string
		Score float32
	}, len(h))
	for i, x := range h {
		out[i].ID, out[i].Score = x.ID, x.Score
	}
	return out
}

// Exact search must agree with a float64 brute force, for single queries
// (dot-product path), batches (GEMM path), sizes that are not multiples of
// the block sizes, k larger than the index, and an IVF index searched
// exhaustively.
func TestExactMatchesBruteForce(t *testing.T) {
	const d = 24
	ids, vecs := randomVectors(5000, d, 1)
	qids, qs := randomVectors(70, d, 2)
	_ = qids
	flat, err := index.Build("enc", d, ids, vecs, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ivf, err := index.Build("enc", d, ids, vecs, index.Options{Kind: index.IVF, NList: 30, NProbe: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		ix    *index.Index
		nq, k int
		exact bool
	}{
		{"flat single", flat, 1, 10, false},
		{"flat 3 queries", flat, 3, 7, false},
		{"flat batch", flat, 70, 25, false},
		{"flat k=1", flat, 5, 1, false},
		{"ivf exhaustive single", ivf, 1, 10, true},
		{"ivf exhaustive batch", ivf, 70, 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.ix.SearchBatch(qs[:tc.nq*d], index.SearchOptions{K: tc.k, Exact: tc.exact})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tc.nq; i++ {
				ref := bruteForce(ids, vecs, d, qs[i*d:(i+1)*d])
				checkExact(t, fmt.Sprintf("query %d", i), hitsOf(res[i]), ref, tc.k)
			}
		})
	}
	// and with eval.Search, the engine's own exact kNN search, as a
	// second reference on the order of the IDs
	res, _ := flat.SearchBatch(qs, index.SearchOptions{K: 10})
	nb, err := eval.Search(tensor.FromData(qs, 70, d), tensor.FromData(vecs, 5000, d), eval.SearchConfig{K: 10})
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i := 0; i < 70; i++ {
		idx, _ := nb.Row(i)
		for j := range idx {
			if res[i][j].ID == ids[idx[j]] {
				same++
			}
		}
	}
	if same < 70*10*99/100 {
		t.Errorf("only %d of 700 neighbours agree with eval.Search", same)
	}
}

func TestSmallAndEmpty(t *testing.T) {
	ix, err := index.New("e", 3)
	if err != nil {
		t.Fatal(err)
	}
	hits, err := ix.Search([]float32{1, 0, 0}, 5)
	if err != nil || len(hits) != 0 {
		t.Fatalf("empty index: %v %v", hits, err)
	}
	if err := ix.Add([]string{"a", "b"}, []float32{1, 0, 0, 0, 2, 0}); err != nil {
		t.Fatal(err)
	}
	hits, err = ix.Search([]float32{3, 1, 0}, 5)
	if err != nil || len(hits) != 2 || hits[0].ID != "a" || hits[1].ID != "b" {
		t.Fatalf("hits %v, err %v", hits, err)
	}
	v, ok := ix.Vector("b")
	if !ok || v[1] != 1 {
		t.Errorf("stored vector of b is %v, want it normalised to (0, 1, 0)", v)
	}
}

func TestBadInput(t *testing.T) {
	ix, _ := index.New("e", 2)
	ix.Add([]string{"a"}, []float32{1, 0})
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"duplicate", ix.Add([]string{"a"}, []float32{0, 1}), "already in the index"},
		{"twice in one call", ix.Add([]string{"x", "x"}, []float32{0, 1, 1, 0}), "given twice"},
		{"zero vector", ix.Add([]string{"z"}, []float32{0, 0}), "zero"},
		{"wrong length", ix.Add([]string{"w"}, []float32{0, 1, 2}), "3 values"},
		{"empty id", ix.Add([]string{""}, []float32{0, 1}), "empty ID"},
		{"zero query", func() error { _, err := ix.Search([]float32{0, 0}, 1); return err }(), "zero vector"},
		{"query length", func() error { _, err := ix.Search([]float32{1, 0, 0}, 1); return err }(), "multiple of the dimension"},
		{"negative k", func() error { _, err := ix.Search([]float32{1, 0}, -1); return err }(), "positive"},
		{"unknown id", func() error { _, err := ix.SearchID("nope", index.SearchOptions{}); return err }(), "not in the index"},
		{"ivf without vectors", func() error { _, err := index.Build("e", 2, nil, nil, index.Options{Kind: index.IVF}); return err }(), "needs vectors"},
		{"too many lists", func() error {
			_, err := index.Build("e", 2, []string{"a"}, []float32{1, 0}, index.Options{Kind: index.IVF, NList: 2})
			return err
		}(), "2 lists for 1 vectors"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, tc.err, tc.want)
		}
	}
	if _, err := ix.SearchID("nope", index.SearchOptions{}); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("unknown ID error %v does not wrap ErrNotFound", err)
	}
	if ix.Len() != 1 {
		t.Errorf("failed adds changed the index: %d vectors", ix.Len())
	}
}

// Add and Remove keep every search consistent with a brute force over
// what is stored, for both kinds, without a rebuild.
func TestAddRemove(t *testing.T) {
	const d = 16
	ids, vecs := clustered(3000, d, 20, 0.3, 3)
	for _, kind := range []index.Kind{index.Flat, index.IVF} {
		t.Run(kind.String(), func(t *testing.T) {
			ix, err := index.Build("e", d, ids[:2000], vecs[:2000*d], index.Options{Kind: kind, NList: 20, NProbe: 20})
			if err != nil {
				t.Fatal(err)
			}
			if err := ix.Add(ids[2000:], vecs[2000*d:]); err != nil {
				t.Fatal(err)
			}
			var gone []string
			for i := 0; i < 3000; i += 3 {
				gone = append(gone, ids[i])
			}
			n, missing := ix.Remove(append(gone, "never-added")...)
			if n != len(gone) || len(missing) != 1 || missing[0] != "never-added" {
				t.Fatalf("Remove: %d removed, missing %v", n, missing)
			}
			if ix.Len() != 2000 || ix.Has(ids[0]) || !ix.Has(ids[1]) {
				t.Fatalf("after Remove: %d vectors, has %s: %v", ix.Len(), ids[0], ix.Has(ids[0]))
			}
			var keptIDs []string
			var kept []float32
			for i := range ids {
				if i%3 != 0 {
					keptIDs = append(keptIDs, ids[i])
					kept = append(kept, vecs[i*d:(i+1)*d]...)
				}
			}
			_, qs := clustered(10, d, 20, 0.3, 3) // same centres, new points
			res, err := ix.SearchBatch(qs, index.SearchOptions{K: 10})
			if err != nil {
				t.Fatal(err)
			}
			for i := range res {
				checkExact(t, fmt.Sprintf("query %d", i), hitsOf(res[i]), bruteForce(keptIDs, kept, d, qs[i*d:(i+1)*d]), 10)
			}
			// a removed ID can be added again
			if err := ix.Add([]string{ids[0]}, vecs[:d]); err != nil {
				t.Errorf("re-adding a removed ID: %v", err)
			}
			hits, err := ix.SearchID(ids[0], index.SearchOptions{K: 3})
			if err != nil || len(hits) != 3 || hits[0].ID == ids[0] {
				t.Errorf("SearchID: %v %v", hits, err)
			}
		})
	}
}

// The IVF index at its defaults reaches recall@10 >= 0.95 against exact
// search on fresh queries: on clustered data (the structure of real
// embeddings) while scanning a small share of the lists, and on random
// vectors (no structure at all, the worst case).
func TestIVFRecallAtDefaults(t *testing.T) {
	const d = 32
	for _, tc := range []struct {
		name       string
		ids        []string
		vecs, qs   []float32
		maxProbeSh float64
	}{
		func() (c struct {
			name       string
			ids        []string
			vecs, qs   []float32
			maxProbeSh float64
		}) {
			c.name, c.maxProbeSh = "clustered", 0.1
			c.ids, c.vecs = clustered(20000, d, 50, 0.6, 11)
			_, c.qs = clustered(300, d, 50, 0.6, 11)
			return
		}(),
		func() (c struct {
			name       string
			ids        []string
			vecs, qs   []float32
			maxProbeSh float64
		}) {
			c.name, c.maxProbeSh = "random", 1
			c.ids, c.vecs = randomVectors(20000, d, 12)
			_, c.qs = randomVectors(300, d, 13)
			return
		}(),
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix, err := index.Build("e", d, tc.ids, tc.vecs, index.Options{Kind: index.IVF, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := ix.RecallAt(tc.qs, 10)
			if err != nil {
				t.Fatal(err)
			}
			share := float64(ix.NProbe()) / float64(ix.NList())
			t.Logf("%s: %d lists, nprobe %d (calibrated %.3f), recall@10 on new queries %.3f", tc.name, ix.NList(), ix.NProbe(), ix.CalibratedRecall(), rec)
			if rec < 0.95 {
				t.Errorf("recall@10 %.3f at the defaults, want >= 0.95", rec)
			}
			if share > tc.maxProbeSh {
				t.Errorf("nprobe %d of %d lists: the calibration scans too much", ix.NProbe(), ix.NList())
			}
			// fewer probes must cost recall, or the calibration chose too many
			if ix.NProbe() > 1 {
				fewer, _ := ix.SearchBatch(tc.qs, index.SearchOptions{K: 10, NProbe: max(1, ix.NProbe()/4)})
				exact, _ := ix.SearchBatch(tc.qs, index.SearchOptions{K: 10, Exact: true})
				if r := index.Recall(fewer, exact); r >= rec {
					t.Errorf("a quarter of the probes gives recall %.3f, not below %.3f", r, rec)
				}
			}
		})
	}
}

func TestSaveLoad(t *testing.T) {
	const d = 8
	dir := t.TempDir()
	ids, vecs := clustered(500, d, 5, 0.4, 5)
	for _, kind := range []index.Kind{index.Flat, index.IVF} {
		t.Run(kind.String(), func(t *testing.T) {
			ix, err := index.Build("enc-1", d, ids, vecs, index.Options{Kind: kind, NList: 10})
			if err != nil {
				t.Fatal(err)
			}
			ix.Remove(ids[7])
			path := filepath.Join(dir, kind.String()+".idx")
			if err := ix.Save(path); err != nil {
				t.Fatal(err)
			}
			got, err := index.LoadFor(path, "enc-1", d)
			if err != nil {
				t.Fatal(err)
			}
			if got.Len() != 499 || got.Kind() != kind || got.NList() != ix.NList() || got.NProbe() != ix.NProbe() || got.EncoderID() != "enc-1" || got.Has(ids[7]) {
				t.Fatalf("loaded %v, saved %v", got, ix)
			}
			a, _ := ix.SearchBatch(vecs[:20*d], index.SearchOptions{K: 5})
			b, _ := got.SearchBatch(vecs[:20*d], index.SearchOptions{K: 5})
			for i := range a {
				for j := range a[i] {
					if a[i][j] != b[i][j] {
						t.Fatalf("query %d hit %d: %v before saving, %v after", i, j, a[i][j], b[i][j])
					}
				}
			}
			// another encoder or dimension is refused with the reason
			if _, err := index.LoadFor(path, "enc-2", d); err == nil || !strings.Contains(err.Error(), "enc-1") || !strings.Contains(err.Error(), "enc-2") {
				t.Errorf("loading for another encoder: %v", err)
			}
			if _, err := index.LoadFor(path, "enc-1", d+1); err == nil || !strings.Contains(err.Error(), "8-d") {
				t.Errorf("loading for another dimension: %v", err)
			}
		})
	}
}

func TestLoadDamaged(t *testing.T) {
	dir := t.TempDir()
	ids, vecs := randomVectors(50, 4, 1)
	ix, _ := index.Build("e", 4, ids, vecs, index.Options{})
	path := filepath.Join(dir, "good.idx")
	if err := ix.Save(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	flip := func(at int) []byte { b := append([]byte(nil), raw...); b[at] ^= 0x40; return b }
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", raw[:len(raw)/2], "truncated"},
		{"no checksum", raw[:len(raw)-4], "truncated before the checksum"},
		{"bit flip in a vector", flip(len(raw) - 10), "checksum mismatch"},
		{"bad magic", flip(0), "not an index file"},
		{"future version", func() []byte { b := append([]byte(nil), raw...); b[8] = 7; return b }(), "version 7"},
		{"trailing data", append(append([]byte(nil), raw...), 0), "after the checksum"},
		{"empty", nil, "not an index file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			os.WriteFile(p, tc.data, 0o644)
			_, err := index.Load(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %v, want one naming the file and saying %q", err, tc.want)
			}
		})
	}
}

// Searches running while vectors are added and removed see a consistent
// index (run with -race to check the locking), and concurrent Updates of
// one file lose nothing.
func TestConcurrency(t *testing.T) {
	const d = 8
	ids, vecs := randomVectors(3000, d, 4)
	ix, err := index.Build("e", d, ids[:1000], vecs[:1000*d], index.Options{Kind: index.IVF, NList: 16, NProbe: 4})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				hits, err := ix.SearchBatch(vecs[i*d:(i+2)*d], index.SearchOptions{K: 5})
				if err != nil {
					errs <- err
					return
				}
				for _, h := range hits[0] {
					if h.ID == "" {
						errs <- fmt.Errorf("empty ID in the results")
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1000; i < 3000; i += 100 {
			if err := ix.Add(ids[i:i+100], vecs[i*d:(i+100)*d]); err != nil {
				errs <- err
				return
			}
			ix.Remove(ids[i-1000 : i-950]...)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ix.Len() != 3000-20*50 {
		t.Errorf("%d vectors after the writes, want %d", ix.Len(), 3000-20*50)
	}

	// concurrent read-modify-write of one file
	path := filepath.Join(t.TempDir(), "shared.idx")
	empty, _ := index.New("e", d)
	if err := empty.Save(path); err != nil {
		t.Fatal(err)
	}
	var wg2 sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for j := 0; j < 5; j++ {
				i := w*5 + j
				err := index.Update(path, func(ix *index.Index) error { return ix.Add(ids[i:i+1], vecs[i*d:(i+1)*d]) })
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg2.Wait()
	final, err := index.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if final.Len() != 40 {
		t.Errorf("after 40 concurrent updates the file holds %d vectors", final.Len())
	}
}
