package eval

import (
	"fmt"
	"math"
)

// Objective evaluates a smooth function at x: it writes the gradient into
// grad (len(grad) == len(x)) and returns the value. It must not keep x or
// grad after returning.
type Objective func(x, grad []float64) float64

// LBFGSConfig sets up LBFGS. Zero fields take the documented defaults.
type LBFGSConfig struct {
	// History is the number of correction pairs kept (default 10).
	History int
	// MaxIterations bounds the iterations (default 200).
	MaxIterations int
	// MaxEvaluations bounds the objective evaluations, line searches
	// included (default 2*MaxIterations + 20).
	MaxEvaluations int
	// GradTol stops the run when the largest gradient entry in absolute
	// value is at most GradTol (default 1e-5).
	GradTol float64
	// FuncTol stops the run when an iteration lowers f by at most
	// FuncTol*max(|f|, 1) (default 1e-10; about 1e-7 suits objectives
	// computed in float32).
	FuncTol float64
	// C1 and C2 are the strong Wolfe constants of the line search
	// (defaults 1e-4 and 0.9).
	C1, C2 float64
	// MaxLineSearch bounds the evaluations of one line search (default 25).
	MaxLineSearch int
	// Progress, when set, is called after every iteration with the
	// iteration number, the value and the gradient's largest entry.
	Progress func(iteration int, f, gradMax float64)
}

func (c LBFGSConfig) withDefaults() LBFGSConfig {
	if c.History == 0 {
		c.History = 10
	}
	if c.MaxIterations == 0 {
		c.MaxIterations = 200
	}
	if c.MaxEvaluations == 0 {
		c.MaxEvaluations = 2*c.MaxIterations + 20
	}
	if c.GradTol == 0 {
		c.GradTol = 1e-5
	}
	if c.FuncTol == 0 {
		c.FuncTol = 1e-10
	}
	if c.C1 == 0 {
		c.C1 = 1e-4
	}
	if c.C2 == 0 {
		c.C2 = 0.9
	}
	if c.MaxLineSearch == 0 {
		c.MaxLineSearch = 25
	}
	return c
}

func (c LBFGSConfig) check() error {
	switch {
	case c.History < 1:
		return fmt.Errorf("eval.LBFGS: History is %d, want at least 1", c.History)
	case c.MaxIterations < 1 || c.MaxEvaluations < 1 || c.MaxLineSearch < 1:
		return fmt.Errorf("eval.LBFGS: iteration limits %d/%d/%d must be positive", c.MaxIterations, c.MaxEvaluations, c.MaxLineSearch)
	case !(c.GradTol >= 0) || !(c.FuncTol >= 0):
		return fmt.Errorf("eval.LBFGS: tolerances %v/%v must not be negative", c.GradTol, c.FuncTol)
	case !(0 < c.C1 && c.C1 < c.C2 && c.C2 < 1):
		return fmt.Errorf("eval.LBFGS: Wolfe constants need 0 < C1 < C2 < 1, got %v and %v", c.C1, c.C2)
	}
	return nil
}

// LBFGSStatus says why LBFGS stopped.
type LBFGSStatus int

const (
	// GradientConverged: the gradient's largest entry fell to GradTol.
	GradientConverged LBFGSStatus = iota
	// FunctionConverged: an iteration lowered f by at most FuncTol relative.
	FunctionConverged
	// MaxIterationsReached: the iteration budget ran out.
	MaxIterationsReached
	// MaxEvaluationsReached: the evaluation budget ran out.
	MaxEvaluationsReached
	// LineSearchFailed: no step along steepest descent lowered f, usually
	// because f is at the limit of its floating-point precision.
	LineSearchFailed
)

// String describes the status.
func (s LBFGSStatus) String() string {
	switch s {
	case GradientConverged:
		return "gradient converged"
	case FunctionConverged:
		return "function converged"
	case MaxIterationsReached:
		return "max iterations reached"
	case MaxEvaluationsReached:
		return "max evaluations reached"
	case LineSearchFailed:
		return "line search failed"
	}
	return fmt.Sprintf("LBFGSStatus(%d)", int(s))
}

// Converged reports whether the status is one of the convergence tests
// rather than a budget or a failure.
func (s LBFGSStatus) Converged() bool { return s == GradientConverged || s == FunctionConverged }

// LBFGSResult is where LBFGS stopped.
type LBFGSResult struct {
	// X is the final point, F the value there and GradMax the largest
	// gradient entry in absolute value.
	X       []float64
	F       float64
	GradMax float64
	// Iterations and Evaluations count the work done.
	Iterations, Evaluations int
	// Status says why the run stopped.
	Status LBFGSStatus
}

// LBFGS minimises f from x0 (which it does not modify) with the
// limited-memory BFGS method (Nocedal and Wright, Numerical Optimization,
// algorithms 7.4 and 7.5) and a line search that enforces the strong Wolfe
// conditions by bracketing and cubic interpolation (algorithms 3.5 and 3.6).
// The first step has unit length; later ones start from the quasi-Newton
// step 1. It returns an error only for unusable input (an empty x0, a bad
// configuration, or a non-finite value or gradient at x0); running out of
// budget is reported in the result's Status.
func LBFGS(f Objective, x0 []float64, cfg LBFGSConfig) (*LBFGSResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	n := len(x0)
	if n == 0 || f == nil {
		return nil, fmt.Errorf("eval.LBFGS: need an objective and a non-empty starting point")
	}
	x := append([]float64(nil), x0...)
	g := make([]float64, n)
	fx := f(x, g)
	if !isFinite(fx) || !allFinite(g) {
		return nil, fmt.Errorf("eval.LBFGS: the objective is %v at the starting point or its gradient is not finite", fx)
	}
	res := &LBFGSResult{Evaluations: 1}
	mem := newLBFGSMemory(cfg.History, n)
	sNew, yNew := make([]float64, n), make([]float64, n)
	p := make([]float64, n)
	ls := &lineSearch{f: f, x0: x, p: p, c1: cfg.C1, c2: cfg.C2,
		xt: make([]float64, n), gt: make([]float64, n), xb: make([]float64, n), gb: make([]float64, n)}

	res.Status = MaxIterationsReached
	if maxAbs(g) <= cfg.GradTol {
		res.Status = GradientConverged
	}
	for res.Status == MaxIterationsReached && res.Iterations < cfg.MaxIterations {
		mem.direction(g, p)
		step := 1.0
		if mem.stored == 0 {
			step = 1 / norm2(g)
		}
		d0 := dot(g, p)
		if !(d0 < 0) {
			if mem.stored == 0 {
				// Even steepest descent is flat to rounding: nothing to gain.
				res.Status = LineSearchFailed
				break
			}
			// Not a descent direction (rounding): restart from steepest descent.
			mem.stored = 0
			continue
		}
		ls.f0, ls.d0 = fx, d0
		ls.maxEvals = min(cfg.MaxLineSearch, cfg.MaxEvaluations-res.Evaluations)
		ls.evals = 0
		a := ls.run(step)
		res.Evaluations += ls.evals
		if a == 0 {
			if mem.stored > 0 && res.Evaluations < cfg.MaxEvaluations {
				mem.stored = 0 // forget the curvature pairs and retry steepest descent
				continue
			}
			if res.Evaluations >= cfg.MaxEvaluations {
				res.Status = MaxEvaluationsReached
			} else {
				res.Status = LineSearchFailed
			}
			break
		}
		res.Iterations++
		// The new pair goes to the spare buffers and replaces the oldest
		// pair only when it has positive curvature.
		for i := range x {
			sNew[i] = ls.xb[i] - x[i]
			yNew[i] = ls.gb[i] - g[i]
		}
		copy(x, ls.xb)
		copy(g, ls.gb)
		fOld := fx
		fx = ls.fb
		sNew, yNew = mem.push(sNew, yNew)
		gmax := maxAbs(g)
		if cfg.Progress != nil {
			cfg.Progress(res.Iterations, fx, gmax)
		}
		switch {
		case gmax <= cfg.GradTol:
			res.Status = GradientConverged
		case fOld-fx <= cfg.FuncTol*math.Max(math.Abs(fx), 1):
			res.Status = FunctionConverged
		case res.Evaluations >= cfg.MaxEvaluations:
			res.Status = MaxEvaluationsReached
		}
	}
	res.X, res.F, res.GradMax = x, fx, maxAbs(g)
	return res, nil
}

// lbfgsMemory holds the last m correction pairs s = x_{k+1} - x_k,
// y = g_{k+1} - g_k in a ring.
type lbfgsMemory struct {
	s, y         [][]float64
	rho, alpha   []float64
	stored, head int // pairs held; slot of the next pair
}

func newLBFGSMemory(m, n int) *lbfgsMemory {
	mem := &lbfgsMemory{s: make([][]float64, m), y: make([][]float64, m), rho: make([]float64, m), alpha: make([]float64, m)}
	for i := range mem.s {
		mem.s[i] = make([]float64, n)
		mem.y[i] = make([]float64, n)
	}
	return mem
}

// push stores the pair (s, y) when it has positive curvature, taking
// ownership of the slices, and returns two slices the caller may reuse for
// the next pair.
func (mem *lbfgsMemory) push(s, y []float64) (sFree, yFree []float64) {
	sy := dot(s, y)
	if !(sy > 1e-10*dot(y, y)) {
		return s, y // would break positive definiteness: skip it
	}
	h := mem.head
	mem.s[h], s = s, mem.s[h]
	mem.y[h], y = y, mem.y[h]
	mem.rho[h] = 1 / sy
	mem.head = (h + 1) % len(mem.s)
	mem.stored = min(mem.stored+1, len(mem.s))
	return s, y
}

// pair returns the j-th newest stored pair's slot (j = 0 is the newest).
func (mem *lbfgsMemory) pair(j int) int {
	m := len(mem.s)
	return (mem.head - 1 - j + m) % m
}

// direction writes p = -H g, where H is the L-BFGS inverse-Hessian
// approximation built from the stored pairs on H0 = gamma I with gamma =
// s'y/y'y of the newest pair (Nocedal and Wright, algorithm 7.4).
func (mem *lbfgsMemory) direction(g, p []float64) {
	for i := range p {
		p[i] = -g[i]
	}
	for j := 0; j < mem.stored; j++ {
		k := mem.pair(j)
		mem.alpha[k] = mem.rho[k] * dot(mem.s[k], p)
		axpy(-mem.alpha[k], mem.y[k], p)
	}
	if mem.stored > 0 {
		k := mem.pair(0)
		gamma := 1 / (mem.rho[k] * dot(mem.y[k], mem.y[k]))
		for i := range p {
			p[i] *= gamma
		}
	}
	for j := mem.stored - 1; j >= 0; j-- {
		k := mem.pair(j)
		b := mem.rho[k] * dot(mem.y[k], p)
		axpy(mem.alpha[k]-b, mem.s[k], p)
	}
}

// lineSearch finds a step a along p from x0 satisfying the strong Wolfe
// conditions. It remembers the best acceptable point (sufficient decrease)
// in xb, gb, fb, so that the caller never evaluates f twice at one point.
type lineSearch struct {
	f              Objective
	x0, p          []float64
	f0, d0         float64
	c1, c2         float64
	xt, gt, xb, gb []float64
	fb, ab         float64
	evals          int
	maxEvals       int
}

func (ls *lineSearch) eval(a float64) (fa, da float64) {
	for i := range ls.xt {
		ls.xt[i] = ls.x0[i] + a*ls.p[i]
	}
	fa = ls.f(ls.xt, ls.gt)
	ls.evals++
	if !allFinite(ls.gt) {
		return math.Inf(1), math.NaN()
	}
	return fa, dot(ls.gt, ls.p)
}

func (ls *lineSearch) keep(a, fa float64) {
	copy(ls.xb, ls.xt)
	copy(ls.gb, ls.gt)
	ls.ab, ls.fb = a, fa
}

func (ls *lineSearch) armijo(a, fa float64) bool { return fa <= ls.f0+ls.c1*a*ls.d0 }

func (ls *lineSearch) curvature(da float64) bool { return math.Abs(da) <= -ls.c2*ls.d0 }

// run returns the accepted step, or 0 when no step lowered f enough. When
// the budget runs out first it returns the best acceptable step found.
func (ls *lineSearch) run(a float64) float64 {
	ls.ab = 0
	aPrev, fPrev, dPrev := 0.0, ls.f0, ls.d0
	for ls.evals < ls.maxEvals {
		fa, da := ls.eval(a)
		if !isFinite(fa) || !isFinite(da) {
			// Overshot into overflow: shrink towards the last good step.
			return ls.zoom(aPrev, fPrev, dPrev, a, math.Inf(1), math.NaN())
		}
		if !ls.armijo(a, fa) || (aPrev > 0 && fa >= fPrev) {
			return ls.zoom(aPrev, fPrev, dPrev, a, fa, da)
		}
		ls.keep(a, fa)
		if ls.curvature(da) {
			return a
		}
		if da >= 0 {
			return ls.zoom(a, fa, da, aPrev, fPrev, dPrev)
		}
		// Still descending: extrapolate, at least doubling the step.
		next := cubicMin(aPrev, fPrev, dPrev, a, fa, da)
		if !(next >= 2*a && next <= 10*a) {
			next = 4 * a
		}
		aPrev, fPrev, dPrev = a, fa, da
		a = next
	}
	return ls.ab
}

// zoom narrows the bracket between lo (acceptable, lowest value so far) and
// hi until a step satisfies both Wolfe conditions (algorithm 3.6).
func (ls *lineSearch) zoom(lo, flo, dlo, hi, fhi, dhi float64) float64 {
	for ls.evals < ls.maxEvals {
		left, right := math.Min(lo, hi), math.Max(lo, hi)
		w := right - left
		if w <= 1e-14*math.Max(right, 1e-300) {
			break
		}
		a := math.NaN()
		if isFinite(fhi) && isFinite(dhi) {
			a = cubicMin(lo, flo, dlo, hi, fhi, dhi)
		}
		if !(a >= left+0.1*w && a <= right-0.1*w) {
			a = left + 0.5*w
		}
		fa, da := ls.eval(a)
		if !isFinite(fa) || !isFinite(da) {
			hi, fhi, dhi = a, math.Inf(1), math.NaN()
			continue
		}
		if !ls.armijo(a, fa) || fa >= flo {
			hi, fhi, dhi = a, fa, da
			continue
		}
		ls.keep(a, fa)
		if ls.curvature(da) {
			return a
		}
		if da*(hi-lo) >= 0 {
			hi, fhi, dhi = lo, flo, dlo
		}
		lo, flo, dlo = a, fa, da
	}
	return ls.ab
}

// cubicMin returns the minimiser of the cubic interpolating f and its
// derivative at a and b (Nocedal and Wright, eq. 3.59), or NaN when the cubic
// has no minimiser.
func cubicMin(a, fa, da, b, fb, db float64) float64 {
	if a == b {
		return math.NaN()
	}
	d1 := da + db - 3*(fa-fb)/(a-b)
	disc := d1*d1 - da*db
	if disc < 0 {
		return math.NaN()
	}
	d2 := math.Copysign(math.Sqrt(disc), b-a)
	den := db - da + 2*d2
	if den == 0 {
		return math.NaN()
	}
	return b - (b-a)*(db+d2-d1)/den
}

func dot(a, b []float64) float64 {
	t := 0.0
	for i, v := range a {
		t += v * b[i]
	}
	return t
}

func axpy(alpha float64, x, y []float64) {
	for i, v := range x {
		y[i] += alpha * v
	}
}

// norm2 returns the Euclidean norm of v without overflow in the squares.
func norm2(v []float64) float64 {
	m := maxAbs(v)
	if m == 0 || math.IsInf(m, 0) {
		return m
	}
	t := 0.0
	for _, x := range v {
		t += (x / m) * (x / m)
	}
	return m * math.Sqrt(t)
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func allFinite(v []float64) bool {
	for _, x := range v {
		if !isFinite(x) {
			return false
		}
	}
	return true
}
