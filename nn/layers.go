package nn

import (
	"math"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/tensor"
)

// Linear is a fully connected layer y = x W^T + b (PyTorch's nn.Linear:
// weight [out, in], bias [out]).
type Linear struct {
	Weight, Bias *autograd.Var
}

// NewLinear returns a Linear layer with PyTorch's default initialisation,
// U(+-1/sqrt(in)) for weight and bias. bias false leaves it out.
func NewLinear(in, out int, bias bool, r *rand.Rand) *Linear {
	l := &Linear{Weight: autograd.Param(tensor.New(out, in), "weight")}
	bound := 1 / math.Sqrt(float64(in))
	Uniform(l.Weight.Value, bound, r)
	if bias {
		l.Bias = autograd.Param(tensor.New(out), "bias")
		Uniform(l.Bias.Value, bound, r)
	}
	return l
}

// Forward implements Layer.
func (l *Linear) Forward(x *autograd.Var) *autograd.Var { return autograd.Linear(x, l.Weight, l.Bias) }

// Collect implements Module.
func (l *Linear) Collect(prefix string, s *State) {
	s.Param(prefix+"weight", l.Weight)
	s.Param(prefix+"bias", l.Bias)
}

// SetTraining implements Module (no mode).
func (l *Linear) SetTraining(bool) {}

// Conv2d is a 2-D convolution layer (weight [out, in, k, k], optional bias).
type Conv2d struct {
	Weight, Bias *autograd.Var
	Stride, Pad  int
}

// NewConv2d returns a k x k convolution initialised as torchvision's ResNets
// do (Kaiming normal, fan-out, ReLU gain).
func NewConv2d(in, out, k, stride, pad int, bias bool, r *rand.Rand) *Conv2d {
	c := &Conv2d{Weight: autograd.Param(tensor.New(out, in, k, k), "weight"), Stride: stride, Pad: pad}
	KaimingNormalFanOut(c.Weight.Value, r)
	if bias {
		c.Bias = autograd.Param(tensor.New(out), "bias")
		Uniform(c.Bias.Value, 1/math.Sqrt(float64(in*k*k)), r)
	}
	return c
}

// Forward implements Layer.
func (c *Conv2d) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Conv2d(x, c.Weight, c.Bias, c.Stride, c.Pad)
}

// Collect implements Module.
func (c *Conv2d) Collect(prefix string, s *State) {
	s.Param(prefix+"weight", c.Weight)
	s.Param(prefix+"bias", c.Bias)
}

// SetTraining implements Module (no mode).
func (c *Conv2d) SetTraining(bool) {}

// BatchNorm normalises [N, C, ...] per channel (BatchNorm1d and BatchNorm2d
// alike), with learnable scale and shift and running statistics.
type BatchNorm struct {
	Gamma, Beta *autograd.Var
	State       autograd.BatchNormState
	// NumBatchesTracked counts training steps, as PyTorch does (buffer
	// "num_batches_tracked").
	NumBatchesTracked *tensor.Tensor
	Training          bool
}

// NewBatchNorm returns a batch-norm layer over c channels (gamma 1, beta 0,
// running mean 0 and variance 1, momentum 0.1, eps 1e-5). affine false
// leaves out gamma and beta (the last BN of some projection heads).
func NewBatchNorm(c int, affine bool) *BatchNorm {
	b := &BatchNorm{Training: true, NumBatchesTracked: tensor.New()}
	if affine {
		b.Gamma = autograd.Param(tensor.New(c), "weight")
		b.Gamma.Value.Fill(1)
		b.Beta = autograd.Param(tensor.New(c), "bias")
	}
	rv := tensor.New(c)
	rv.Fill(1)
	b.State = autograd.BatchNormState{RunningMean: tensor.New(c), RunningVar: rv, Momentum: 0.1, Eps: 1e-5}
	return b
}

// Forward implements Layer.
func (b *BatchNorm) Forward(x *autograd.Var) *autograd.Var {
	b.count()
	return autograd.BatchNorm(x, b.Gamma, b.Beta, &b.State, b.Training)
}

// ForwardReLU is ReLU(Forward(x)) fused into one op (see
// autograd.BatchNormReLU).
func (b *BatchNorm) ForwardReLU(x *autograd.Var) *autograd.Var {
	b.count()
	return autograd.BatchNormReLU(x, b.Gamma, b.Beta, &b.State, b.Training)
}

func (b *BatchNorm) count() {
	if b.Training && autograd.GradEnabled() {
		b.NumBatchesTracked.Data[0]++
	}
}

// Collect implements Module (PyTorch names: weight, bias, running_mean,
// running_var, num_batches_tracked).
func (b *BatchNorm) Collect(prefix string, s *State) {
	s.Param(prefix+"weight", b.Gamma)
	s.Param(prefix+"bias", b.Beta)
	s.Buffer(prefix+"running_mean", b.State.RunningMean)
	s.Buffer(prefix+"running_var", b.State.RunningVar)
	s.Buffer(prefix+"num_batches_tracked", b.NumBatchesTracked)
	s.BatchNorms = append(s.BatchNorms, b)
}

// SetTraining implements Module.
func (b *BatchNorm) SetTraining(on bool) { b.Training = on }

// LayerNorm normalises the last dimension with learnable scale and shift.
type LayerNorm struct {
	Gamma, Beta *autograd.Var
	Eps         float32
}

// NewLayerNorm returns a LayerNorm over d features (gamma 1, beta 0).
func NewLayerNorm(d int, eps float32) *LayerNorm {
	l := &LayerNorm{Gamma: autograd.Param(tensor.New(d), "weight"), Beta: autograd.Param(tensor.New(d), "bias"), Eps: eps}
	l.Gamma.Value.Fill(1)
	return l
}

// Forward implements Layer.
func (l *LayerNorm) Forward(x *autograd.Var) *autograd.Var {
	return autograd.LayerNorm(x, l.Gamma, l.Beta, l.Eps)
}

// Collect implements Module.
func (l *LayerNorm) Collect(prefix string, s *State) {
	s.Param(prefix+"weight", l.Gamma)
	s.Param(prefix+"bias", l.Beta)
}

// SetTraining implements Module (no mode).
func (l *LayerNorm) SetTraining(bool) {}
