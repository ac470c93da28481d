package optim_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"selfsup/autograd"
	"selfsup/optim"
	"selfsup/tensor"
)

// The PyTorch reference tests: testdata/torchref/optim.json is written by
// testdata/torchref/gen.py (part "optim"). It holds optimizer runs of
// torch.optim.SGD, torch.optim.AdamW and a Barlow Twins LARS (computed in
// float64 from float32 starting values and gradients), the warmup + cosine
// schedule, and torch.nn.utils.clip_grad_norm_ results. No Python is needed:
// the fixture is committed, and a missing fixture is a failure.

// trOptimFixture is the path of the fixture, relative to this package.
const trOptimFixture = "../testdata/torchref/optim.json"

// trTol bounds the relative error of selfsup's float32 updates against the
// float64 reference (PyTorch's own float32 run is about 1e-7 off).
const trTol = 1e-6

// trTensor is a tensor as gen.py stores it.
type trTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

// tensor returns a fresh copy as a selfsup tensor.
func (r trTensor) tensor() *tensor.Tensor {
	return tensor.FromData(append([]float32(nil), r.Data...), r.Shape...)
}

// trConfig is the union of the hyper-parameters the cases carry.
type trConfig struct {
	LR                 float64 `json:"lr"`
	Momentum           float64 `json:"momentum"`
	WeightDecay        float64 `json:"weight_decay"`
	Nesterov           bool    `json:"nesterov"`
	DecayAll           bool    `json:"decay_all"`
	Beta1              float64 `json:"beta1"`
	Beta2              float64 `json:"beta2"`
	Eps                float64 `json:"eps"`
	Eta                float64 `json:"eta"`
	ExcludeBiasAndNorm bool    `json:"exclude_bias_and_norm"`
}

// trOptCase is one optimizer run: starting values, the gradient of every
// step and the parameters after every step.
type trOptCase struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Config    trConfig  `json:"config"`
	LRFactors []float64 `json:"lr_factors"`
	Params    []struct {
		Name  string     `json:"name"`
		Init  trTensor   `json:"init"`
		Grads []trTensor `json:"grads"`
		After []trTensor `json:"after"`
	} `json:"params"`
}

// trSchedule is the warmup + cosine schedule evaluated at Steps.
type trSchedule struct {
	Base   float64   `json:"base"`
	Final  float64   `json:"final"`
	Warmup int64     `json:"warmup"`
	Total  int64     `json:"total"`
	Steps  []int64   `json:"steps"`
	LR     []float64 `json:"lr"`
}

// trClip is one clip_grad_norm_ call.
type trClip struct {
	Name    string  `json:"name"`
	MaxNorm float64 `json:"max_norm"`
	Norm    float64 `json:"norm"`
	Grads   []struct {
		Name   string   `json:"name"`
		Before trTensor `json:"before"`
		After  trTensor `json:"after"`
	} `json:"grads"`
}

type trFixture struct {
	Steps      int          `json:"steps"`
	Optimizers []trOptCase  `json:"optimizers"`
	Schedules  []trSchedule `json:"schedules"`
	Clip       []trClip     `json:"clip"`
}

func trLoad(t *testing.T) *trFixture {
	t.Helper()
	b, err := os.ReadFile(trOptimFixture)
	if err != nil {
		t.Fatalf("reading PyTorch fixture: %v (regenerate with /usr/bin/python3 testdata/torchref/gen.py optim)", err)
	}
	var f trFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("optim.json: %v", err)
	}
	if len(f.Optimizers) == 0 || len(f.Schedules) == 0 || len(f.Clip) == 0 {
		t.Fatalf("optim.json: empty sections (%d optimizers, %d schedules, %d clip cases)", len(f.Optimizers), len(f.Schedules), len(f.Clip))
	}
	return &f
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

// newOptimizer builds the selfsup optimizer a case describes.
func newOptimizer(kind string, c trConfig, params []*autograd.Var) (optim.Optimizer, error) {
	switch kind {
	case "sgd":
		return optim.NewSGD(params, optim.SGDConfig{LR: c.LR, Momentum: c.Momentum, WeightDecay: c.WeightDecay, Nesterov: c.Nesterov, DecayAll: c.DecayAll}), nil
	case "adamw":
		return optim.NewAdamW(params, optim.AdamWConfig{LR: c.LR, Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, WeightDecay: c.WeightDecay, DecayAll: c.DecayAll}), nil
	case "lars":
		return optim.NewLARS(params, optim.LARSConfig{LR: c.LR, Momentum: c.Momentum, WeightDecay: c.WeightDecay, Eta: c.Eta, ExcludeBiasAndNorm: c.ExcludeBiasAndNorm}), nil
	}
	return nil, fmt.Errorf("unknown optimizer kind %q", kind)
}

// runCase replays a case with config c and returns the worst relative
// error over all parameters and steps, with a description of where.
func runCase(t *testing.T, tc *trOptCase, c trConfig) (float64, string) {
	t.Helper()
	params := make([]*autograd.Var, len(tc.Params))
	for i, p := range tc.Params {
		params[i] = autograd.Param(p.Init.tensor(), p.Name)
	}
	opt, err := newOptimizer(tc.Kind, c, params)
	if err != nil {
		t.Fatal(err)
	}
	worst, where := 0.0, ""
	for s, f := range tc.LRFactors {
		opt.SetLR(c.LR * f)
		for i, p := range tc.Params {
			params[i].Grad = p.Grads[s].tensor()
		}
		opt.Step()
		for i, p := range tc.Params {
			want := p.After[s]
			if !tensor.SameShape(params[i].Value.Shape(), want.Shape) {
				t.Fatalf("%s: shape %v, PyTorch %v", p.Name, params[i].Value.Shape(), want.Shape)
			}
			e, at := trErr(params[i].Value.Data, want.Data)
			if e > worst {
				worst = e
				where = fmt.Sprintf("step %d, %s[%d] = %g, PyTorch %g", s+1, p.Name, at, params[i].Value.Data[at], want.Data[at])
			}
		}
	}
	return worst, where
}

func TestOptimizersMatchPyTorch(t *testing.T) {
	f := trLoad(t)
	for i := range f.Optimizers {
		tc := &f.Optimizers[i]
		t.Run(tc.Name, func(t *testing.T) {
			if len(tc.LRFactors) != f.Steps || len(tc.Params) == 0 {
				t.Fatalf("malformed case: %d lr factors for %d steps, %d params", len(tc.LRFactors), f.Steps, len(tc.Params))
			}
			worst, where := runCase(t, tc, tc.Config)
			if worst > trTol {
				t.Errorf("relative error %.3g > %.3g at %s", worst, trTol, where)
			}
			t.Logf("worst relative error %.2g", worst)
		})
	}
}

// TestOptimizerFixtureIsSensitive checks that the fixture can fail: a
// slightly wrong hyper-parameter (weight decay doubled, or Nesterov or the
// bias exclusion flipped) must move the parameters well past the tolerance.
func TestOptimizerFixtureIsSensitive(t *testing.T) {
	f := trLoad(t)
	mutants := []struct {
		name   string
		mutate func(c *trConfig)
	}{
		{"weight decay x2", func(c *trConfig) { c.WeightDecay *= 2 }},
		{"nesterov flipped", func(c *trConfig) { c.Nesterov = !c.Nesterov }},
		{"1-D decay flipped", func(c *trConfig) { c.DecayAll = !c.DecayAll; c.ExcludeBiasAndNorm = !c.ExcludeBiasAndNorm }},
	}
	for i := range f.Optimizers {
		tc := &f.Optimizers[i]
		for _, m := range mutants {
			c := tc.Config
			m.mutate(&c)
			if m.name == "nesterov flipped" && (tc.Kind != "sgd" || c.Momentum == 0) {
				continue // no Nesterov, or no momentum for it to act on
			}
			t.Run(tc.Name+"/"+m.name, func(t *testing.T) {
				worst, _ := runCase(t, tc, c)
				if worst < 10*trTol {
					t.Errorf("a wrong configuration is only %.3g off; the fixture cannot tell", worst)
				}
				t.Logf("wrong configuration is %.2g off", worst)
			})
		}
	}
}

func TestScheduleMatchesReference(t *testing.T) {
	f := trLoad(t)
	for _, sc := range f.Schedules {
		s := optim.WarmupCosine{Base: sc.Base, Final: sc.Final, Warmup: sc.Warmup, Total: sc.Total}
		if len(sc.Steps) != len(sc.LR) {
			t.Fatalf("malformed schedule: %d steps, %d values", len(sc.Steps), len(sc.LR))
		}
		for i, step := range sc.Steps {
			got, want := s.At(step), sc.LR[i]
			if math.Abs(got-want) > 1e-12*sc.Base {
				t.Errorf("%+v.At(%d) = %.17g, reference %.17g", s, step, got, want)
			}
		}
	}
}

func TestClipGradNormMatchesPyTorch(t *testing.T) {
	f := trLoad(t)
	for _, cc := range f.Clip {
		t.Run(cc.Name, func(t *testing.T) {
			params := make([]*autograd.Var, len(cc.Grads))
			for i, g := range cc.Grads {
				params[i] = autograd.Param(tensor.New(g.Before.Shape...), g.Name)
				params[i].Grad = g.Before.tensor()
			}
			norm := optim.ClipGradNorm(params, cc.MaxNorm)
			if math.Abs(norm-cc.Norm) > 1e-6*cc.Norm {
				t.Errorf("norm %.9g, PyTorch %.9g", norm, cc.Norm)
			}
			for i, g := range cc.Grads {
				if e, at := trErr(params[i].Grad.Data, g.After.Data); e > trTol {
					t.Errorf("%s[%d] = %g after clipping, PyTorch %g (relative error %.3g)", g.Name, at, params[i].Grad.Data[at], g.After.Data[at], e)
				}
			}
		})
	}
}
