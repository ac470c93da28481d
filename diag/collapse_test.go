package diag_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"selfsup/diag"
	"selfsup/tensor"
)

// gaussian returns an n x d matrix of standard normal entries.
func gaussian(n, d int, r *rand.Rand) *tensor.Tensor {
	z := tensor.New(n, d)
	for i := range z.Data {
		z.Data[i] = float32(r.NormFloat64())
	}
	return z
}

// lowRank returns an n x d matrix a*b with a (n x k) and b (k x d) Gaussian,
// so that its rank is k.
func lowRank(n, d, k int, r *rand.Rand) *tensor.Tensor {
	a, b := gaussian(n, k, r), gaussian(k, d, r)
	z := tensor.New(n, d)
	tensor.Gemm(false, false, n, d, k, 1, a.Data, k, b.Data, d, 0, z.Data, d)
	return z
}

// transpose returns z^T.
func transpose(z *tensor.Tensor) *tensor.Tensor {
	n, d := z.Dim(0), z.Dim(1)
	t := tensor.New(d, n)
	for i := range n {
		for j := range d {
			t.Data[j*n+i] = z.Data[i*d+j]
		}
	}
	return t
}

// identicalRows returns n copies of one random d-vector.
func identicalRows(n, d int, r *rand.Rand) *tensor.Tensor {
	z := tensor.New(n, d)
	for j := range d {
		v := float32(r.NormFloat64())
		for i := range n {
			z.Data[i*d+j] = v
		}
	}
	return z
}

// within fails t unless got lies in [lo, hi].
func within(t *testing.T, what string, got, lo, hi float64) {
	t.Helper()
	if !(got >= lo && got <= hi) {
		t.Errorf("%s = %v, want it in [%v, %v]", what, got, lo, hi)
	}
}

func TestCollapseIndicators(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name           string
		z              *tensor.Tensor
		stdLo, stdHi   float64
		rankLo, rankHi float64
	}{
		// One point: no spread, one direction (the offset; see EffectiveRank).
		{"identical rows", identicalRows(64, 16, r), 0, 1e-9, 1, 1.001},
		// Healthy: uniform on the sphere gives std 1/sqrt(D) per coordinate.
		{"gaussian 512x32", gaussian(512, 32, r), 0.9 / math.Sqrt(32), 1.1 / math.Sqrt(32), 0.9 * 32, 32},
		{"gaussian 256x128", gaussian(256, 128, r), 0.9 / math.Sqrt(128), 1.1 / math.Sqrt(128), 0.8 * 128, 128},
		// Wide: the rank is bounded by N (the N x N Gram path).
		{"gaussian 64x256", gaussian(64, 256, r), 0.9 / math.Sqrt(256), 1.1 / math.Sqrt(256), 0.85 * 64, 64},
		// A rank-3 batch uses at most three directions.
		{"rank 3 of 256x64", lowRank(256, 64, 3, r), 0, 1, 2, 3.5},
		{"rank 3 of 32x200", lowRank(32, 200, 3, r), 0, 1, 2, 3.5},
		// Exact values: two orthogonal rows have normalised columns (1, 0)
		// and (0, 1), each with sample std sqrt(1/2); singular values 3 and 1
		// give p = (3/4, 1/4) and exp(H) = 4 / 3^(3/4).
		{"diag(3, 1)", tensor.FromData([]float32{3, 0, 0, 1}, 2, 2),
			math.Sqrt(0.5) - 1e-12, math.Sqrt(0.5) + 1e-12, 4/math.Pow(3, 0.75) - 1e-6, 4/math.Pow(3, 0.75) + 1e-6},
		{"identity 4x4", tensor.FromData([]float32{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, 4, 4),
			0.5 - 1e-12, 0.5 + 1e-12, 4 - 1e-5, 4},
		// Every row on one line through the origin (signs differ): std
		// stays positive, the rank is 1.
		{"one line", tensor.FromData([]float32{1, 2, -2, -4, 3, 6, -1, -2}, 4, 2), 0.5, 1.2, 1, 1.0001},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			within(t, "NormalizedStd", diag.NormalizedStd(tc.z), tc.stdLo, tc.stdHi)
			rank := diag.EffectiveRank(tc.z)
			within(t, "EffectiveRank", rank, tc.rankLo, tc.rankHi)
			m := diag.Collapse(tc.z)
			if len(m) != 2 || m[diag.StdKey] != diag.NormalizedStd(tc.z) || m[diag.RankKey] != rank {
				t.Errorf("Collapse = %v, want %s and %s as computed alone", m, diag.StdKey, diag.RankKey)
			}
		})
	}
}

// TestEffectiveRankProperties checks what RankMe must satisfy whatever the
// data: the same value for z and z^T (the same singular values, reached
// through the other Gram matrix), scale invariance, the bound min(N, D),
// and agreement with singular values from SymEigen of the full z^T z.
func TestEffectiveRankProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][2]int{{8, 5}, {40, 40}, {30, 70}, {100, 17}} {
		n, d := sz[0], sz[1]
		z := gaussian(n, d, r)
		// Stretch some columns so that the singular values differ.
		for i := range n {
			for j := range d {
				z.Data[i*d+j] *= float32(1 + j%4)
			}
		}
		rank := diag.EffectiveRank(z)
		if rt := diag.EffectiveRank(transpose(z)); math.Abs(rt-rank) > 1e-9*rank {
			t.Errorf("%dx%d: rank %v, of the transpose %v", n, d, rank, rt)
		}
		scaled := z.Clone()
		for i := range scaled.Data {
			scaled.Data[i] *= 8 // a power of two: exact in float32
		}
		if rs := diag.EffectiveRank(scaled); math.Abs(rs-rank) > 1e-9*rank {
			t.Errorf("%dx%d: rank %v, of 8z %v", n, d, rank, rs)
		}
		if ss, s := diag.NormalizedStd(scaled), diag.NormalizedStd(z); math.Abs(ss-s) > 1e-12 {
			t.Errorf("%dx%d: std %v, of 8z %v", n, d, s, ss)
		}
		within(t, "rank", rank, 1, float64(min(n, d)))

		// Reference: RankMe from the eigenvalues of the full D x D Gram.
		g := make([]float64, d*d)
		for i := range d {
			for j := range d {
				for k := range n {
					g[i*d+j] += float64(z.Data[k*d+i]) * float64(z.Data[k*d+j])
				}
			}
		}
		vals, _, err := diag.SymEigen(g, d, false)
		if err != nil {
			t.Fatal(err)
		}
		// The largest min(n, d) eigenvalues are the squared singular values.
		s := vals[d-min(n, d):]
		sum := 0.0
		for i, v := range s {
			s[i] = math.Sqrt(max(v, 0))
			sum += s[i]
		}
		h := 0.0
		for _, v := range s {
			p := v/sum + 1e-7
			h -= p * math.Log(p)
		}
		if want := math.Exp(h); math.Abs(rank-want) > 1e-6*want {
			t.Errorf("%dx%d: rank %v, reference %v", n, d, rank, want)
		}
	}
}

func TestCollapseBadInput(t *testing.T) {
	nan := tensor.FromData([]float32{1, 2, float32(math.NaN()), 4, 5, 6}, 3, 2)
	inf := tensor.FromData([]float32{1, 2, 3, float32(math.Inf(1)), 5, 6}, 3, 2)
	cases := []struct {
		name      string
		z         *tensor.Tensor
		std, rank float64 // NaN: want NaN
	}{
		{"NaN", nan, math.NaN(), math.NaN()},
		{"Inf", inf, math.NaN(), math.NaN()},
		{"nil", nil, math.NaN(), math.NaN()},
		{"1-D", tensor.FromData([]float32{1, 2, 3}, 3), math.NaN(), math.NaN()},
		{"3-D", tensor.New(2, 3, 4), math.NaN(), math.NaN()},
		{"no rows", tensor.New(0, 4), math.NaN(), math.NaN()},
		{"one row", tensor.FromData([]float32{1, 2, 3}, 1, 3), math.NaN(), 1},
		{"all zero", tensor.New(5, 3), 0, 0},
	}
	same := func(got, want float64) bool {
		return got == want || (math.IsNaN(want) && math.IsNaN(got))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := diag.NormalizedStd(tc.z); !same(got, tc.std) {
				t.Errorf("NormalizedStd = %v, want %v", got, tc.std)
			}
			if got := diag.EffectiveRank(tc.z); !same(got, tc.rank) {
				t.Errorf("EffectiveRank = %v, want %v", got, tc.rank)
			}
			m := diag.Collapse(tc.z)
			if !same(m[diag.StdKey], tc.std) || !same(m[diag.RankKey], tc.rank) {
				t.Errorf("Collapse = %v", m)
			}
		})
	}
}

func TestCollapseWithoutRank(t *testing.T) {
	z := gaussian(16, 8, rand.New(rand.NewPCG(7, 8)))
	m := diag.Collapse(z, diag.WithoutRank())
	if _, ok := m[diag.RankKey]; ok || len(m) != 1 || m[diag.StdKey] != diag.NormalizedStd(z) {
		t.Errorf("Collapse(WithoutRank) = %v, want only %s", m, diag.StdKey)
	}
}

// TestAllocations: the per-step diagnostics reuse pooled buffers, so the
// only allocations are the parallel loop's few, whatever the batch size.
func TestAllocations(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, z := range []*tensor.Tensor{gaussian(64, 32, r), gaussian(16, 48, r), gaussian(300, 100, r)} {
		if a := testing.AllocsPerRun(20, func() { diag.NormalizedStd(z) }); a != 0 {
			t.Errorf("NormalizedStd of %v: %v allocations per call", z.Shape(), a)
		}
		if a := testing.AllocsPerRun(20, func() { diag.EffectiveRank(z) }); a > 6 {
			t.Errorf("EffectiveRank of %v: %v allocations per call, want at most 6", z.Shape(), a)
		}
	}
}

// BenchmarkCollapse times the per-step diagnostics for a batch of 256:
// go test ./diag -run x -bench Collapse -benchtime 20x
func BenchmarkCollapse(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, bc := range []struct {
		name string
		d    int
		opts []diag.Option
	}{
		{"N256_D128", 128, nil},
		{"N256_D256", 256, nil},
		{"N256_D2048", 2048, nil},
		{"N256_D2048_without_rank", 2048, []diag.Option{diag.WithoutRank()}},
	} {
		z := gaussian(256, bc.d, r)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				diag.Collapse(z, bc.opts...)
			}
		})
	}
}
