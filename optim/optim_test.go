package optim_test

import (
	"math"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/optim"
	"selfsup/tensor"
)

// optimizerMaker builds one optimizer configuration over params.
type optimizerMaker struct {
	name string
	make func(params []*autograd.Var) optim.Optimizer
}

// makers covers every optimizer with momentum/moments and weight decay on.
var makers = []optimizerMaker{
	{"sgd", func(p []*autograd.Var) optim.Optimizer {
		return optim.NewSGD(p, optim.SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-2})
	}},
	{"sgd-nesterov", func(p []*autograd.Var) optim.Optimizer {
		return optim.NewSGD(p, optim.SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-2, Nesterov: true, DecayAll: true})
	}},
	{"adamw", func(p []*autograd.Var) optim.Optimizer {
		return optim.NewAdamW(p, optim.AdamWConfig{LR: 1e-2, WeightDecay: 0.05})
	}},
	{"lars", func(p []*autograd.Var) optim.Optimizer {
		return optim.NewLARS(p, optim.LARSConfig{LR: 0.5, Momentum: 0.9, WeightDecay: 1e-3, Eta: 0.02, ExcludeBiasAndNorm: true})
	}},
}

// filled returns a tensor of the given shape holding a deterministic,
// non-constant pattern offset by k.
func filled(k float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(math.Sin(k + 0.7*float64(i) + 0.3))
	}
	return t
}

// toyParams returns a 2-D weight and a 1-D bias.
func toyParams() []*autograd.Var {
	return []*autograd.Var{
		autograd.Param(filled(1, 3, 4), "w"),
		autograd.Param(filled(2, 3), "b"),
	}
}

// setGrads gives every parameter a gradient that depends on the step.
func setGrads(params []*autograd.Var, step int) {
	for i, p := range params {
		p.Grad = filled(float64(10*step+i)+0.5, p.Value.Shape()...)
		for j := range p.Grad.Data {
			p.Grad.Data[j] *= 0.1
		}
	}
}

func snapshot(params []*autograd.Var) [][]float32 {
	out := make([][]float32, len(params))
	for i, p := range params {
		out[i] = append([]float32(nil), p.Value.Data...)
	}
	return out
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestWeightDecayExclusion uses zero gradients, so the only change is weight
// decay (AdamW's moments stay 0, so its Adam update is 0; LARS with d =
// wd*w has trust eta/wd and moves w by lr*eta*w): a 2-D parameter shrinks
// by the given factor, and a 1-D one only when decay covers it.
func TestWeightDecayExclusion(t *testing.T) {
	const lr, wd = 0.1, 0.01
	cases := []struct {
		name     string
		make     func(p []*autograd.Var) optim.Optimizer
		factor2D float64
		factor1D float64
		decays1D bool
	}{
		{"sgd exclude", func(p []*autograd.Var) optim.Optimizer {
			return optim.NewSGD(p, optim.SGDConfig{LR: lr, Momentum: 0.9, WeightDecay: wd})
		}, 1 - lr*wd, 1, false},
		{"sgd decay all", func(p []*autograd.Var) optim.Optimizer {
			return optim.NewSGD(p, optim.SGDConfig{LR: lr, Momentum: 0.9, WeightDecay: wd, DecayAll: true})
		}, 1 - lr*wd, 1 - lr*wd, true},
		{"adamw exclude", func(p []*autograd.Var) optim.Optimizer {
			return optim.NewAdamW(p, optim.AdamWConfig{LR: lr, WeightDecay: wd})
		}, 1 - lr*wd, 1, false},
		{"adamw decay all", func(p []*autograd.Var) optim.Optimizer {
			return optim.NewAdamW(p, optim.AdamWConfig{LR: lr, WeightDecay: wd, DecayAll: true})
		}, 1 - lr*wd, 1 - lr*wd, true},
		{"lars exclude", func(p []*autograd.Var) optim.Optimizer {
			return optim.NewLARS(p, optim.LARSConfig{LR: lr, Momentum: 0.9, WeightDecay: wd, Eta: 0.02, ExcludeBiasAndNorm: true})
		}, 1 - lr*0.02, 1, false},
		{"lars adapt all", func(p []*autograd.Var) optim.Optimizer {
			return optim.NewLARS(p, optim.LARSConfig{LR: lr, Momentum: 0.9, WeightDecay: wd, Eta: 0.02})
		}, 1 - lr*0.02, 1 - lr*0.02, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			params := toyParams()
			before := snapshot(params)
			for _, p := range params {
				p.Grad = tensor.New(p.Value.Shape()...)
			}
			tc.make(params).Step()
			for i, p := range params {
				want := tc.factor2D
				if p.Value.Dims() < 2 {
					want = tc.factor1D
				}
				for j, v := range p.Value.Data {
					w := float64(before[i][j]) * want
					if math.Abs(float64(v)-w) > 1e-6*math.Abs(w) {
						t.Fatalf("%s[%d] = %.8g, want %.8g (factor %v of %.8g)", p.Name, j, v, w, want, before[i][j])
					}
				}
				if p.Value.Dims() < 2 && !tc.decays1D && !sameBits(p.Value.Data, before[i]) {
					t.Errorf("%s (1-D) changed although it is excluded from decay", p.Name)
				}
			}
		})
	}
}

// TestExcludeFromDecay pins the rule: fewer than two dimensions.
func TestExcludeFromDecay(t *testing.T) {
	for _, tc := range []struct {
		shape []int
		want  bool
	}{{[]int{5}, true}, {[]int{}, true}, {[]int{1, 5}, false}, {[]int{4, 3, 3, 3}, false}} {
		if got := optim.ExcludeFromDecay(autograd.Param(tensor.New(tc.shape...), "p")); got != tc.want {
			t.Errorf("ExcludeFromDecay(shape %v) = %v, want %v", tc.shape, got, tc.want)
		}
	}
}

// TestSkippedParams checks that frozen parameters and parameters without a
// gradient are left alone (no decay either, as in PyTorch, which skips
// parameters whose grad is None) and get no optimizer state, while a
// trainable neighbour does move.
func TestSkippedParams(t *testing.T) {
	skips := []struct {
		name  string
		setup func(p *autograd.Var)
	}{
		{"frozen with a gradient", func(p *autograd.Var) {
			p.Grad = filled(3, p.Value.Shape()...)
			p.SetRequiresGrad(false)
		}},
		{"no gradient", func(p *autograd.Var) { p.Grad = nil }},
	}
	for _, m := range makers {
		for _, sk := range skips {
			t.Run(m.name+"/"+sk.name, func(t *testing.T) {
				live := autograd.Param(filled(1, 3, 4), "live")
				skipped := autograd.Param(filled(2, 3, 4), "skipped")
				params := []*autograd.Var{live, skipped}
				before := snapshot(params)
				opt := m.make(params)
				for step := range 3 {
					setGrads(params[:1], step)
					sk.setup(skipped)
					opt.Step()
				}
				if sameBits(live.Value.Data, before[0]) {
					t.Fatal("the trainable parameter did not move; the test proves nothing")
				}
				if !sameBits(skipped.Value.Data, before[1]) {
					t.Errorf("the skipped parameter changed: %v -> %v", before[1][:4], skipped.Value.Data[:4])
				}
				for k := range opt.State() {
					if strings.HasPrefix(k, "skipped.") {
						t.Errorf("state %q exists for a skipped parameter", k)
					}
				}
			})
		}
	}
}

// TestStateRoundTrip runs 3 steps, saves the state, runs 2 more; a fresh
// optimizer restored from the saved state (and parameter values) must
// reproduce those 2 steps bit for bit, and one not restored must not.
func TestStateRoundTrip(t *testing.T) {
	for _, m := range makers {
		t.Run(m.name, func(t *testing.T) {
			params := toyParams()
			opt := m.make(params)
			for step := range 3 {
				setGrads(params, step)
				opt.Step()
			}
			saved := map[string]*tensor.Tensor{}
			for k, v := range opt.State() {
				saved[k] = v.Clone()
			}
			if len(saved) < 2 {
				t.Fatalf("state has only %d entries: %v", len(saved), saved)
			}
			if s := saved["step"]; s == nil || s.Len() != 1 || s.Data[0] != 3 {
				t.Fatalf(`state["step"] = %v, want 3`, s)
			}
			at3 := snapshot(params)
			for step := 3; step < 5; step++ {
				setGrads(params, step)
				opt.Step()
			}
			want := snapshot(params)

			resume := func(load bool) [][]float32 {
				fresh := toyParams()
				for i, p := range fresh {
					copy(p.Value.Data, at3[i])
				}
				o := m.make(fresh)
				if load {
					if err := o.LoadState(saved); err != nil {
						t.Fatal(err)
					}
				}
				for step := 3; step < 5; step++ {
					setGrads(fresh, step)
					o.Step()
				}
				return snapshot(fresh)
			}
			got := resume(true)
			for i := range got {
				if !sameBits(got[i], want[i]) {
					t.Errorf("parameter %d after resume: %v, uninterrupted run %v", i, got[i][:4], want[i][:4])
				}
			}
			cold := resume(false)
			if sameBits(cold[0], want[0]) {
				t.Error("a run without the restored state matches too; the state is not being tested")
			}
		})
	}
}

func TestLoadStateShapeMismatch(t *testing.T) {
	cases := []struct {
		maker optimizerMaker
		key   string
	}{
		{makers[0], "w.momentum_buffer"},
		{makers[2], "w.exp_avg"},
		{makers[2], "b.exp_avg_sq"},
		{makers[3], "b.momentum_buffer"},
	}
	for _, tc := range cases {
		t.Run(tc.maker.name+"/"+tc.key, func(t *testing.T) {
			o := tc.maker.make(toyParams())
			err := o.LoadState(map[string]*tensor.Tensor{tc.key: tensor.New(2, 2)})
			if err == nil {
				t.Fatal("a state tensor of the wrong shape was accepted")
			}
			if !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), "[2 2]") {
				t.Errorf("error %q does not name the entry and its shape", err)
			}
		})
	}
}

func TestDuplicateOrEmptyNamesPanic(t *testing.T) {
	for _, names := range [][]string{{"a", "a"}, {"", "b"}} {
		params := []*autograd.Var{autograd.Param(tensor.New(2), names[0]), autograd.Param(tensor.New(2), names[1])}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewSGD with names %q did not panic", names)
				}
			}()
			optim.NewSGD(params, optim.SGDConfig{LR: 0.1})
		}()
	}
}

func TestWarmupCosineBoundaries(t *testing.T) {
	s := optim.WarmupCosine{Base: 0.4, Final: 0.004, Warmup: 10, Total: 110}
	cases := []struct {
		name  string
		sched optim.Schedule
		step  int64
		want  float64
	}{
		{"step 0 trains at base/warmup", s, 0, 0.04},
		{"ramp", s, 4, 0.2},
		{"last warmup step", s, 9, 0.4},
		{"warmup end", s, 10, 0.4},
		{"cosine midpoint", s, 60, (0.4 + 0.004) / 2},
		{"one before total", s, 109, 0.004 + (0.4-0.004)*0.5*(1+math.Cos(math.Pi*99/100))},
		{"total", s, 110, 0.004},
		{"beyond total", s, 1000, 0.004},
		{"no warmup: step 0", optim.WarmupCosine{Base: 1, Final: 0, Total: 4}, 0, 1},
		{"no warmup: midpoint", optim.WarmupCosine{Base: 1, Final: 0, Total: 4}, 2, 0.5},
		{"total within warmup", optim.WarmupCosine{Base: 1, Final: 0.1, Warmup: 4, Total: 4}, 4, 0.1},
		{"total within warmup, ramp", optim.WarmupCosine{Base: 1, Final: 0.1, Warmup: 4, Total: 4}, 1, 0.5},
		{"constant", optim.Constant(0.3), 12345, 0.3},
	}
	for _, tc := range cases {
		if got := tc.sched.At(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: %+v.At(%d) = %.15g, want %.15g", tc.name, tc.sched, tc.step, got, tc.want)
		}
	}
	// monotone: up through the warmup, down after it
	for step := int64(1); step <= 120; step++ {
		prev, cur := s.At(step-1), s.At(step)
		if (step < 10 && cur <= prev) || (step > 10 && cur > prev) {
			t.Fatalf("not monotone at step %d: %.9g after %.9g", step, cur, prev)
		}
	}
}

// TestClipGradNormNonFinite: a NaN or Inf gradient gives a NaN or Inf norm
// and leaves every gradient as it was (PyTorch would scale them all by the
// non-finite coefficient); a non-positive maxNorm disables clipping.
func TestClipGradNormNonFinite(t *testing.T) {
	cases := []struct {
		name    string
		bad     float32
		maxNorm float64
		check   func(norm float64) bool
	}{
		{"NaN", float32(math.NaN()), 1, math.IsNaN},
		{"+Inf", float32(math.Inf(1)), 1, func(n float64) bool { return math.IsInf(n, 1) }},
		{"-Inf", float32(math.Inf(-1)), 1, func(n float64) bool { return math.IsInf(n, 1) }},
		{"maxNorm 0 disables", 5, 0, func(n float64) bool { return n > 5 }},
		{"negative maxNorm disables", 5, -1, func(n float64) bool { return n > 5 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			params := toyParams()
			setGrads(params, 1)
			params[1].Grad.Data[1] = tc.bad
			noGrad := autograd.Param(tensor.New(2), "nograd")
			params = append(params, noGrad)
			before := [][]float32{append([]float32(nil), params[0].Grad.Data...), append([]float32(nil), params[1].Grad.Data...)}
			norm := optim.ClipGradNorm(params, tc.maxNorm)
			if !tc.check(norm) {
				t.Errorf("norm = %v", norm)
			}
			for i := range before {
				if !sameBits(params[i].Grad.Data, before[i]) {
					t.Errorf("gradient of %s changed: %v -> %v", params[i].Name, before[i], params[i].Grad.Data)
				}
			}
			if noGrad.Grad != nil {
				t.Error("a parameter without gradient got one")
			}
		})
	}
}

// TestClipGradNormScales checks the finite case against the definition:
// the returned norm is the global L2 norm and the clipped norm is maxNorm
// (up to PyTorch's 1e-6 guard).
func TestClipGradNormScales(t *testing.T) {
	params := toyParams()
	setGrads(params, 2)
	var ss float64
	for _, p := range params {
		for _, v := range p.Grad.Data {
			ss += float64(v) * float64(v)
		}
	}
	want := math.Sqrt(ss)
	maxNorm := want / 3
	if got := optim.ClipGradNorm(params, maxNorm); math.Abs(got-want) > 1e-12*want {
		t.Fatalf("norm %.12g, want %.12g", got, want)
	}
	// PyTorch's coefficient is maxNorm / (norm + 1e-6), so the clipped norm
	// falls just short of maxNorm.
	wantAfter := maxNorm * want / (want + 1e-6)
	if after := optim.ClipGradNorm(params, 1e9); math.Abs(after-wantAfter) > 1e-6*wantAfter {
		t.Errorf("norm after clipping %.9g, want %.9g", after, wantAfter)
	}
}
