package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// quadratic returns f(x) = 0.5 (x-x*)'A(x-x*) for a random symmetric
// positive definite A with eigenvalues spread over [1, cond], and its
// minimiser x*. (With the minimum at 0, f keeps its relative precision all
// the way down, so tight gradient tolerances are reachable.)
func quadratic(rng *rand.Rand, n int, cond float64) (Objective, []float64) {
	// A = Q diag(l) Q' with Q from Gram-Schmidt on random vectors.
	q := make([][]float64, n)
	for i := range q {
		q[i] = make([]float64, n)
		for j := range q[i] {
			q[i][j] = rng.NormFloat64()
		}
		for k := 0; k < i; k++ {
			axpy(-dot(q[i], q[k]), q[k], q[i])
		}
		nrm := math.Sqrt(dot(q[i], q[i]))
		for j := range q[i] {
			q[i][j] /= nrm
		}
	}
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n)
	}
	for k := 0; k < n; k++ {
		l := math.Pow(cond, float64(k)/float64(n-1))
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				a[i][j] += l * q[k][i] * q[k][j]
			}
		}
	}
	xstar := make([]float64, n)
	for i := range xstar {
		xstar[i] = rng.NormFloat64()
	}
	e := make([]float64, n)
	f := func(x, g []float64) float64 {
		for i := range x {
			e[i] = x[i] - xstar[i]
		}
		v := 0.0
		for i := range x {
			g[i] = dot(a[i], e)
			v += 0.5 * e[i] * g[i]
		}
		return v
	}
	return f, xstar
}

// rosenbrock is the extended Rosenbrock function, minimum 0 at all ones.
func rosenbrock(x, g []float64) float64 {
	f := 0.0
	clear(g)
	for i := 0; i+1 < len(x); i++ {
		t1 := x[i+1] - x[i]*x[i]
		t2 := 1 - x[i]
		f += 100*t1*t1 + t2*t2
		g[i] += -400*x[i]*t1 - 2*t2
		g[i+1] += 200 * t1
	}
	return f
}

func TestLBFGSMinimises(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	quad, xq := quadratic(rng, 30, 1e3)
	start := func(n int, v ...float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = v[i%len(v)]
		}
		return x
	}
	ones := func(n int) []float64 { return start(n, 1) }
	tests := []struct {
		name    string
		f       Objective
		x0      []float64
		want    []float64
		cfg     LBFGSConfig
		maxIter int
	}{
		{"quadratic", quad, make([]float64, 30), xq, LBFGSConfig{GradTol: 1e-9, FuncTol: 1e-300, MaxIterations: 1000}, 400},
		{"quadratic history 3", quad, make([]float64, 30), xq, LBFGSConfig{History: 3, GradTol: 1e-9, FuncTol: 1e-300, MaxIterations: 1000}, 600},
		// With a near-exact line search and full memory, L-BFGS on a
		// quadratic matches conjugate gradients: done in n iterations.
		{"quadratic exact line search", quad, make([]float64, 30), xq, LBFGSConfig{History: 30, C2: 0.01, GradTol: 1e-9, FuncTol: 1e-300, MaxLineSearch: 100}, 31},
		{"rosenbrock 2-D", rosenbrock, []float64{-1.2, 1}, ones(2), LBFGSConfig{GradTol: 1e-9, FuncTol: 1e-300}, 100},
		{"rosenbrock 10-D", rosenbrock, start(10, -1.2, 1), ones(10), LBFGSConfig{GradTol: 1e-9, FuncTol: 1e-300}, 200},
		{"rosenbrock far start", rosenbrock, []float64{-30, 40}, ones(2), LBFGSConfig{GradTol: 1e-9, FuncTol: 1e-300, MaxIterations: 1000}, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x0 := append([]float64(nil), tc.x0...)
			res, err := LBFGS(tc.f, x0, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != GradientConverged || res.Iterations > tc.maxIter {
				t.Fatalf("status %v after %d iterations (%d evaluations), f %v", res.Status, res.Iterations, res.Evaluations, res.F)
			}
			for i := range tc.want {
				if math.Abs(res.X[i]-tc.want[i]) > 1e-6 {
					t.Fatalf("x[%d] = %v, want %v", i, res.X[i], tc.want[i])
				}
				if x0[i] != tc.x0[i] {
					t.Fatal("LBFGS modified x0")
				}
			}
			g := make([]float64, len(res.X))
			if f := tc.f(res.X, g); f != res.F || maxAbs(g) != res.GradMax {
				t.Fatalf("reported F %v GradMax %v, recomputed %v %v", res.F, res.GradMax, f, maxAbs(g))
			}
		})
	}
}

func TestLBFGSStatusAndErrors(t *testing.T) {
	res, err := LBFGS(rosenbrock, []float64{-1.2, 1}, LBFGSConfig{MaxIterations: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != MaxIterationsReached || res.Iterations != 3 || res.Status.Converged() {
		t.Fatalf("status %v after %d iterations", res.Status, res.Iterations)
	}
	if res.F >= 24.2 { // f(-1.2, 1) = 24.2: every iteration must descend
		t.Fatalf("f did not decrease: %v", res.F)
	}
	res, err = LBFGS(rosenbrock, []float64{-1.2, 1}, LBFGSConfig{MaxEvaluations: 5})
	if err != nil || res.Status != MaxEvaluationsReached || res.Evaluations > 5 {
		t.Fatalf("evaluation budget: %+v, %v", res, err)
	}
	// Already at the minimum.
	res, err = LBFGS(rosenbrock, []float64{1, 1}, LBFGSConfig{})
	if err != nil || res.Status != GradientConverged || res.Iterations != 0 {
		t.Fatalf("at the minimum: %+v, %v", res, err)
	}
	// A steep function that overflows for long steps: f = e^x + e^-x.
	cosh := func(x, g []float64) float64 {
		g[0] = math.Exp(x[0]) - math.Exp(-x[0])
		return math.Exp(x[0]) + math.Exp(-x[0])
	}
	res, err = LBFGS(cosh, []float64{300}, LBFGSConfig{MaxIterations: 2000})
	if err != nil || !res.Status.Converged() || math.Abs(res.X[0]) > 1e-4 {
		t.Fatalf("cosh from 300: %+v, %v", res, err)
	}

	nanAt := func(x, g []float64) float64 { g[0] = 0; return math.NaN() }
	tests := []struct {
		name string
		f    Objective
		x0   []float64
		cfg  LBFGSConfig
		want string
	}{
		{"empty", rosenbrock, nil, LBFGSConfig{}, "non-empty"},
		{"nan start", nanAt, []float64{1}, LBFGSConfig{}, "NaN at the starting point"},
		{"wolfe", rosenbrock, []float64{1, 2}, LBFGSConfig{C1: 0.5, C2: 0.4}, "Wolfe"},
		{"history", rosenbrock, []float64{1, 2}, LBFGSConfig{History: -1}, "History"},
		{"tolerance", rosenbrock, []float64{1, 2}, LBFGSConfig{GradTol: -1}, "tolerances"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LBFGS(tc.f, tc.x0, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCubicMin(t *testing.T) {
	// f(a) = (a-2)^2 + 1 through a=0 and a=5: the cubic is the parabola.
	f := func(a float64) (float64, float64) { return (a-2)*(a-2) + 1, 2 * (a - 2) }
	fa, da := f(0)
	fb, db := f(5)
	if got := cubicMin(0, fa, da, 5, fb, db); math.Abs(got-2) > 1e-12 {
		t.Fatalf("cubicMin = %v, want 2", got)
	}
	if got := cubicMin(5, fb, db, 0, fa, da); math.Abs(got-2) > 1e-12 {
		t.Fatalf("cubicMin reversed = %v, want 2", got)
	}
}

// The two-loop recursion equals the dense BFGS inverse update
// H <- (I - rho s y') H (I - rho y s') + rho s s' applied to H0 = gamma I,
// oldest pair first, including after the ring has wrapped around.
func TestLBFGSDirectionMatchesDenseBFGS(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const n, m = 6, 4
	mem := newLBFGSMemory(m, n)
	var pairs [][2][]float64
	for it := 0; it < 7; it++ {
		s, y := make([]float64, n), make([]float64, n)
		for i := range s {
			s[i] = rng.NormFloat64()
			y[i] = s[i] + 0.3*rng.NormFloat64() // positive curvature
		}
		if dot(s, y) <= 0 {
			continue
		}
		pairs = append(pairs, [2][]float64{append([]float64(nil), s...), append([]float64(nil), y...)})
		mem.push(s, y)
		kept := pairs[max(0, len(pairs)-m):]
		newest := kept[len(kept)-1]
		gamma := dot(newest[0], newest[1]) / dot(newest[1], newest[1])
		h := make([][]float64, n)
		for i := range h {
			h[i] = make([]float64, n)
			h[i][i] = gamma
		}
		for _, pr := range kept {
			s, y := pr[0], pr[1]
			rho := 1 / dot(s, y)
			// V = I - rho y s'; H = V' H V + rho s s'.
			v := make([][]float64, n)
			for i := range v {
				v[i] = make([]float64, n)
				for j := range v[i] {
					if i == j {
						v[i][j] = 1
					}
					v[i][j] -= rho * y[i] * s[j]
				}
			}
			hv := make([][]float64, n)
			for i := range hv {
				hv[i] = make([]float64, n)
				for j := 0; j < n; j++ {
					for k := 0; k < n; k++ {
						hv[i][j] += h[i][k] * v[k][j]
					}
				}
			}
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					t := rho * s[i] * s[j]
					for k := 0; k < n; k++ {
						t += v[k][i] * hv[k][j]
					}
					h[i][j] = t
				}
			}
		}
		g := make([]float64, n)
		for i := range g {
			g[i] = rng.NormFloat64()
		}
		p := make([]float64, n)
		mem.direction(g, p)
		for i := 0; i < n; i++ {
			want := -dot(h[i], g)
			if math.Abs(p[i]-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Fatalf("after %d pairs: p[%d] = %v, dense BFGS %v", len(pairs), i, p[i], want)
			}
		}
	}
}
