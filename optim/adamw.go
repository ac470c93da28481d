package optim

import (
	"math"

	"selfsup/autograd"
	"selfsup/tensor"
)

// AdamWConfig holds AdamW's hyper-parameters (PyTorch's defaults: betas
// 0.9, 0.999, eps 1e-8, weight decay 0.01).
type AdamWConfig struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// DecayAll applies weight decay to biases and norm parameters too
	// (PyTorch's default); otherwise they are excluded, as MAE, DINO and
	// MoCo v3 do.
	DecayAll bool
}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter).
type AdamW struct {
	Cfg    AdamWConfig
	params []*autograd.Var
	m, v   buffers
	steps  int64
	// count holds each parameter's own update count (its bias correction),
	// as PyTorch keeps one per parameter: a parameter that starts training
	// late (unfrozen) gets the full correction on its first updates.
	count buffers
}

// NewAdamW returns an AdamW optimizer over params; zero betas and eps get
// PyTorch's defaults.
func NewAdamW(params []*autograd.Var, cfg AdamWConfig) *AdamW {
	checkNames(params)
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	return &AdamW{Cfg: cfg, params: params, m: newBuffers("exp_avg"), v: newBuffers("exp_avg_sq"), count: newScalarBuffers("step")}
}

// LR implements Optimizer.
func (o *AdamW) LR() float64 { return o.Cfg.LR }

// SetLR implements Optimizer.
func (o *AdamW) SetLR(lr float64) { o.Cfg.LR = lr }

// Step implements Optimizer: p *= 1 - lr*wd; m, v updated; p -= lr *
// mhat / (sqrt(vhat) + eps) with bias-corrected moments.
func (o *AdamW) Step() {
	o.steps++
	b1, b2 := o.Cfg.Beta1, o.Cfg.Beta2
	lr := o.Cfg.LR
	eps := float32(o.Cfg.Eps)
	fb1, fb2 := float32(b1), float32(b2)
	for _, p := range o.params {
		if p.Grad == nil || !p.RequiresGrad() {
			continue
		}
		cnt, _ := o.count.get(p)
		cnt.Data[0]++
		t := float64(cnt.Data[0])
		bc1 := 1 - math.Pow(b1, t)
		bc2 := 1 - math.Pow(b2, t)
		stepSize := float32(lr / bc1)
		invBC2 := float32(1 / math.Sqrt(bc2))
		decay := float32(1 - lr*o.Cfg.WeightDecay)
		if !o.Cfg.DecayAll && ExcludeFromDecay(p) {
			decay = 1
		}
		mt, _ := o.m.get(p)
		vt, _ := o.v.get(p)
		w, g, m, v := p.Value.Data, p.Grad.Data, mt.Data, vt.Data
		tensor.ParallelFor(len(w), 1<<15, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				w[i] *= decay
				m[i] = fb1*m[i] + (1-fb1)*g[i]
				v[i] = fb2*v[i] + (1-fb2)*g[i]*g[i]
				denom := float32(math.Sqrt(float64(v[i])))*invBC2 + eps
				w[i] -= stepSize * m[i] / denom
			}
		})
	}
}

// State implements Optimizer.
func (o *AdamW) State() map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{"step": stepTensor(o.steps)}
	o.m.export(o.params, out)
	o.v.export(o.params, out)
	o.count.export(o.params, out)
	return out
}

// LoadState implements Optimizer.
func (o *AdamW) LoadState(in map[string]*tensor.Tensor) error {
	o.steps = loadStep(in)
	if err := o.m.load(o.params, in); err != nil {
		return err
	}
	if err := o.v.load(o.params, in); err != nil {
		return err
	}
	return o.count.load(o.params, in)
}
