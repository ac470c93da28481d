package tsne

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCalibrateHitsPerplexity checks that the binary search reaches the
// target entropy, computed here from p directly, over distances of very
// different scales.
func TestCalibrateHitsPerplexity(t *testing.T) {
	cases := []struct {
		name       string
		n          int
		perplexity float64
		scale      float64
	}{
		{"perplexity 5, unit distances", 50, 5, 1},
		{"perplexity 30, unit distances", 200, 30, 1},
		{"perplexity 30, tiny distances", 200, 30, 1e-4},
		{"perplexity 30, huge distances", 200, 30, 1e4},
		{"perplexity 100", 500, 100, 3},
		{"perplexity 1.5", 20, 1.5, 1},
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := make([]float64, c.n)
			for j := range d {
				d[j] = c.scale * (10 + 20*rng.Float64()) * rng.Float64()
			}
			p := make([]float64, c.n)
			beta, h := calibrate(d, math.Log(c.perplexity), p)
			sum, entropy := 0.0, 0.0
			for _, v := range p {
				sum += v
				if v > 0 {
					entropy -= v * math.Log(v)
				}
			}
			if math.Abs(sum-1) > 1e-12 {
				t.Errorf("p sums to %v, want 1", sum)
			}
			if math.Abs(entropy-math.Log(c.perplexity)) > 1e-4 {
				t.Errorf("entropy %v (perplexity %v), want log(%v) = %v", entropy, math.Exp(entropy), c.perplexity, math.Log(c.perplexity))
			}
			if math.Abs(h-entropy) > 1e-9 {
				t.Errorf("reported entropy %v, computed %v", h, entropy)
			}
			if !(beta > 0) {
				t.Errorf("beta %v, want positive", beta)
			}
			// p must decrease with the distance.
			for j := range d {
				for k := range d {
					if d[j] < d[k] && p[j] < p[k] {
						t.Fatalf("p[%d]=%v < p[%d]=%v although d %v < %v", j, p[j], k, p[k], d[j], d[k])
					}
				}
			}
		})
	}
}

// TestDenseAffinities checks the symmetrised dense P: symmetric, zero
// diagonal, non-negative, summing to 1, and each row carrying at least
// 1/2n (half of its own conditional distribution).
func TestDenseAffinities(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	x, _ := gaussianClusters(rng, 60, 5, 3, 4)
	n := 60
	p := denseAffinities(x.Data, n, 5, 10)
	sum := 0.0
	for i := 0; i < n; i++ {
		row := 0.0
		if p[i*n+i] != 0 {
			t.Errorf("p[%d][%d] = %v, want 0", i, i, p[i*n+i])
		}
		for j := 0; j < n; j++ {
			v := p[i*n+j]
			if v < 0 || v != p[j*n+i] {
				t.Fatalf("p[%d][%d] = %v, p[%d][%d] = %v: want equal and non-negative", i, j, v, j, i, p[j*n+i])
			}
			row += float64(v)
		}
		if row < 1/(2*float64(n))*(1-1e-5) {
			t.Errorf("row %d sums to %v, want at least 1/2n = %v", i, row, 1/(2*float64(n)))
		}
		sum += row
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Errorf("P sums to %v, want 1", sum)
	}
}

// TestSparseAffinitiesMatchDense: with every other point a neighbour the
// sparse affinities must be the dense ones.
func TestSparseAffinitiesMatchDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	n, d := 40, 4
	x, _ := gaussianClusters(rng, n, d, 2, 3)
	perplexity := 13.0 // 3*13 = 39 = n-1 neighbours
	dense := denseAffinities(x.Data, n, d, perplexity)
	sp, err := sparseAffinities(x.Data, n, d, perplexity)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		lo, hi := sp.rowPtr[i], sp.rowPtr[i+1]
		if hi-lo != n-1 {
			t.Fatalf("row %d has %d entries, want %d", i, hi-lo, n-1)
		}
		for e := lo; e < hi; e++ {
			j := int(sp.col[e])
			if j == i {
				t.Fatalf("row %d holds itself", i)
			}
			if want := float64(dense[i*n+j]); math.Abs(sp.val[e]-want) > 1e-6*want+1e-9 {
				t.Errorf("p[%d][%d] = %v, dense %v", i, j, sp.val[e], want)
			}
		}
	}
}

// TestSymmetrize checks the union of the neighbour graphs on a hand-made
// case: 0 -> 1 (0.6), 0 -> 2 (0.4), 1 -> 0 (1), 2 -> 1 (1), so
// P = (C + C^T) / 6.
func TestSymmetrize(t *testing.T) {
	index := []int{1, 2, 0, 0, 1, 0}
	cond := []float64{0.6, 0.4, 1, 0, 1, 0}
	// k = 2: row 1 has neighbours 0 (1.0) and 0 (0: a repeated zero entry
	// merges), row 2 has 1 (1.0) and 0 (0).
	p := symmetrize(index, cond, 3, 2)
	want := map[[2]int]float64{
		{0, 1}: (0.6 + 1) / 6, {1, 0}: (0.6 + 1) / 6,
		{0, 2}: 0.4 / 6, {2, 0}: 0.4 / 6,
		{1, 2}: 1.0 / 6, {2, 1}: 1.0 / 6,
	}
	got := map[[2]int]float64{}
	for i := 0; i < 3; i++ {
		for e := p.rowPtr[i]; e < p.rowPtr[i+1]; e++ {
			key := [2]int{i, int(p.col[e])}
			if _, dup := got[key]; dup {
				t.Errorf("entry %v appears twice", key)
			}
			got[key] = p.val[e]
		}
	}
	for key, w := range want {
		if math.Abs(got[key]-w) > 1e-15 {
			t.Errorf("P%v = %v, want %v", key, got[key], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("P has entries %v, want %v", got, want)
	}
}
