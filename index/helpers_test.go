package index_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// randomVectors returns n Gaussian vectors of dimension d (so their
// directions are uniform on the sphere) with IDs "v0", "v1", ...
func randomVectors(n, d int, seed uint64) ([]string, []float32) {
	r := rand.New(rand.NewPCG(seed, 99))
	ids := make([]string, n)
	vecs := make([]float32, n*d)
	for i := range ids {
		ids[i] = fmt.Sprintf("v%d", i)
	}
	for i := range vecs {
		vecs[i] = float32(r.NormFloat64())
	}
	return ids, vecs
}

// clustered returns n vectors around c random centres (noise sigma), the
// structure real embeddings have.
func clustered(n, d, c int, sigma float64, seed uint64) ([]string, []float32) {
	r := rand.New(rand.NewPCG(seed, 7))
	centres := make([]float64, c*d)
	for i := range centres {
		centres[i] = r.NormFloat64()
	}
	ids := make([]string, n)
	vecs := make([]float32, n*d)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%d", i)
		k := r.IntN(c)
		for j := 0; j < d; j++ {
			vecs[i*d+j] = float32(centres[k*d+j] + sigma*r.NormFloat64())
		}
	}
	return ids, vecs
}

// bruteForce returns, for query q, every stored vector's cosine similarity
// in float64, sorted best first.
type scored struct {
	id    string
	score float64
}

func bruteForce(ids []string, vecs []float32, d int, q []float32) []scored {
	var qn float64
	for _, v := range q {
		qn += float64(v) * float64(v)
	}
	out := make([]scored, len(ids))
	for i, id := range ids {
		var dot, n float64
		for j := 0; j < d; j++ {
			x := float64(vecs[i*d+j])
			dot += x * float64(q[j])
			n += x * x
		}
		out[i] = scored{id, dot / math.Sqrt(n*qn)}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].score > out[b].score })
	return out
}

// checkExact fails t unless hits are a correct top-k for q: scores equal
// to the brute-force cosine, sorted, and no better vector left out
// (within float32 rounding).
func checkExact(t *testing.T, what string, hits []struct {
	ID    string
	Score float32
}, ref []scored, k int) {
	t.Helper()
	if len(hits) != min(k, len(ref)) {
		t.Fatalf("%s: %d hits, want %d", what, len(hits), min(k, len(ref)))
	}
	exact := map[string]float64{}
	for _, s := range ref {
		exact[s.id] = s.score
	}
	const tol = 1e-5
	for i, h := range hits {
		want, ok := exact[h.ID]
		if !ok {
			t.Fatalf("%s: hit %d is unknown ID %q", what, i, h.ID)
		}
		if math.Abs(float64(h.Score)-want) > tol {
			t.Errorf("%s: hit %d (%s) score %v, brute force %v", what, i, h.ID, h.Score, want)
		}
		if i > 0 && h.Score > hits[i-1].Score {
			t.Errorf("%s: hits not sorted at %d", what, i)
		}
		if want < ref[len(hits)-1].score-tol {
			t.Errorf("%s: hit %d (%s, %v) is worse than the true %d-th neighbour (%v)", what, i, h.ID, want, len(hits), ref[len(hits)-1].score)
		}
	}
}
