package autograd_test

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"selfsup/autograd"
	"selfsup/tensor"
)

// The gradient-check harness. Every op is checked three ways against a
// float64 twin (twin64_test.go):
//
//  1. the float32 forward value and shape against the twin's forward;
//  2. the gradient of L = sum(op(inputs) * R), for a fixed random R, with
//     respect to every differentiable input, against the central finite
//     difference of the twin's L (h = 1e-6 in float64);
//  3. the accumulation path: building the op twice on the same leaves with
//     L = sum(op*R) + sum(op*R2) must give grad(R) + grad(R2), so the
//     "gradient already present, add to it" branch of every backward runs.
//
// Gradients are compared per element (tolerance relative to max(1, |g|))
// and as a whole (2-norm of the error relative to the 2-norm of the
// finite-difference gradient), which catches small systematic errors. Before
// each forward and backward pass the buffer pool is stocked with NaN-filled
// buffers of the sizes involved, so an op that leaves part of an output or
// of a fresh gradient buffer unwritten fails even without
// SELFSUP_POOL_POISON=1.
//
// Adding an op is one gradCase row.

// TestMain raises GOMAXPROCS to at least 4 before the tensor worker pool
// starts, so the parallel kernels split their work into several ranges even
// on a small CI machine (partitioning bugs show up as gradient errors).
func TestMain(m *testing.M) {
	if runtime.GOMAXPROCS(0) < 4 {
		runtime.GOMAXPROCS(4)
	}
	os.Exit(m.Run())
}

// drawFn fills n input values.
type drawFn func(r *rand.Rand, n int) []float32

// gradInput describes one input of a case: its shape, how its values are
// drawn (uniform in [-1, 1) when draw is nil) and whether it is a constant
// (no gradient checked; the harness asserts none is computed).
type gradInput struct {
	shape    []int
	draw     drawFn
	constant bool
}

// gradCase is one row of the gradient-check table.
type gradCase struct {
	name string
	in   []gradInput
	// build applies the op under test to the inputs (Param or Const Vars).
	// It must be deterministic: the harness calls it several times.
	build func(v []*autograd.Var) *autograd.Var
	// twin is the float64 reference of build.
	twin func(x []*nd) *nd
	// fwdTol and gradTol bound |got-want| / max(1, |want|); 0 means the
	// defaults (1e-5 forward, 1e-4 gradient).
	fwdTol, gradTol float64
	// normTol bounds the 2-norm of the gradient error relative to the 2-norm
	// of the finite-difference gradient (over the checked coordinates); 0
	// means gradTol/10. It catches a small systematic error (a wrong
	// constant factor) that hides under the per-element tolerance when the
	// gradients are much smaller than 1.
	normTol float64
	// maxFD caps the finite-difference coordinates checked per input
	// (sampled at random plus the first and last); 0 means 64.
	maxFD int
	// fwdOnly skips the gradient checks (outputs containing -Inf).
	fwdOnly bool
}

// P is a differentiable input of the given shape with values uniform in
// [-1, 1).
func P(shape ...int) gradInput { return gradInput{shape: shape} }

// C is a constant input of the given shape with values uniform in [-1, 1).
func C(shape ...int) gradInput { return gradInput{shape: shape, constant: true} }

// with sets how the input's values are drawn.
func (g gradInput) with(d drawFn) gradInput { g.draw = d; return g }

// uniform draws from [lo, hi).
func uniform(lo, hi float64) drawFn {
	return func(r *rand.Rand, n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return s
	}
}

// awayFromZero draws |x| in [lo, hi) with a random sign, keeping inputs of
// kinked functions (ReLU, Abs) and divisors far from 0.
func awayFromZero(lo, hi float64) drawFn {
	return func(r *rand.Rand, n int) []float32 {
		s := uniform(lo, hi)(r, n)
		for i := range s {
			if r.IntN(2) == 0 {
				s[i] = -s[i]
			}
		}
		return s
	}
}

// distinct draws a random permutation of n evenly spaced values in (-1, 1),
// so no two inputs tie (max pooling has a unique argmax, stable under the
// finite-difference step).
func distinct() drawFn {
	return func(r *rand.Rand, n int) []float32 {
		s := make([]float32, n)
		for i, p := range r.Perm(n) {
			s[i] = float32((float64(p)+0.5)/float64(n)*2 - 1)
		}
		return s
	}
}

// withNegInf draws uniform values in [-2, 2) and then sets the positions
// listed to -Inf.
func withNegInf(pos ...int) drawFn {
	return func(r *rand.Rand, n int) []float32 {
		s := uniform(-2, 2)(r, n)
		for _, p := range pos {
			s[p] = float32(math.Inf(-1))
		}
		return s
	}
}

// seedOf derives a deterministic seed from a case name.
func seedOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// mkVars wraps copies of the drawn values in fresh leaves.
func mkVars(tc gradCase, vals [][]float32) []*autograd.Var {
	vs := make([]*autograd.Var, len(tc.in))
	for i, in := range tc.in {
		t := tensor.FromData(append([]float32(nil), vals[i]...), in.shape...)
		if in.constant {
			vs[i] = autograd.Const(t)
		} else {
			vs[i] = autograd.Param(t, fmt.Sprintf("in%d", i))
		}
	}
	return vs
}

// to64 converts the drawn float32 values to twin inputs.
func to64(tc gradCase, vals [][]float32) []*nd {
	xs := make([]*nd, len(vals))
	for i, v := range vals {
		xs[i] = zeros(tc.in[i].shape...)
		for j, f := range v {
			xs[i].d[j] = float64(f)
		}
	}
	return xs
}

// within reports whether got matches want to tol relative to max(1, |want|);
// an infinite want must be matched exactly.
func within(got, want, tol float64) bool {
	if math.IsInf(want, 0) || math.IsNaN(want) {
		return got == want
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// lossGrads builds the op once per weight vector on fresh leaves holding
// vals, runs Backward on sum_j sum(op * Rj) and returns the leaves' gradients
// (nil for constants, after asserting they have none).
func lossGrads(t reporter, tc gradCase, vals [][]float32, rs ...[]float32) [][]float32 {
	t.Helper()
	vs := mkVars(tc, vals)
	var loss *autograd.Var
	for _, r := range rs {
		out := tc.build(vs)
		term := autograd.Sum(autograd.Mul(out, autograd.Const(tensor.FromData(append([]float32(nil), r...), out.Shape()...))))
		if loss == nil {
			loss = term
		} else {
			loss = autograd.Add(loss, term)
		}
	}
	sizes := []int{}
	for _, v := range vs {
		sizes = append(sizes, v.Value.Len())
	}
	dirtyPoolNaN(sizes...)
	if err := loss.Backward(); err != nil {
		t.Fatalf("Backward: %v", err)
	}
	grads := make([][]float32, len(vs))
	for i, v := range vs {
		if tc.in[i].constant {
			if v.Grad != nil {
				t.Errorf("constant input %d received a gradient", i)
			}
			continue
		}
		if v.Grad == nil {
			t.Fatalf("input %d: no gradient after Backward", i)
		}
		if !tensor.SameShape(v.Grad.Shape(), v.Value.Shape()) {
			t.Fatalf("input %d: gradient shape %v for value shape %v", i, v.Grad.Shape(), v.Value.Shape())
		}
		grads[i] = append([]float32(nil), v.Grad.Data...)
	}
	return grads
}

// dirtyPoolNaN puts NaN-filled buffers of the given lengths into the
// buffer pool, so a backward pass that takes a gradient buffer and forgets
// to clear it (or reads a buffer before writing it) yields NaN even when
// SELFSUP_POOL_POISON is not set.
func dirtyPoolNaN(sizes ...int) {
	nan := float32(math.NaN())
	for _, n := range sizes {
		for i := 0; i < 4; i++ {
			t := tensor.New(n)
			t.Fill(nan)
			tensor.Buffers.Put(t)
		}
	}
}

// fdCoords picks the coordinates of an n-element input to check by finite
// differences: all of them, or about limit of them (first, last and a
// random sample) for large inputs.
func fdCoords(r *rand.Rand, n, limit int) []int {
	if n <= limit {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all
	}
	cs := []int{0, n - 1}
	for _, p := range r.Perm(n)[:limit-2] {
		if p != 0 && p != n-1 {
			cs = append(cs, p)
		}
	}
	return cs
}

// runGradCase performs the three checks of one case.
func runGradCase(t reporter, tc gradCase) {
	t.Helper()
	fwdTol, gradTol, normTol, maxFD := tc.fwdTol, tc.gradTol, tc.normTol, tc.maxFD
	if fwdTol == 0 {
		fwdTol = 1e-5
	}
	if gradTol == 0 {
		gradTol = 1e-4
	}
	if normTol == 0 {
		normTol = gradTol / 10
	}
	if maxFD == 0 {
		maxFD = 64
	}
	rng := rand.New(rand.NewPCG(seedOf(tc.name), 0x5e1f5))
	vals := make([][]float32, len(tc.in))
	for i, in := range tc.in {
		draw := in.draw
		if draw == nil {
			draw = uniform(-1, 1)
		}
		vals[i] = draw(rng, numel(in.shape))
	}

	// 1. forward against the twin
	want := tc.twin(to64(tc, vals))
	sizes := []int{len(want.d)}
	for _, v := range vals {
		sizes = append(sizes, len(v))
	}
	dirtyPoolNaN(sizes...) // an output element left unwritten shows up as NaN
	out := tc.build(mkVars(tc, vals))
	if !tensor.SameShape(out.Shape(), want.shape) {
		t.Fatalf("forward shape %v, twin says %v", out.Shape(), want.shape)
	}
	bad := 0
	for i, w := range want.d {
		if g := float64(out.Value.Data[i]); !within(g, w, fwdTol) {
			if bad < 5 {
				t.Errorf("forward[%d] = %.8g, twin %.8g", i, g, w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("forward: %d of %d elements off (tol %g)", bad, len(want.d), fwdTol)
	}
	if tc.fwdOnly {
		return
	}

	// 2. gradients against central finite differences of the twin
	r1 := uniform(-1, 1)(rng, len(want.d))
	r2 := uniform(-1, 1)(rng, len(want.d))
	g1 := lossGrads(t, tc, vals, r1)
	xs := to64(tc, vals)
	loss64 := func() float64 {
		y := tc.twin(xs)
		s := 0.0
		for i, v := range y.d {
			s += v * float64(r1[i])
		}
		return s
	}
	const h = 1e-6
	for i, in := range tc.in {
		if in.constant {
			continue
		}
		bad := 0
		var errSq, refSq float64
		coords := fdCoords(rng, len(xs[i].d), maxFD)
		for _, j := range coords {
			x0 := xs[i].d[j]
			xs[i].d[j] = x0 + h
			lp := loss64()
			xs[i].d[j] = x0 - h
			lm := loss64()
			xs[i].d[j] = x0
			fd := (lp - lm) / (2 * h)
			if math.IsNaN(fd) {
				fd = 0 // an infinite input: the loss does not move
			}
			errSq += (float64(g1[i][j]) - fd) * (float64(g1[i][j]) - fd)
			refSq += fd * fd
			if g := float64(g1[i][j]); !within(g, fd, gradTol) || math.IsNaN(g) {
				if bad < 5 {
					t.Errorf("d/d in%d[%d]: analytic %.8g, finite difference %.8g", i, j, g, fd)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Fatalf("input %d %v: %d of %d checked gradient coordinates off (tol %g)", i, in.shape, bad, len(coords), gradTol)
		}
		if rel := math.Sqrt(errSq / refSq); refSq > 0 && !(rel <= normTol) {
			t.Fatalf("input %d %v: gradient off by %.3g relative (2-norm over %d coordinates), tol %g", i, in.shape, rel, len(coords), normTol)
		}
	}

	// 3. accumulation: two uses of the same leaves add up
	g2 := lossGrads(t, tc, vals, r2)
	g12 := lossGrads(t, tc, vals, r1, r2)
	for i, in := range tc.in {
		if in.constant {
			continue
		}
		bad := 0
		for j := range g12[i] {
			sum := float64(g1[i][j]) + float64(g2[i][j])
			if g := float64(g12[i][j]); !within(g, sum, 1e-5) || math.IsNaN(g) {
				if bad < 5 {
					t.Errorf("accumulated d/d in%d[%d] = %.8g, separate passes sum to %.8g", i, j, g, sum)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Fatalf("input %d: %d accumulated gradient elements off", i, bad)
		}
	}
}

// TestGradients runs the whole op table.
func TestGradients(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range gradCases() {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) { runGradCase(t, tc) })
	}
}

// reporter is the part of testing.T the harness uses, so the harness can
// also be run against a recorder in its own test.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// recorder is a reporter that remembers failures; Fatalf stops the check by
// panicking with a stopSignal, which run recovers.
type recorder struct{ msgs []string }

// stopSignal is the panic value of recorder.Fatalf.
type stopSignal struct{}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(stopSignal{})
}

// run calls f with r, stopping quietly at a Fatalf.
func (r *recorder) run(f func(reporter)) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stopSignal); !ok {
				panic(p)
			}
		}
	}()
	f(r)
}

// TestHarnessCatchesWrongGradient makes sure the harness is not vacuous:
// wrong forwards, wrong gradients and a broken accumulation path must each
// fail it, and a correct op must pass.
func TestHarnessCatchesWrongGradient(t *testing.T) {
	square := func(x []*nd) *nd { return tMap(x[0], func(a float64) float64 { return a * a }) }
	cases := []struct {
		name  string
		build func(v []*autograd.Var) *autograd.Var
		fails bool
	}{
		{"correct", func(v []*autograd.Var) *autograd.Var { return autograd.Square(v[0]) }, false},
		// right value, gradient through one factor only (1x instead of 2x)
		{"half gradient", func(v []*autograd.Var) *autograd.Var { return autograd.Mul(v[0], autograd.Detach(v[0])) }, true},
		// wrong value
		{"wrong forward", func(v []*autograd.Var) *autograd.Var { return autograd.Scale(autograd.Square(v[0]), 1.001) }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			tc := gradCase{name: c.name, in: []gradInput{P(3, 4)}, build: c.build, twin: square}
			rec.run(func(r reporter) { runGradCase(r, tc) })
			if failed := len(rec.msgs) > 0; failed != c.fails {
				t.Fatalf("harness failed = %v, want %v; messages: %v", failed, c.fails, rec.msgs)
			}
		})
	}
}
