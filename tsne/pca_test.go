package tsne

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/tensor"
)

// lowRankData returns x = U diag(s) V^T ([n, d]) with orthonormal, centred
// columns U and orthonormal columns V, so that the principal component
// projections are s_c U[:, c] (up to sign).
func lowRankData(rng *rand.Rand, n, d int, s []float64) (x []float32, u []float32) {
	r := len(s)
	u = make([]float32, n*r)
	for i := range u {
		u[i] = float32(rng.NormFloat64())
	}
	for c := 0; c < r; c++ { // centre each column
		m := float32(0)
		for i := 0; i < n; i++ {
			m += u[i*r+c]
		}
		for i := 0; i < n; i++ {
			u[i*r+c] -= m / float32(n)
		}
	}
	orthonormalize(u, n, r)
	v := make([]float32, d*r)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	orthonormalize(v, d, r)
	us := make([]float32, n*r)
	for i := 0; i < n; i++ {
		for c := 0; c < r; c++ {
			us[i*r+c] = u[i*r+c] * float32(s[c])
		}
	}
	x = make([]float32, n*d)
	tensor.Gemm(false, true, n, d, r, 1, us, r, v, r, 0, x, d)
	return x, u
}

// TestPCAPaths checks the covariance, Gram and randomised paths against data
// with known principal components.
func TestPCAPaths(t *testing.T) {
	s := []float64{20, 10, 5, 2, 1, 0.5}
	cases := []struct {
		name  string
		n, d  int
		noise float64 // full-rank noise added to the rank-6 data
		tol   float64
		run   func(xc []float32, n, d, k int) ([]float32, error)
	}{
		{"covariance (N > D)", 60, 25, 0, 1e-3, pcaExact},
		{"Gram (N < D)", 25, 60, 0, 1e-3, pcaExact},
		{"randomised", 300, 200, 0, 1e-3, pcaRandomized},
		{"randomised with noise", 300, 200, 0.01, 1e-2, pcaRandomized},
		{"covariance with noise", 300, 200, 0.01, 1e-2, pcaExact},
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, u := lowRankData(rng, c.n, c.d, s)
			for i := range x {
				x[i] += float32(c.noise * rng.NormFloat64())
			}
			k := 4
			got, err := c.run(centred(x, c.n, c.d), c.n, c.d, k)
			if err != nil {
				t.Fatal(err)
			}
			for comp := 0; comp < k; comp++ {
				// Compare up to sign.
				var dotp, norm2 float64
				for i := 0; i < c.n; i++ {
					dotp += float64(got[i*k+comp]) * float64(u[i*len(s)+comp])
					norm2 += float64(got[i*k+comp]) * float64(got[i*k+comp])
				}
				if math.Abs(math.Abs(dotp)-s[comp]) > c.tol*s[comp] || math.Abs(math.Sqrt(norm2)-s[comp]) > c.tol*s[comp] {
					t.Errorf("component %d: norm %v and |<got, u>| %v, want both %v", comp, math.Sqrt(norm2), math.Abs(dotp), s[comp])
				}
			}
		})
	}
}

func TestPCAPublic(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	x, _ := lowRankData(rng, 50, 10, []float64{5, 3, 1})
	// Shift the data: PCA must centre it.
	for i := range x {
		x[i] += 7
	}
	got, err := PCA(tensor.FromData(x, 50, 10), 2)
	if err != nil {
		t.Fatal(err)
	}
	if sh := got.Shape(); sh[0] != 50 || sh[1] != 2 {
		t.Fatalf("shape %v, want [50 2]", sh)
	}
	for c := 0; c < 2; c++ {
		var mean, big float32
		for i := 0; i < 50; i++ {
			v := got.Data[i*2+c]
			mean += v / 50
			if abs32(v) > abs32(big) {
				big = v
			}
		}
		if abs32(mean) > 1e-4 || big <= 0 {
			t.Errorf("component %d: mean %v (want 0), largest entry %v (want positive)", c, mean, big)
		}
	}
	bad := []struct {
		name string
		x    *tensor.Tensor
		k    int
		want string
	}{
		{"nil", nil, 2, "nil"},
		{"1-D", tensor.New(5), 1, "2-D"},
		{"too many components", tensor.New(4, 3), 4, "1 to 3"},
		{"NaN", tensor.FromData([]float32{1, float32(math.NaN()), 2, 3}, 2, 2), 1, "NaN at row 0, column 1"},
	}
	for _, b := range bad {
		if _, err := PCA(b.x, b.k); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: error %v, want one mentioning %q", b.name, err, b.want)
		}
	}
}
