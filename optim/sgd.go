package optim

import (
	"math"

	"selfsup/autograd"
	"selfsup/tensor"
)

// SGDConfig holds SGD's hyper-parameters (PyTorch's torch.optim.SGD).
type SGDConfig struct {
	LR, Momentum, WeightDecay float64
	Nesterov                  bool
	// DecayAll applies weight decay to biases and norm parameters too
	// (PyTorch's default); otherwise they are excluded.
	DecayAll bool
}

// SGD is stochastic gradient descent with momentum and weight decay.
type SGD struct {
	Cfg    SGDConfig
	params []*autograd.Var
	mom    buffers
	steps  int64
}

// NewSGD returns an SGD optimizer over params.
func NewSGD(params []*autograd.Var, cfg SGDConfig) *SGD {
	checkNames(params)
	return &SGD{Cfg: cfg, params: params, mom: newBuffers("momentum_buffer")}
}

// LR implements Optimizer.
func (o *SGD) LR() float64 { return o.Cfg.LR }

// SetLR implements Optimizer.
func (o *SGD) SetLR(lr float64) { o.Cfg.LR = lr }

// Step implements Optimizer: d = g + wd*p; buf = m*buf + d (buf = d at
// the first step); d = d + m*buf (Nesterov) or buf; p -= lr*d.
func (o *SGD) Step() {
	o.steps++
	for _, p := range o.params {
		if p.Grad == nil || !p.RequiresGrad() {
			continue
		}
		wd := float32(o.Cfg.WeightDecay)
		if !o.Cfg.DecayAll && ExcludeFromDecay(p) {
			wd = 0
		}
		sgdUpdate(p, p.Grad.Data, wd, float32(o.Cfg.LR), float32(o.Cfg.Momentum), o.Cfg.Nesterov, &o.mom)
	}
}

func sgdUpdate(p *autograd.Var, g []float32, wd, lr, m float32, nesterov bool, mom *buffers) {
	w := p.Value.Data
	if m == 0 {
		tensor.ParallelFor(len(w), 1<<15, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				w[i] -= lr * (g[i] + wd*w[i])
			}
		})
		return
	}
	buf, existed := mom.get(p)
	b := buf.Data
	tensor.ParallelFor(len(w), 1<<15, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			d := g[i] + wd*w[i]
			if existed {
				b[i] = m*b[i] + d
			} else {
				b[i] = d
			}
			if nesterov {
				d += m * b[i]
			} else {
				d = b[i]
			}
			w[i] -= lr * d
		}
	})
}

// State implements Optimizer.
func (o *SGD) State() map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{"step": stepTensor(o.steps)}
	o.mom.export(o.params, out)
	return out
}

// LoadState implements Optimizer.
func (o *SGD) LoadState(in map[string]*tensor.Tensor) error {
	o.steps = loadStep(in)
	return o.mom.load(o.params, in)
}

// LARSConfig holds LARS's hyper-parameters (You et al. 2017), in the form
// of the Barlow Twins and VICReg code: for each adapted parameter
// d = g + wd*w is scaled by eta*||w||/||d|| (1 when either norm is 0) and
// fed to momentum SGD.
type LARSConfig struct {
	LR, Momentum, WeightDecay float64
	// Eta is the trust coefficient (0.001 in SimCLR; solo-learn uses 0.02).
	Eta float64
	// ExcludeBiasAndNorm skips weight decay and adaptation for biases and
	// norm parameters (the usual setting).
	ExcludeBiasAndNorm bool
}

// LARS is SGD with a per-layer trust ratio eta*||w||/||g + wd*w|| that
// scales each layer's update, so very large batches train stably.
type LARS struct {
	Cfg    LARSConfig
	params []*autograd.Var
	mom    buffers
	steps  int64
}

// NewLARS returns a LARS optimizer over params.
func NewLARS(params []*autograd.Var, cfg LARSConfig) *LARS {
	checkNames(params)
	return &LARS{Cfg: cfg, params: params, mom: newBuffers("momentum_buffer")}
}

// LR implements Optimizer.
func (o *LARS) LR() float64 { return o.Cfg.LR }

// SetLR implements Optimizer.
func (o *LARS) SetLR(lr float64) { o.Cfg.LR = lr }

// Step implements Optimizer.
func (o *LARS) Step() {
	o.steps++
	for _, p := range o.params {
		if p.Grad == nil || !p.RequiresGrad() {
			continue
		}
		g := p.Grad.Data
		if o.Cfg.ExcludeBiasAndNorm && ExcludeFromDecay(p) {
			sgdUpdate(p, g, 0, float32(o.Cfg.LR), float32(o.Cfg.Momentum), false, &o.mom)
			continue
		}
		wd := float32(o.Cfg.WeightDecay)
		w := p.Value.Data
		wn := math.Sqrt(sumSquares(w))
		var gs float64
		for i, v := range g {
			d := float64(v + wd*w[i])
			gs += d * d
		}
		gn := math.Sqrt(gs)
		trust := 1.0
		if wn > 0 && gn > 0 {
			trust = o.Cfg.Eta * wn / gn
		}
		scaled := tensor.Buffers.Get(len(g))
		t := float32(trust)
		for i, v := range g {
			scaled.Data[i] = (v + wd*w[i]) * t
		}
		sgdUpdate(p, scaled.Data, 0, float32(o.Cfg.LR), float32(o.Cfg.Momentum), false, &o.mom)
		tensor.Buffers.Put(scaled)
	}
}

// State implements Optimizer.
func (o *LARS) State() map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{"step": stepTensor(o.steps)}
	o.mom.export(o.params, out)
	return out
}

// LoadState implements Optimizer.
func (o *LARS) LoadState(in map[string]*tensor.Tensor) error {
	o.steps = loadStep(in)
	return o.mom.load(o.params, in)
}
