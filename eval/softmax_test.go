package eval

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refSoftmaxLoss is the regularised objective in plain float64 loops.
func refSoftmaxLoss(x []float32, y []int, d, c int, wd float64, params []float64) float64 {
	n := len(y)
	total := 0.0
	z := make([]float64, c)
	for i := 0; i < n; i++ {
		mx := math.Inf(-1)
		for k := 0; k < c; k++ {
			z[k] = params[c*d+k]
			for j := 0; j < d; j++ {
				z[k] += params[k*d+j] * float64(x[i*d+j])
			}
			mx = math.Max(mx, z[k])
		}
		sum := 0.0
		for k := 0; k < c; k++ {
			sum += math.Exp(z[k] - mx)
		}
		total += math.Log(sum) + mx - z[y[i]]
	}
	reg := 0.0
	for _, v := range params[:c*d] {
		reg += v * v
	}
	return total/float64(n) + 0.5*wd*reg
}

// The analytic gradient matches central finite differences of the float64
// reference, and the value matches the reference, including with more rows
// than one chunk (so several workers and chunks are summed).
func TestSoftmaxGradientMatchesFiniteDifferences(t *testing.T) {
	tests := []struct {
		name    string
		n, d, c int
		wd      float64
		scale   float64 // parameter scale
	}{
		{"small", 37, 5, 4, 0, 0.5},
		{"decay", 37, 5, 4, 0.03, 0.5},
		{"many chunks", 2500, 6, 3, 1e-3, 0.3},
		{"binary", 50, 3, 2, 0.1, 1},
		{"confident", 40, 4, 3, 0, 5},
	}
	for ti, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ti), 15))
			x := randMatrix(rng, tc.n, tc.d)
			y := make([]int, tc.n)
			for i := range y {
				y[i] = rng.IntN(tc.c)
			}
			params := make([]float64, tc.c*(tc.d+1))
			for i := range params {
				params[i] = tc.scale * rng.NormFloat64()
			}
			prob := newSoftmaxProblem(x.Data, y, tc.d, tc.c, tc.wd)
			grad := make([]float64, len(params))
			f := prob.objective(params, grad)
			fRef := refSoftmaxLoss(x.Data, y, tc.d, tc.c, tc.wd, params)
			if math.Abs(f-fRef) > 1e-5*math.Max(1, fRef) {
				t.Fatalf("objective %v, reference %v", f, fRef)
			}
			const h = 1e-5
			for i := range params {
				old := params[i]
				params[i] = old + h
				fp := refSoftmaxLoss(x.Data, y, tc.d, tc.c, tc.wd, params)
				params[i] = old - h
				fm := refSoftmaxLoss(x.Data, y, tc.d, tc.c, tc.wd, params)
				params[i] = old
				fd := (fp - fm) / (2 * h)
				if math.Abs(grad[i]-fd) > 1e-4*math.Max(1e-2, math.Abs(fd)) {
					t.Fatalf("grad[%d] = %v, finite difference %v", i, grad[i], fd)
				}
			}
		})
	}
}

// Huge logits neither overflow nor lose the loss.
func TestSoftmaxStableForLargeLogits(t *testing.T) {
	x := rows([]float32{1000, -1000}, []float32{-1000, 1000})
	y := []int{0, 0}
	prob := newSoftmaxProblem(x.Data, y, 2, 2, 0)
	params := []float64{1, 0, 0, 1, 0, 0} // W = I: row 0 right by 2000, row 1 wrong by 2000
	grad := make([]float64, len(params))
	f := prob.objective(params, grad)
	if math.Abs(f-1000) > 1e-3 { // (0 + 2000) / 2
		t.Fatalf("loss %v, want 1000", f)
	}
	for _, g := range grad {
		if math.IsNaN(g) || math.IsInf(g, 0) {
			t.Fatalf("gradient %v", grad)
		}
	}
}
