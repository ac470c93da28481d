package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// refGemm is the float64 textbook triple loop the kernels are checked against.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float32 {
	out := append([]float32(nil), c...)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			prev := float64(0)
			if beta != 0 {
				prev = float64(beta) * float64(c[i*ldc+j])
			}
			out[i*ldc+j] = float32(float64(alpha)*s + prev)
		}
	}
	return out
}

func withKernel(t testing.TB, name string, f func()) {
	prev, err := useKernel(name)
	if err != nil {
		t.Skip(err)
	}
	defer useKernel(prev)
	f()
}

func TestGemmMatchesReferenceOnEveryKernel(t *testing.T) {
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {6, 64, 1}, {7, 65, 3}, {5, 15, 17}, {13, 130, 600}, {133, 70, 577},
		{64, 1024, 288}, {1, 300, 40}, {200, 1, 33}, {0, 5, 5}, {4, 4, 0},
	}
	cases := []struct {
		ta, tb      bool
		alpha, beta float32
	}{
		{false, false, 1, 0}, {true, false, 1, 1}, {false, true, 0.5, 0}, {true, true, 2, -0.5},
	}
	for _, kn := range []string{"avx512", "avx2", "go"} {
		for _, s := range shapes {
			for _, c := range cases {
				name := fmt.Sprintf("%s/%dx%dx%d/tA=%v,tB=%v,a=%v,b=%v", kn, s.m, s.n, s.k, c.ta, c.tb, c.alpha, c.beta)
				t.Run(name, func(t *testing.T) {
					withKernel(t, kn, func() {
						r := rand.New(rand.NewPCG(1, uint64(s.m*1000+s.n)))
						lda, ldb, ldc := s.k+3, s.n+1, s.n+2
						if c.ta {
							lda = s.m + 3
						}
						if c.tb {
							ldb = s.k + 1
						}
						arows, brows := s.m, s.k
						if c.ta {
							arows = s.k
						}
						if c.tb {
							brows = s.n
						}
						a := randSlice(r, arows*lda)
						b := randSlice(r, brows*ldb)
						cm := randSlice(r, s.m*ldc)
						want := refGemm(c.ta, c.tb, s.m, s.n, s.k, c.alpha, a, lda, b, ldb, c.beta, cm, ldc)
						for _, serial := range []bool{false, true} {
							got := append([]float32(nil), cm...)
							if serial {
								GemmSerial(c.ta, c.tb, s.m, s.n, s.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
							} else {
								Gemm(c.ta, c.tb, s.m, s.n, s.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
							}
							tol := 1e-5 * math.Sqrt(float64(s.k+1)) * 4
							for i := range want {
								if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
									t.Fatalf("serial=%v: element %d: got %v want %v", serial, i, got[i], want[i])
								}
							}
						}
					})
				})
			}
		}
	}
}

func TestGemmRejectsShortSlices(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("no panic for a too-short B")
		}
	}()
	Gemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 3), 2, 0, make([]float32, 4), 2)
}

// BenchmarkGemm reports GFLOP/s and, on AVX-512 machines, the share of
// the measured FMA peak of all workers (peak%).
func BenchmarkGemm(b *testing.B) {
	peak := FMAPeak(300 * time.Millisecond)
	for _, s := range []struct{ m, n, k int }{{512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}, {64, 1024, 576}, {256, 128, 512}, {256, 4096, 576}} {
		for _, kn := range []string{"avx512", "avx2", "go"} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", kn, s.m, s.n, s.k), func(b *testing.B) {
				withKernel(b, kn, func() {
					r := rand.New(rand.NewPCG(1, 2))
					a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						Gemm(false, false, s.m, s.n, s.k, 1, a, s.k, bb, s.n, 0, c, s.n)
					}
					gf := float64(2*s.m*s.n*s.k) * float64(b.N) / b.Elapsed().Seconds() / 1e9
					b.ReportMetric(gf, "GFLOP/s")
					if peak > 0 {
						b.ReportMetric(100*gf/peak, "peak%")
					}
				})
			})
		}
	}
}

// BenchmarkMicroKernel measures the AVX-512 micro-kernel alone with its
// panels in L1, against the measured single-core FMA peak.
func BenchmarkMicroKernel(b *testing.B) {
	if _, err := useKernel("avx512"); err != nil {
		b.Skip(err)
	}
	peak := FMAPeak(200*time.Millisecond) / float64(Workers())
	kr := active
	for _, k := range []int{64, 576} {
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			a := make([]float32, kr.mr*k)
			bb := make([]float32, kr.nr*k)
			c := make([]float32, kr.mr*kr.nr)
			for i := 0; i < b.N; i++ {
				kr.fn(k, &a[0], &bb[0], &c[0], kr.nr, true)
			}
			gf := float64(2*kr.mr*kr.nr*k) * float64(b.N) / b.Elapsed().Seconds() / 1e9
			b.ReportMetric(gf, "GFLOP/s")
			if peak > 0 {
				b.ReportMetric(100*gf/peak, "peak%")
			}
		})
	}
}
