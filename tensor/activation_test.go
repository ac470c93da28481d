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
