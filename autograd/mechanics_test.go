package autograd_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/tensor"
)

// Tests of the tape itself: freeing, retaining, no-grad mode, frozen
// parameters, error reporting. They pass with and without
// SELFSUP_POOL_POISON=1 (with it, a read of a released buffer shows up as
// NaN).

// randTensor returns a tensor of the given shape with values in [lo, hi).
func randTensor(seed uint64, lo, hi float64, shape ...int) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 99))
	return tensor.FromData(uniform(lo, hi)(r, numel(shape)), shape...)
}

// closeSlices reports the first index where got and want differ by more
// than tol relative to max(1, |want|), or -1.
func closeSlices(got []float32, want []float64, tol float64) int {
	if len(got) != len(want) {
		return 0
	}
	for i, w := range want {
		if !within(float64(got[i]), w, tol) || math.IsNaN(float64(got[i])) {
			return i
		}
	}
	return -1
}

// dirtyPool takes buffers of the given length from the pool and scribbles
// on them, so a Var still reading a released buffer sees garbage even
// without SELFSUP_POOL_POISON.
func dirtyPool(n int) {
	var ts []*tensor.Tensor
	for i := 0; i < 8; i++ {
		t := tensor.Buffers.Get(n)
		t.Fill(12345)
		ts = append(ts, t)
	}
	_ = ts // held, not returned: the pool hands out fresh ones afterwards
}

func TestBackwardFreesIntermediatesKeepsLeavesAndRetained(t *testing.T) {
	x := autograd.Param(randTensor(1, -1, 1, 3, 4), "x")
	xv := append([]float32(nil), x.Value.Data...)
	h := autograd.Exp(x)
	k := autograd.Tanh(h).Retain()
	m := autograd.Mul(k, x)
	loss := autograd.Sum(m)
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	dirtyPool(12)
	for name, v := range map[string]*autograd.Var{"Exp": h, "Mul": m} {
		if v.Value != nil || v.Grad != nil {
			t.Errorf("intermediate %s kept Value %v / Grad %v after Backward", name, v.Value, v.Grad)
		}
	}
	if loss.Value == nil || math.IsNaN(float64(loss.Item())) {
		t.Fatalf("the root lost its value: %v", loss.Value)
	}
	// leaf: value untouched, gradient d/dx sum(tanh(e^x) x) = tanh(e^x) + x e^x (1 - tanh^2(e^x))
	for i, v := range x.Value.Data {
		if v != xv[i] {
			t.Fatalf("leaf value changed at %d: %v -> %v", i, xv[i], v)
		}
	}
	wantG := make([]float64, 12)
	wantK := make([]float64, 12)
	for i, v := range xv {
		e := math.Exp(float64(v))
		th := math.Tanh(e)
		wantK[i] = th
		wantG[i] = th + float64(v)*e*(1-th*th)
	}
	if x.Grad == nil {
		t.Fatal("leaf has no gradient")
	}
	if i := closeSlices(x.Grad.Data, wantG, 1e-5); i >= 0 {
		t.Fatalf("leaf gradient[%d] = %v, want %v", i, x.Grad.Data[i], wantG[i])
	}
	// retained: value and gradient (dL/dk = x) survive
	if k.Value == nil || k.Grad == nil {
		t.Fatalf("retained Var lost Value %v / Grad %v", k.Value, k.Grad)
	}
	if i := closeSlices(k.Value.Data, wantK, 1e-6); i >= 0 {
		t.Fatalf("retained value[%d] = %v, want %v", i, k.Value.Data[i], wantK[i])
	}
	for i, v := range xv {
		if k.Grad.Data[i] != v {
			t.Fatalf("retained gradient[%d] = %v, want %v", i, k.Grad.Data[i], v)
		}
	}
}

// A view (Reshape, Flatten) shares its parent's buffer. When the view is
// retained, or is the root, Backward must not hand the shared buffer back to
// the pool with the parent.
func TestRetainedViewSurvivesBackward(t *testing.T) {
	t.Run("retained Flatten", func(t *testing.T) {
		x := autograd.Param(randTensor(2, -1, 1, 3, 2, 2), "x")
		emb := autograd.Flatten(autograd.Exp(x)).Retain() // e.g. an encoder's output
		loss := autograd.Sum(autograd.Square(emb))
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		dirtyPool(12)
		want := make([]float64, 12)
		for i, v := range x.Value.Data {
			want[i] = math.Exp(float64(v))
		}
		if emb.Value == nil {
			t.Fatal("retained view lost its value")
		}
		if i := closeSlices(emb.Value.Data, want, 1e-6); i >= 0 {
			t.Fatalf("BUG: retained Reshape view reads a released buffer: value[%d] = %v, want %v", i, emb.Value.Data[i], want[i])
		}
	})
	t.Run("Reshape as root", func(t *testing.T) {
		x := autograd.Param(randTensor(3, -1, 1, 4), "x")
		loss := autograd.Reshape(autograd.Sum(autograd.Exp(x)), 1)
		want := float64(loss.Item())
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		dirtyPool(1)
		if loss.Value == nil || float64(loss.Item()) != want {
			t.Fatalf("BUG: root Reshape view reads a released buffer: loss %v after Backward, %v before", loss.Value, want)
		}
	})
}

func TestNoGradRecordsNothing(t *testing.T) {
	x := autograd.Param(randTensor(4, -1, 1, 5, 3), "x")
	w := autograd.Param(randTensor(5, -1, 1, 4, 3), "w")
	if !autograd.GradEnabled() {
		t.Fatal("grad mode off outside NoGrad")
	}
	var y, loss *autograd.Var
	autograd.NoGrad(func() {
		if autograd.GradEnabled() {
			t.Error("grad mode on inside NoGrad")
		}
		autograd.NoGrad(func() {}) // nesting keeps it off
		if autograd.GradEnabled() {
			t.Error("grad mode on after a nested NoGrad")
		}
		y = autograd.ReLU(autograd.Linear(x, w, nil))
		loss = autograd.Sum(y)
	})
	if !autograd.GradEnabled() {
		t.Fatal("grad mode still off after NoGrad")
	}
	if y.RequiresGrad() || loss.RequiresGrad() {
		t.Fatal("results computed under NoGrad require a gradient")
	}
	err := loss.Backward()
	if err == nil {
		t.Fatal("Backward of a NoGrad result succeeded")
	}
	if x.Grad != nil || w.Grad != nil {
		t.Fatal("parameters received gradients from a NoGrad graph")
	}
	// values are still computed
	want := tMap(tLinear(to64one(x.Value), to64one(w.Value), nil), func(v float64) float64 { return math.Max(v, 0) })
	if i := closeSlices(y.Value.Data, want.d, 1e-5); i >= 0 {
		t.Fatalf("NoGrad value[%d] = %v, want %v", i, y.Value.Data[i], want.d[i])
	}
}

// to64one converts a tensor to a twin array.
func to64one(t *tensor.Tensor) *nd {
	a := zeros(t.Shape()...)
	for i, v := range t.Data {
		a.d[i] = float64(v)
	}
	return a
}

func TestFrozenParameters(t *testing.T) {
	x := autograd.Param(randTensor(6, -1, 1, 4, 5), "x")
	w1 := autograd.Param(randTensor(7, -1, 1, 6, 5), "w1")
	w2 := autograd.Param(randTensor(8, -1, 1, 3, 6), "w2")
	w1.SetRequiresGrad(false)
	if w1.RequiresGrad() {
		t.Fatal("SetRequiresGrad(false) did not freeze")
	}
	loss := autograd.Sum(autograd.Linear(autograd.Tanh(autograd.Linear(x, w1, nil)), w2, nil))
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	if w1.Grad != nil {
		t.Fatal("frozen parameter received a gradient")
	}
	if w2.Grad == nil || x.Grad == nil {
		t.Fatal("gradient did not flow past the frozen layer")
	}
	// the gradient reaching x through the frozen w1 is still right
	xs, w1s, w2s := to64one(x.Value), to64one(w1.Value), to64one(w2.Value)
	f := func() float64 { return tSum(tLinear(tMap(tLinear(xs, w1s, nil), math.Tanh), w2s, nil)).d[0] }
	for j := range xs.d {
		x0 := xs.d[j]
		xs.d[j] = x0 + 1e-6
		lp := f()
		xs.d[j] = x0 - 1e-6
		lm := f()
		xs.d[j] = x0
		if fd := (lp - lm) / 2e-6; !within(float64(x.Grad.Data[j]), fd, 1e-4) {
			t.Fatalf("dx[%d] = %v through a frozen layer, finite difference %v", j, x.Grad.Data[j], fd)
		}
	}

	// everything frozen: nothing to differentiate
	w2.SetRequiresGrad(false)
	x.SetRequiresGrad(false)
	loss = autograd.Sum(autograd.Linear(autograd.Tanh(autograd.Linear(x, w1, nil)), w2, nil))
	if loss.RequiresGrad() {
		t.Fatal("a result of frozen parameters only requires a gradient")
	}
	if err := loss.Backward(); err == nil {
		t.Fatal("Backward with every parameter frozen succeeded")
	}
	// unfreezing works again
	w2.SetRequiresGrad(true)
	if !autograd.Sum(autograd.Linear(autograd.Linear(x, w1, nil), w2, nil)).RequiresGrad() {
		t.Fatal("unfrozen parameter does not require a gradient")
	}

	// only leaves can be frozen
	h := autograd.Exp(w2)
	err := autograd.Guard(func() error { h.SetRequiresGrad(false); return nil })
	var oe *autograd.OpError
	if !errors.As(err, &oe) || oe.Op != "SetRequiresGrad" {
		t.Fatalf("freezing a computed Var: got %v, want an *OpError from SetRequiresGrad", err)
	}
}

func TestBackwardRejectsNonFiniteLoss(t *testing.T) {
	for _, c := range []struct {
		name, want string
		vals       []float32
		f          func(*autograd.Var) *autograd.Var
	}{
		{"NaN", "NaN", []float32{1, -2, 3}, autograd.Log},
		{"+Inf", "+Inf", []float32{1, 200, 3}, autograd.Exp},
		{"-Inf", "-Inf", []float32{1, 0, 3}, autograd.Log},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := autograd.Param(tensor.FromData(c.vals, 3), "x")
			loss := autograd.Sum(c.f(x))
			err := loss.Backward()
			if err == nil {
				t.Fatalf("Backward of a %s loss succeeded", c.name)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %s", err, c.want)
			}
			if x.Grad != nil {
				t.Fatal("a diverged loss wrote gradients")
			}
		})
	}
}

func TestBackwardShapesAndSeeds(t *testing.T) {
	x := autograd.Param(randTensor(9, -1, 1, 3, 4), "x")
	y := autograd.Tanh(x)
	if err := y.Backward(); err == nil || !strings.Contains(err.Error(), "scalar") {
		t.Fatalf("Backward of a [3,4] value: %v, want an error asking for a scalar", err)
	}
	if err := y.BackwardWith(tensor.New(4, 3)); err == nil {
		t.Fatal("BackwardWith a wrongly shaped seed succeeded")
	}
	// BackwardWith(R) gives the gradient of sum(y * R)
	r := randTensor(10, -1, 1, 3, 4)
	if err := y.BackwardWith(r.Clone()); err != nil {
		t.Fatal(err)
	}
	for i, v := range x.Value.Data {
		th := math.Tanh(float64(v))
		want := float64(r.Data[i]) * (1 - th*th)
		if !within(float64(x.Grad.Data[i]), want, 1e-6) {
			t.Fatalf("BackwardWith gradient[%d] = %v, want %v", i, x.Grad.Data[i], want)
		}
	}
}

func TestGradientsAccumulateAcrossBackwardCalls(t *testing.T) {
	x := autograd.Param(randTensor(11, -1, 1, 2, 3), "x")
	if err := autograd.Sum(autograd.Scale(x, 2)).Backward(); err != nil {
		t.Fatal(err)
	}
	if err := autograd.Sum(autograd.Scale(x, 3)).Backward(); err != nil {
		t.Fatal(err)
	}
	for i, g := range x.Grad.Data {
		if g != 5 {
			t.Fatalf("gradient[%d] = %v after two Backward calls, want 2+3", i, g)
		}
	}
	x.ZeroGrad()
	if x.Grad != nil {
		t.Fatal("ZeroGrad kept the gradient")
	}
	if err := autograd.Sum(autograd.Scale(x, 3)).Backward(); err != nil {
		t.Fatal(err)
	}
	if x.Grad.Data[0] != 3 {
		t.Fatalf("gradient after ZeroGrad = %v, want 3", x.Grad.Data[0])
	}
}

// A second Backward through an already-freed graph must not add the
// gradients again (it may return an error or do nothing).
func TestSecondBackwardDoesNotDoubleCount(t *testing.T) {
	x := autograd.Param(randTensor(12, -1, 1, 5), "x")
	loss := autograd.Sum(autograd.Square(x))
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	first := append([]float32(nil), x.Grad.Data...)
	_ = loss.Backward()
	for i, g := range x.Grad.Data {
		if g != first[i] {
			t.Fatalf("second Backward changed gradient[%d]: %v -> %v", i, first[i], g)
		}
	}
}

func TestDetachStopsGradient(t *testing.T) {
	x := autograd.Param(randTensor(13, -1, 1, 4), "x")
	d := autograd.Detach(x)
	if d.RequiresGrad() || !d.IsLeaf() {
		t.Fatal("Detach result is not a constant leaf")
	}
	if err := autograd.Sum(autograd.Mul(x, d)).Backward(); err != nil {
		t.Fatal(err)
	}
	for i, v := range x.Value.Data {
		if x.Grad.Data[i] != v {
			t.Fatalf("gradient[%d] = %v through x*detach(x), want %v", i, x.Grad.Data[i], v)
		}
	}
}

func TestFree(t *testing.T) {
	x := autograd.Param(randTensor(14, -1, 1, 6), "x")
	var y, view *autograd.Var
	autograd.NoGrad(func() {
		y = autograd.Exp(x)
		view = autograd.Reshape(y, 2, 3)
	})
	view.Free() // a view never frees the buffer it shares
	if y.Value == nil || view.Value == nil {
		t.Fatal("Free of a view released something")
	}
	y.Free()
	if y.Value != nil {
		t.Fatal("Free of an untracked result kept its value")
	}
	x.Free()
	if x.Value == nil {
		t.Fatal("Free released a leaf")
	}
	tracked := autograd.Exp(x)
	tracked.Free()
	if tracked.Value == nil {
		t.Fatal("Free released a value the backward pass needs")
	}
	if err := autograd.Sum(tracked).Backward(); err != nil {
		t.Fatal(err)
	}
	var nilVar *autograd.Var
	nilVar.Free() // no panic
}

func TestVarMetadata(t *testing.T) {
	w := autograd.Param(randTensor(15, -1, 1, 2, 3), "w")
	c := autograd.Const(tensor.FromData([]float32{4}))
	y := autograd.Mul(w, c)
	switch {
	case !w.IsLeaf() || !w.RequiresGrad() || w.Name != "w" || w.Op() != "":
		t.Fatalf("Param metadata wrong: leaf %v grad %v name %q op %q", w.IsLeaf(), w.RequiresGrad(), w.Name, w.Op())
	case !c.IsLeaf() || c.RequiresGrad():
		t.Fatal("Const metadata wrong")
	case y.IsLeaf() || !y.RequiresGrad() || y.Op() != "Mul":
		t.Fatalf("result metadata wrong: leaf %v grad %v op %q", y.IsLeaf(), y.RequiresGrad(), y.Op())
	case !tensor.SameShape(y.Shape(), []int{2, 3}) || c.Item() != 4:
		t.Fatalf("Shape %v / Item %v", y.Shape(), c.Item())
	}
}

func TestDetectAnomalyNamesTheOp(t *testing.T) {
	autograd.SetDetectAnomaly(true)
	defer autograd.SetDetectAnomaly(false)
	x := autograd.Param(tensor.FromData([]float32{1, -1}, 2), "x")
	err := autograd.Guard(func() error { autograd.Sqrt(autograd.Exp(x)); return nil })
	if err != nil {
		t.Fatalf("finite ops flagged: %v", err)
	}
	err = autograd.Guard(func() error { autograd.Log(autograd.Neg(x)); return nil })
	var oe *autograd.OpError
	if !errors.As(err, &oe) || oe.Op != "Log" {
		t.Fatalf("NaN from Log: got %v, want an *OpError naming Log", err)
	}
}

// TestOpErrors checks that bad arguments panic with an *OpError naming the
// op, which Guard turns into an error.
func TestOpErrors(t *testing.T) {
	v := func(shape ...int) *autograd.Var { return autograd.Param(tensor.New(shape...), "") }
	cases := []opErrorCase{
		{"Add", func() { autograd.Add(v(2, 3), v(4)) }},
		{"Sub", func() { autograd.Sub(v(2, 3), v(3, 2)) }},
		{"Mul", func() { autograd.Mul(v(5), v(4)) }},
		{"Div", func() { autograd.Div(v(2, 2, 3), v(2, 3, 3)) }},
		{"SumAxis", func() { autograd.SumAxis(v(2, 3), 2, false) }},
		{"Linear", func() { autograd.Linear(v(4, 5), v(3, 6), nil) }},
		{"Linear", func() { autograd.Linear(v(4, 5), v(3, 5), v(4)) }},
		{"MatMul", func() { autograd.MatMul(v(2, 3), v(4, 5), false, false) }},
		{"MatMul", func() { autograd.MatMul(v(2, 3), v(2, 3, 4), false, false) }},
		{"MatMul", func() { autograd.MatMul(v(2, 3, 4), v(3, 4, 5), false, false) }},
		{"MatMul", func() { autograd.MatMul(v(2, 3), v(2, 3), false, false) }},
		{"Reshape", func() { autograd.Reshape(v(2, 3), 4, -1) }},
		{"Permute", func() { autograd.Permute(v(2, 3), 0, 0) }},
		{"Permute", func() { autograd.Permute(v(2, 3), 0) }},
		{"Transpose", func() { autograd.Transpose(v(5)) }},
		{"Concat", func() { autograd.Concat(0, v(2, 3), v(2, 4)) }},
		{"Concat", func() { autograd.Concat(2, v(2, 3)) }},
		{"Concat", func() { autograd.Concat(0) }},
		{"Narrow", func() { autograd.Narrow(v(2, 5), 1, 3, 3) }},
		{"Split", func() { autograd.Split(v(2, 5), 1, 2, 2) }},
		{"IndexSelect", func() { autograd.IndexSelect(v(3, 2), []int{0, 3}) }},
		{"IndexSelect", func() { autograd.IndexSelect(v(3, 2), []int{-1}) }},
		{"GatherTokens", func() { autograd.GatherTokens(v(2, 4, 3), [][]int{{0}, {4}}) }},
		{"GatherTokens", func() { autograd.GatherTokens(v(2, 4, 3), [][]int{{0}}) }},
		{"GatherTokens", func() { autograd.GatherTokens(v(4, 3), [][]int{{0}}) }},
		{"ScatterTokens", func() { autograd.ScatterTokens(v(2, 4, 3), v(2, 1, 2), [][]int{{0}, {1}}) }},
		{"ScatterTokens", func() { autograd.ScatterTokens(v(2, 4, 3), v(2, 1, 3), [][]int{{0}, {9}}) }},
		{"Conv2d", func() { autograd.Conv2d(v(1, 3, 5, 5), v(4, 2, 3, 3), nil, 1, 1) }},
		{"Conv2d", func() { autograd.Conv2d(v(1, 3, 5, 5), v(4, 3, 3, 3), v(3), 1, 1) }},
		{"Conv2d", func() { autograd.Conv2d(v(1, 3, 2, 2), v(4, 3, 5, 5), nil, 1, 0) }},
		{"Conv2d", func() { autograd.Conv2d(v(3, 5, 5), v(4, 3, 3, 3), nil, 1, 0) }},
		{"Conv2d", func() { autograd.Conv2d(v(1, 3, 5, 5), v(4, 3, 3, 3), nil, 0, 0) }},
		{"BatchNorm", func() { autograd.BatchNorm(v(4, 3), v(4), nil, nil, true) }},
		{"BatchNorm", func() { autograd.BatchNorm(v(1, 3), nil, nil, nil, true) }},
		{"BatchNorm", func() { autograd.BatchNorm(v(4, 3), nil, nil, nil, false) }},
		{"BatchNorm", func() { autograd.BatchNorm(v(5), nil, nil, nil, true) }},
		{"BatchNorm", func() { autograd.BatchNorm(v(4, 3), nil, v(3), nil, true) }},
		{"LayerNorm", func() { autograd.LayerNorm(v(4, 3), v(4), v(4), 1e-5) }},
		{"LayerNorm", func() { autograd.LayerNorm(v(4, 3), v(3), nil, 1e-5) }},
		{"MaxPool2d", func() { autograd.MaxPool2d(v(1, 1, 2, 2), 3, 1, 0) }},
		{"MaxPool2d", func() { autograd.MaxPool2d(v(1, 4, 4), 2, 2, 0) }},
		{"AvgPool2d", func() { autograd.AvgPool2d(v(1, 1, 4, 4), 2, 2, 2) }},
		{"GlobalAvgPool", func() { autograd.GlobalAvgPool(v(2, 3)) }},
		{"Dropout", func() { autograd.Dropout(v(3), 1, true, func() float32 { return 0.5 }) }},
		{"CrossEntropy", func() { autograd.CrossEntropy(v(2, 3), []int{0, 3}, 0) }},
		{"CrossEntropy", func() { autograd.CrossEntropy(v(2, 3), []int{0}, 0) }},
		{"CrossEntropy", func() { autograd.CrossEntropy(v(2, 3), []int{0, 1}, 1.5) }},
		{"MSE", func() { autograd.MSE(v(2, 3), v(3, 2)) }},
	}
	checkOpErrors(t, cases)
}

// opErrorCase is a call that must panic with an *OpError from op.
type opErrorCase struct {
	op string
	f  func()
}

func checkOpErrors(t *testing.T, cases []opErrorCase) {
	t.Helper()
	for _, c := range cases {
		err := guardAll(c.f)
		var oe *autograd.OpError
		if !errors.As(err, &oe) {
			t.Errorf("%s: got %v, want an *OpError", c.op, err)
			continue
		}
		if oe.Op != c.op || !strings.HasPrefix(err.Error(), "autograd."+c.op+": ") || oe.Msg == "" {
			t.Errorf("%s: error %q (op %q), want it to name autograd.%s", c.op, err, oe.Op, c.op)
		}
	}
}

// TestPoolArgumentErrors: pooling with a zero stride, a zero kernel or a
// negative padding must be rejected with an *OpError.
func TestPoolArgumentErrors(t *testing.T) {
	v := func(shape ...int) *autograd.Var { return autograd.Param(tensor.New(shape...), "") }
	checkOpErrors(t, []opErrorCase{
		{"MaxPool2d", func() { autograd.MaxPool2d(v(1, 1, 4, 4), 2, 0, 0) }},
		{"AvgPool2d", func() { autograd.AvgPool2d(v(1, 1, 4, 4), 2, 0, 0) }},
		{"MaxPool2d", func() { autograd.MaxPool2d(v(1, 1, 4, 4), 0, 1, 0) }},
		{"MaxPool2d", func() { autograd.MaxPool2d(v(1, 1, 4, 4), 2, 1, -1) }},
		{"AvgPool2d", func() { autograd.AvgPool2d(v(1, 1, 4, 4), 0, 1, 0) }},
		{"AvgPool2d", func() { autograd.AvgPool2d(v(1, 1, 4, 4), 2, 1, -1) }},
	})
}

// guardAll runs f under Guard and also turns any other panic into an error
// (so one op panicking with a runtime error fails its row, not the run).
func guardAll(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("foreign panic: %v", r)
		}
	}()
	return autograd.Guard(func() error { f(); return nil })
}

func TestGuard(t *testing.T) {
	want := errors.New("plain")
	if err := autograd.Guard(func() error { return want }); err != want {
		t.Fatalf("Guard changed f's error: %v", err)
	}
	if err := autograd.Guard(func() error { return nil }); err != nil {
		t.Fatalf("Guard invented an error: %v", err)
	}
	defer func() {
		if r := recover(); r != "not an op error" {
			t.Fatalf("Guard swallowed a foreign panic (recovered %v)", r)
		}
	}()
	_ = autograd.Guard(func() error { panic("not an op error") })
	t.Fatal("unreachable: the panic should have propagated")
}

// TestBatchNormRunningStatistics checks the running-statistics update
// against running = (1-m)*running + m*batch with the unbiased batch
// variance, and that evaluation mode leaves them alone and uses them.
func TestBatchNormRunningStatistics(t *testing.T) {
	for _, shape := range [][]int{{4, 3, 5, 2}, {7, 5}, {2, 6, 1, 1}} {
		c := shape[1]
		x := autograd.Param(randTensor(16, -2, 3, shape...), "x")
		rm := randTensor(17, -1, 1, c)
		rv := randTensor(18, 0.5, 2, c)
		st := &autograd.BatchNormState{RunningMean: rm.Clone(), RunningVar: rv.Clone(), Momentum: 0.1, Eps: 1e-3}
		autograd.BatchNorm(x, nil, nil, st, true)
		mean, biased := channelStats(to64one(x.Value))
		cnt := float64(numel(shape) / c)
		for ch := 0; ch < c; ch++ {
			wantM := 0.9*float64(rm.Data[ch]) + 0.1*mean[ch]
			wantV := 0.9*float64(rv.Data[ch]) + 0.1*biased[ch]*cnt/(cnt-1)
			if !within(float64(st.RunningMean.Data[ch]), wantM, 1e-5) || !within(float64(st.RunningVar.Data[ch]), wantV, 1e-5) {
				t.Fatalf("%v channel %d: running mean/var %v/%v, want %v/%v", shape, ch,
					st.RunningMean.Data[ch], st.RunningVar.Data[ch], wantM, wantV)
			}
		}
		// evaluation mode uses the running statistics and does not update them
		before := append(append([]float32(nil), st.RunningMean.Data...), st.RunningVar.Data...)
		y := autograd.BatchNorm(x, nil, nil, st, false)
		after := append(append([]float32(nil), st.RunningMean.Data...), st.RunningVar.Data...)
		for i := range before {
			if before[i] != after[i] {
				t.Fatalf("%v: evaluation mode changed the running statistics", shape)
			}
		}
		rmean := make([]float64, c)
		rvar := make([]float64, c)
		for ch := range rmean {
			rmean[ch], rvar[ch] = float64(st.RunningMean.Data[ch]), float64(st.RunningVar.Data[ch])
		}
		want := tBatchNorm(to64one(x.Value), nil, nil, rmean, rvar, 1e-3)
		if i := closeSlices(y.Value.Data, want.d, 1e-5); i >= 0 {
			t.Fatalf("%v: eval output[%d] = %v, want %v", shape, i, y.Value.Data[i], want.d[i])
		}
	}
	// a training step without running tensors is allowed
	x := autograd.Param(randTensor(19, -1, 1, 3, 2), "x")
	if err := autograd.Guard(func() error {
		autograd.BatchNorm(x, nil, nil, &autograd.BatchNormState{Momentum: 0.1, Eps: 1e-5}, true)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentIndependentGraphs trains two separate small networks (no
// shared parameters) on two goroutines at once and checks each gets the
// gradients it gets when run alone: the tape, the buffer pool and the
// worker pool must not mix them up (run with -race).
func TestConcurrentIndependentGraphs(t *testing.T) {
	type net struct {
		x            *tensor.Tensor
		w, g, b, lin *autograd.Var
	}
	mk := func(seed uint64) net {
		return net{
			x:   randTensor(seed, -1, 1, 4, 3, 9, 8),
			w:   autograd.Param(randTensor(seed+1, -0.5, 0.5, 16, 3, 3, 3), "w"),
			g:   autograd.Param(randTensor(seed+2, 0.5, 1.5, 16), "g"),
			b:   autograd.Param(randTensor(seed+3, -0.5, 0.5, 16), "b"),
			lin: autograd.Param(randTensor(seed+4, -0.5, 0.5, 5, 16), "lin"),
		}
	}
	step := func(n net) ([][]float32, error) {
		for _, p := range []*autograd.Var{n.w, n.g, n.b, n.lin} {
			p.ZeroGrad()
		}
		h := autograd.Conv2d(autograd.Const(n.x), n.w, nil, 2, 1)
		h = autograd.ReLU(autograd.BatchNorm(h, n.g, n.b, nil, true))
		loss := autograd.CrossEntropy(autograd.Linear(autograd.GlobalAvgPool(h), n.lin, nil), []int{0, 4, 2, 1}, 0)
		if err := loss.Backward(); err != nil {
			return nil, err
		}
		var gs [][]float32
		for _, p := range []*autograd.Var{n.w, n.g, n.b, n.lin} {
			gs = append(gs, append([]float32(nil), p.Grad.Data...))
		}
		return gs, nil
	}
	nets := []net{mk(100), mk(200)}
	want := make([][][]float32, len(nets))
	for i, n := range nets {
		g, err := step(n)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = g
	}
	const rounds = 4
	errs := make(chan error, len(nets)*rounds)
	done := make(chan struct{})
	for i, n := range nets {
		go func() {
			defer func() { done <- struct{}{} }()
			for r := 0; r < rounds; r++ {
				got, err := step(n)
				if err != nil {
					errs <- err
					return
				}
				for p := range got {
					for j, v := range got[p] {
						if !within(float64(v), float64(want[i][p][j]), 1e-5) {
							errs <- fmt.Errorf("net %d round %d param %d [%d]: %v concurrently, %v alone", i, r, p, j, v, want[i][p][j])
							return
						}
					}
				}
			}
		}()
	}
	for range nets {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A value computed without a graph (a frozen layer's output) that feeds a
// trained op must survive Free: the trained op's backward reads it.
func TestFreeKeepsInputsOfRecordedOps(t *testing.T) {
	frozen := autograd.Const(tensor.FromData([]float32{1, 2, 3, 4}, 2, 2))
	h := autograd.Scale(frozen, 2) // no graph: nothing requires a gradient
	w := autograd.Param(tensor.FromData([]float32{1, 0, 0, 1}, 2, 2), "w")
	y := autograd.MatMul(h, w, false, false)
	h.Free() // the layer code's "last use" release
	if h.Value == nil {
		t.Fatal("Free released an input that a recorded op's backward needs")
	}
	if err := autograd.Sum(y).Backward(); err != nil {
		t.Fatal(err)
	}
	// dL/dw = h^T 1 = column sums of h: [2+6, 2+6] per column pair
	want := []float32{8, 8, 12, 12}
	for i, v := range want {
		if w.Grad.Data[i] != v {
			t.Fatalf("grad %v, want %v", w.Grad.Data, want)
		}
	}
}
