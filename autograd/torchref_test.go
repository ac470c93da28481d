package autograd_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/tensor"
)

// The PyTorch reference tests: testdata/torchref/ops.json holds op cases
// written by testdata/torchref/gen.py (inputs, a weight tensor R, and the
// forward output and the gradients of L = sum(out * R), all computed by
// PyTorch in float64 from float32 inputs). Each case runs the selfsup op in
// float32 and compares every expected tensor. No Python is needed: the
// fixture is committed, and a missing fixture is a failure.

// trOpsFixture is the path of the op fixture, relative to this package.
const trOpsFixture = "../testdata/torchref/ops.json"

// trTensor is a tensor as gen.py stores it.
type trTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

// tensor returns a fresh copy as a selfsup tensor.
func (r trTensor) tensor() *tensor.Tensor {
	return tensor.FromData(append([]float32(nil), r.Data...), r.Shape...)
}

// trOpAttrs are the op settings a case may carry.
type trOpAttrs struct {
	Stride         int     `json:"stride"`
	Pad            int     `json:"pad"`
	Kernel         int     `json:"kernel"`
	Eps            float32 `json:"eps"`
	Momentum       float32 `json:"momentum"`
	Training       bool    `json:"training"`
	Targets        []int   `json:"targets"`
	LabelSmoothing float32 `json:"label_smoothing"`
}

// trOpCase is one entry of ops.json.
type trOpCase struct {
	Name   string              `json:"name"`
	Op     string              `json:"op"`
	Attrs  trOpAttrs           `json:"attrs"`
	Inputs map[string]trTensor `json:"inputs"`
	Expect map[string]trTensor `json:"expect"`
	// Tol, when set, widens the bound for an ill-conditioned case; gen.py
	// sets it to 4x PyTorch's own float32 error on that case.
	Tol float64 `json:"tol"`
}

// trLoad decodes a committed fixture; a missing or malformed file fails the
// test (the fixtures are committed, so there is nothing to skip).
func trLoad(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading PyTorch fixture: %v (regenerate with /usr/bin/python3 testdata/torchref/gen.py)", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
}

// trErr returns the worst of |got-want| / (|want| + rms(want)) over the
// elements, and where it occurs: an error relative to each value, floored
// by the tensor's typical magnitude so entries near zero are not judged on
// their own tiny scale.
func trErr(got, want []float32) (worst float64, at int) {
	var ss float64
	for _, w := range want {
		ss += float64(w) * float64(w)
	}
	rms := math.Sqrt(ss / float64(max(len(want), 1)))
	for i, w := range want {
		g := float64(got[i])
		e := math.Abs(g-float64(w)) / (math.Abs(float64(w)) + rms + 1e-30)
		if math.IsNaN(g) || math.IsInf(g, 0) {
			e = math.Inf(1)
		}
		if e > worst {
			worst, at = e, i
		}
	}
	return worst, at
}

// trCheck compares got with want (shape and values, see trErr) and returns
// the worst relative error.
func trCheck(t *testing.T, what string, got *tensor.Tensor, want trTensor, tol float64) float64 {
	t.Helper()
	if got == nil {
		t.Errorf("%s: selfsup computed nothing, PyTorch has shape %v", what, want.Shape)
		return math.Inf(1)
	}
	if !tensor.SameShape(got.Shape(), want.Shape) {
		t.Errorf("%s: shape %v, PyTorch %v", what, got.Shape(), want.Shape)
		return math.Inf(1)
	}
	worst, at := trErr(got.Data, want.Data)
	if worst > tol {
		t.Errorf("%s: element %d is %g, PyTorch %g (relative error %.3g > %.3g)", what, at, got.Data[at], want.Data[at], worst, tol)
	}
	return worst
}

// trOpRun builds one op on the case's leaves and returns its output plus
// any extra results (running statistics) by fixture name.
type trOpRun func(c *trOpCase, in map[string]*autograd.Var) (*autograd.Var, map[string]*tensor.Tensor)

// trUnary adapts a one-input op.
func trUnary(f func(x *autograd.Var) *autograd.Var) trOpRun {
	return func(_ *trOpCase, in map[string]*autograd.Var) (*autograd.Var, map[string]*tensor.Tensor) {
		return f(in["x"]), nil
	}
}

// trOps maps the fixture's op names to the selfsup ops under test.
var trOps = map[string]trOpRun{
	"conv2d": func(c *trOpCase, in map[string]*autograd.Var) (*autograd.Var, map[string]*tensor.Tensor) {
		return autograd.Conv2d(in["x"], in["weight"], in["bias"], c.Attrs.Stride, c.Attrs.Pad), nil
	},
	"batch_norm": func(c *trOpCase, in map[string]*autograd.Var) (*autograd.Var, map[string]*tensor.Tensor) {
		st := &autograd.BatchNormState{
			RunningMean: c.Inputs["running_mean"].tensor(), RunningVar: c.Inputs["running_var"].tensor(),
			Momentum: c.Attrs.Momentum, Eps: c.Attrs.Eps,
		}
		out := autograd.BatchNorm(in["x"], in["weight"], in["bias"], st, c.Attrs.Training)
		return out, map[string]*tensor.Tensor{"running_mean": st.RunningMean, "running_var": st.RunningVar}
	},
	"layer_norm": func(c *trOpCase, in map[string]*autograd.Var) (*autograd.Var, map[string]*tensor.Tensor) {
		return autograd.LayerNorm(in["x"], in["weight"], in["bias"], c.Attrs.Eps), nil
	},
	"gelu":            trUnary(autograd.GELU),
	"softmax":         trUnary(autograd.Softmax),
	"log_softmax":     trUnary(autograd.LogSoftmax),
	"global_avg_pool": trUnary(autograd.GlobalAvgPool),
	"cross_entropy": func(c *trOpCase, in map[string]*autograd.Var) (*autograd.Var, map[string]*tensor.Tensor) {
		return autograd.CrossEntropy(in["x"], c.Attrs.Targets, c.Attrs.LabelSmoothing), nil
	},
	"normalize": func(c *trOpCase, in map[string]*autograd.Var) (*autograd.Var, map[string]*tensor.Tensor) {
		return autograd.L2Normalize(in["x"], c.Attrs.Eps), nil
	},
	"max_pool2d": func(c *trOpCase, in map[string]*autograd.Var) (*autograd.Var, map[string]*tensor.Tensor) {
		return autograd.MaxPool2d(in["x"], c.Attrs.Kernel, c.Attrs.Stride, c.Attrs.Pad), nil
	},
	"avg_pool2d": func(c *trOpCase, in map[string]*autograd.Var) (*autograd.Var, map[string]*tensor.Tensor) {
		return autograd.AvgPool2d(in["x"], c.Attrs.Kernel, c.Attrs.Stride, c.Attrs.Pad), nil
	},
	"linear": func(c *trOpCase, in map[string]*autograd.Var) (*autograd.Var, map[string]*tensor.Tensor) {
		return autograd.Linear(in["x"], in["weight"], in["bias"]), nil
	},
}

// trNotParams are case inputs that are settings or buffers, not leaves
// receiving gradients.
var trNotParams = map[string]bool{"R": true, "running_mean": true, "running_var": true}

// trOpTol is the error bound of the op cases (float32 against a float64
// reference; see trErr for the measure).
const trOpTol = 1e-5

// trMaxTol caps the per-case tolerance a fixture may ask for.
const trMaxTol = 1e-2

// TestOpsMatchPyTorch runs every case of ops.json: forward output, the
// gradient of every input and parameter, and running statistics.
func TestOpsMatchPyTorch(t *testing.T) {
	var fx struct {
		Cases []trOpCase `json:"cases"`
	}
	trLoad(t, trOpsFixture, &fx)
	if len(fx.Cases) == 0 {
		t.Fatal("ops.json has no cases")
	}
	covered := map[string]int{}
	for i := range fx.Cases {
		c := &fx.Cases[i]
		covered[c.Op]++
		t.Run(c.Name, func(t *testing.T) {
			run, ok := trOps[c.Op]
			if !ok {
				t.Fatalf("unknown op %q in ops.json", c.Op)
			}
			r, ok := c.Inputs["R"]
			if !ok {
				t.Fatal("case has no R")
			}
			in := map[string]*autograd.Var{}
			for name, v := range c.Inputs {
				if !trNotParams[name] {
					in[name] = autograd.Param(v.tensor(), name)
				}
			}
			out, extra := run(c, in)
			if err := out.BackwardWith(r.tensor()); err != nil {
				t.Fatal(err)
			}
			got := map[string]*tensor.Tensor{"out": out.Value}
			for name, v := range in {
				got["grad_"+name] = v.Grad
			}
			for name, v := range extra {
				got[name] = v
			}
			names := make([]string, 0, len(c.Expect))
			for name := range c.Expect {
				names = append(names, name)
			}
			sort.Strings(names)
			tol := max(trOpTol, c.Tol)
			if tol > trMaxTol {
				t.Fatalf("fixture tolerance %g is above %g: the case no longer tests anything", tol, trMaxTol)
			}
			var worst float64
			for _, name := range names {
				worst = max(worst, trCheck(t, name, got[name], c.Expect[name], tol))
			}
			for name, g := range got {
				if _, ok := c.Expect[name]; !ok && strings.HasPrefix(name, "grad_") && g != nil {
					t.Errorf("%s: computed, but PyTorch has no such gradient", name)
				}
			}
			t.Logf("worst relative error %.2g over %d tensors (bound %.2g)", worst, len(names), tol)
		})
	}
	for _, op := range []string{"conv2d", "batch_norm", "layer_norm", "gelu", "softmax", "log_softmax",
		"cross_entropy", "normalize", "max_pool2d", "avg_pool2d"} {
		if covered[op] == 0 {
			t.Errorf("ops.json has no %s case", op)
		}
	}
}

// TestTorchRefCheckCatchesWrongValues makes sure the comparison used above
// can fail: a single perturbed gradient entry must exceed the tolerance.
func TestTorchRefCheckCatchesWrongValues(t *testing.T) {
	want := trTensor{Shape: []int{2, 3}, Data: []float32{1, -2, 3, 0, 0.5, -1e-3}}
	for i := range want.Data {
		got := want.tensor()
		got.Data[i] += 1e-3
		if e, at := trErr(got.Data, want.Data); e <= trOpTol || at != i {
			t.Errorf("perturbing element %d: error %g at %d, want > %g there", i, e, at, trOpTol)
		}
	}
	if e, _ := trErr(want.Data, want.Data); e != 0 {
		t.Errorf("identical tensors: error %g", e)
	}
}
