package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The vector kernels handle multiples of 32 and Go finishes the tail: check
// every length around those boundaries against plain loops.
func TestElementwiseKernelsMatchScalarLoops(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	nan := float32(math.NaN())
	for _, n := range []int{0, 1, 31, 32, 33, 64, 95, 1000, 70001} {
		a, b := randSlice(r, n), randSlice(r, n)
		if n > 3 {
			a[2] = nan
		}
		out := make([]float32, n)
		ReLU(a, out)
		for i, v := range a {
			want := float32(0)
			if v > 0 || v != v {
				want = v
			}
			if !(out[i] == want || (want != want && out[i] != out[i])) {
				t.Fatalf("n=%d ReLU[%d](%v) = %v", n, i, v, out[i])
			}
		}
		AddReLU(a, b, out)
		for i := range a {
			s := a[i] + b[i]
			want := float32(math.Max(0, float64(s)))
			if s != s {
				if out[i] == out[i] {
					t.Fatalf("n=%d AddReLU[%d] lost NaN", n, i)
				}
				continue
			}
			if out[i] != want {
				t.Fatalf("n=%d AddReLU[%d] = %v want %v", n, i, out[i], want)
			}
		}
		for _, acc := range []bool{false, true} {
			dst := randSlice(r, n)
			before := append([]float32(nil), dst...)
			ReLUBackward(a, b, dst, acc)
			for i := range a {
				var want float32
				if a[i] > 0 {
					want = b[i]
				}
				if acc {
					want += before[i]
				}
				if dst[i] != want {
					t.Fatalf("n=%d acc=%v ReLUBackward[%d] = %v want %v", n, acc, i, dst[i], want)
				}
			}
		}
		dst := append([]float32(nil), b...)
		AddTo(dst, a)
		for i := range a {
			if want := b[i] + a[i]; dst[i] != want && !(want != want) {
				t.Fatalf("n=%d AddTo[%d] = %v want %v", n, i, dst[i], want)
			}
		}
		ScaleShift(b, out, 1.5, -0.25)
		for i := range b {
			if want := b[i]*1.5 - 0.25; math.Abs(float64(out[i]-want)) > 1e-6 {
				t.Fatalf("n=%d ScaleShift[%d] = %v want %v", n, i, out[i], want)
			}
		}
	}
}

func TestCopyRunsMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	src := randSlice(r, 4000)
	var runs []int32
	d := 0
	for _, n := range []int{0, 1, 5, 15, 16, 17, 31, 32, 33, 64, 100} {
		runs = append(runs, int32(d), int32(r.IntN(3000)), int32(n))
		d += n + r.IntN(7)
	}
	checkRuns(d, len(src), runs)
	want := make([]float32, d)
	got := make([]float32, d)
	copyRunsGo(want, src, runs)
	copyRuns(got, src, runs)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("element %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// Exp32 against math.Exp across its whole range, its ends included.
func TestExp32MatchesMath(t *testing.T) {
	var xs []float32
	for x := -90.0; x <= 90; x += 0.0137 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, -87.3, -87.29, 88.7, 88.69, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-8)
	for _, x := range xs {
		got, want := float64(Exp32(x)), math.Exp(float64(x))
		if x < -87.3 {
			want = 0
		}
		if x > 88.7 {
			want = math.Inf(1)
		}
		if got != want && math.Abs(got-want) > 3e-7*want {
			t.Fatalf("Exp32(%v) = %v, want %v (relative error %.2g)", x, got, want, math.Abs(got-want)/want)
		}
	}
	if v := Exp32(float32(math.NaN())); v == v {
		t.Fatalf("Exp32(NaN) = %v", v)
	}
}

// GELU and its backward pass (written and accumulated) against the float64
// formulas, through the vector kernels and the scalar tails: every length
// from 0 to 17, then 5807 points from -9 to 9.
func TestGELUMatchesFloat64(t *testing.T) {
	var all []float32
	for x := -9.0; x <= 9; x += 0.0031 {
		all = append(all, float32(x))
	}
	var cases [][]float32
	for n := 0; n <= 17; n++ {
		cases = append(cases, all[2900-n:2900]) // around 0, where the sign flips
	}
	cases = append(cases, all)
	for _, xs := range cases {
		g, out, grad := make([]float32, len(xs)), make([]float32, len(xs)), make([]float32, len(xs))
		for i := range g {
			g[i] = 1.5 - float32(i%3)
			grad[i] = 0.25
		}
		GELU(xs, out)
		GELUBackward(xs, g, grad, true)
		for i, v := range xs {
			x := float64(v)
			cdf := 0.5 * (1 + math.Erf(x/math.Sqrt2))
			want := x * cdf
			dwant := 0.25 + float64(g[i])*(cdf+x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi))
			if math.Abs(float64(out[i])-want) > 4e-7*math.Max(1, math.Abs(want)) {
				t.Fatalf("n=%d: GELU(%v) = %v, want %v", len(xs), v, out[i], want)
			}
			if math.Abs(float64(grad[i])-dwant) > 6e-7*math.Max(1, math.Abs(x)) {
				t.Fatalf("n=%d: 0.25 + %v*GELU'(%v) = %v, want %v", len(xs), g[i], v, grad[i], dwant)
			}
		}
		GELUBackward(xs, g, grad, false)
		for i, v := range xs {
			x := float64(v)
			cdf := 0.5 * (1 + math.Erf(x/math.Sqrt2))
			dwant := float64(g[i]) * (cdf + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi))
			if math.Abs(float64(grad[i])-dwant) > 6e-7*math.Max(1, math.Abs(x)) {
				t.Fatalf("n=%d: %v*GELU'(%v) = %v, want %v", len(xs), g[i], v, grad[i], dwant)
			}
		}
	}
}

func BenchmarkGELU(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	out := make([]float32, len(x))
	b.Run("forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			GELU(x, out)
		}
		b.SetBytes(int64(4 * len(x)))
	})
	b.Run("backward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			GELUBackward(x, x, out, false)
		}
		b.SetBytes(int64(4 * len(x)))
	})
}

func TestExpNonPositiveMatchesMath(t *testing.T) {
	for x := -100.0; x <= 0; x += 0.00731 {
		got, want := float64(expNonPositive(float32(x))), math.Exp(float64(float32(x)))
		if x < -87 {
			want = math.Exp(-87)
		}
		if math.Abs(got-want) > 3e-7*want {
			t.Fatalf("expNonPositive(%v) = %v, want %v", x, got, want)
		}
	}
}
