package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/tensor"
)

// ResNetConfig describes a ResNet. Parameter names follow torchvision
// (conv1, bn1, layer1.0.conv1, ..., layerK.0.downsample.0/1).
type ResNetConfig struct {
	// Bottleneck selects bottleneck blocks (ResNet-50) over basic blocks.
	Bottleneck bool
	// Blocks per stage, e.g. [2,2,2,2] for ResNet-18.
	Blocks []int
	// Widths per stage (a bottleneck stage outputs 4x its width).
	Widths []int
	// StemWidth is the stem convolution's output channels.
	StemWidth int
	// ImageNetStem selects the 7x7 stride-2 convolution and 3x3 max-pool
	// stem; otherwise the CIFAR stem (3x3 stride 1, no pooling) is used.
	ImageNetStem bool
	// FirstStride is the stride of the first stage (1 in the standard
	// ResNets, 2 in the small one).
	FirstStride int
	// InChannels of the input images (3 for colour, 1 for MNIST).
	InChannels int
}

// ResNet is a residual network backbone; Forward returns globally pooled
// features [N, OutDim].
type ResNet struct {
	Cfg    ResNetConfig
	Conv1  *Conv2d
	BN1    *BatchNorm
	Layers [][]resBlock
	outDim int
}

type resBlock interface {
	Module
	Forward(x *autograd.Var) *autograd.Var
}

// NewResNet builds the network described by cfg.
func NewResNet(cfg ResNetConfig, r *rand.Rand) (*ResNet, error) {
	if len(cfg.Blocks) == 0 || len(cfg.Blocks) != len(cfg.Widths) {
		return nil, fmt.Errorf("nn.NewResNet: %d block counts for %d widths", len(cfg.Blocks), len(cfg.Widths))
	}
	if cfg.InChannels <= 0 || cfg.StemWidth <= 0 {
		return nil, fmt.Errorf("nn.NewResNet: bad input channels %d or stem width %d", cfg.InChannels, cfg.StemWidth)
	}
	if cfg.FirstStride == 0 {
		cfg.FirstStride = 1
	}
	n := &ResNet{Cfg: cfg}
	if cfg.ImageNetStem {
		n.Conv1 = NewConv2d(cfg.InChannels, cfg.StemWidth, 7, 2, 3, false, r)
	} else {
		n.Conv1 = NewConv2d(cfg.InChannels, cfg.StemWidth, 3, 1, 1, false, r)
	}
	n.BN1 = NewBatchNorm(cfg.StemWidth, true)
	cin := cfg.StemWidth
	for i, nb := range cfg.Blocks {
		var stage []resBlock
		for j := 0; j < nb; j++ {
			stride := 1
			if j == 0 {
				stride = 2
				if i == 0 {
					stride = cfg.FirstStride
				}
			}
			if cfg.Bottleneck {
				b := newBottleneck(cin, cfg.Widths[i], stride, r)
				stage = append(stage, b)
				cin = cfg.Widths[i] * 4
			} else {
				stage = append(stage, newBasicBlock(cin, cfg.Widths[i], stride, r))
				cin = cfg.Widths[i]
			}
		}
		n.Layers = append(n.Layers, stage)
	}
	n.outDim = cin
	return n, nil
}

// OutDim is the width of the pooled features.
func (n *ResNet) OutDim() int { return n.outDim }

// NumStages is the number of residual stages.
func (n *ResNet) NumStages() int { return len(n.Layers) }

// stem applies conv1, bn1, ReLU (and the max-pool of the ImageNet stem).
func (n *ResNet) stem(x *autograd.Var) *autograd.Var {
	y := convBNReLU(x, n.Conv1, n.BN1, true)
	if n.Cfg.ImageNetStem {
		z := autograd.MaxPool2d(y, 3, 2, 1)
		y.Free()
		y = z
	}
	return y
}

// Forward returns the globally average-pooled output of the last stage.
func (n *ResNet) Forward(x *autograd.Var) *autograd.Var {
	maps := n.ForwardStages(x, len(n.Layers), false)
	f := autograd.GlobalAvgPool(maps[len(maps)-1])
	maps[len(maps)-1].Free()
	return f
}

// ForwardStages runs the stem and the first upto stages and returns the
// feature maps: with keep, the stem output and every stage's output; without,
// only the last one (earlier ones are freed when no gradient is recorded).
func (n *ResNet) ForwardStages(x *autograd.Var, upto int, keep bool) []*autograd.Var {
	y := n.stem(x)
	var out []*autograd.Var
	if keep {
		out = append(out, y)
	}
	for _, stage := range n.Layers[:upto] {
		for _, b := range stage {
			z := b.Forward(y)
			if !keep || len(out) == 0 || out[len(out)-1] != y {
				y.Free()
			}
			y = z
		}
		if keep {
			out = append(out, y)
		}
	}
	if !keep {
		out = append(out, y)
	}
	return out
}

// StageModules returns the stem (index 0) and the stages (1..), for freezing
// the first k of them.
func (n *ResNet) StageModules() []Module {
	mods := []Module{moduleFunc{collect: func(prefix string, s *State) {
		n.Conv1.Collect(prefix+"conv1.", s)
		n.BN1.Collect(prefix+"bn1.", s)
	}, train: func(on bool) { n.BN1.SetTraining(on) }}}
	for i := range n.Layers {
		i := i
		mods = append(mods, moduleFunc{collect: func(prefix string, s *State) {
			for j, b := range n.Layers[i] {
				b.Collect(fmt.Sprintf("%slayer%d.%d.", prefix, i+1, j), s)
			}
		}, train: func(on bool) {
			for _, b := range n.Layers[i] {
				b.SetTraining(on)
			}
		}})
	}
	return mods
}

// Collect implements Module.
func (n *ResNet) Collect(prefix string, s *State) {
	for _, m := range n.StageModules() {
		m.Collect(prefix, s)
	}
}

// SetTraining implements Module.
func (n *ResNet) SetTraining(on bool) {
	for _, m := range n.StageModules() {
		m.SetTraining(on)
	}
}

// moduleFunc adapts closures to Module (for stage views of a network).
type moduleFunc struct {
	collect func(prefix string, s *State)
	train   func(on bool)
}

func (m moduleFunc) Collect(prefix string, s *State) { m.collect(prefix, s) }
func (m moduleFunc) SetTraining(on bool)             { m.train(on) }

// basicBlock is ResNet-18/34's block: two 3x3 convolutions and a shortcut.
type basicBlock struct {
	conv1, conv2 *Conv2d
	bn1, bn2     *BatchNorm
	downConv     *Conv2d
	downBN       *BatchNorm
}

func newBasicBlock(cin, cout, stride int, r *rand.Rand) *basicBlock {
	b := &basicBlock{
		conv1: NewConv2d(cin, cout, 3, stride, 1, false, r), bn1: NewBatchNorm(cout, true),
		conv2: NewConv2d(cout, cout, 3, 1, 1, false, r), bn2: NewBatchNorm(cout, true),
	}
	if stride != 1 || cin != cout {
		b.downConv = NewConv2d(cin, cout, 1, stride, 0, false, r)
		b.downBN = NewBatchNorm(cout, true)
	}
	return b
}

func (b *basicBlock) Forward(x *autograd.Var) *autograd.Var {
	y := convBNReLU(x, b.conv1, b.bn1, true)
	z := convBNReLU(y, b.conv2, b.bn2, false)
	y.Free()
	sc := x
	if b.downConv != nil {
		sc = convBNReLU(x, b.downConv, b.downBN, false)
	}
	out := autograd.AddReLU(z, sc)
	z.Free()
	if sc != x {
		sc.Free()
	}
	return out
}

func (b *basicBlock) Collect(prefix string, s *State) {
	b.conv1.Collect(prefix+"conv1.", s)
	b.bn1.Collect(prefix+"bn1.", s)
	b.conv2.Collect(prefix+"conv2.", s)
	b.bn2.Collect(prefix+"bn2.", s)
	if b.downConv != nil {
		b.downConv.Collect(prefix+"downsample.0.", s)
		b.downBN.Collect(prefix+"downsample.1.", s)
	}
}

func (b *basicBlock) SetTraining(on bool) {
	b.bn1.SetTraining(on)
	b.bn2.SetTraining(on)
	if b.downBN != nil {
		b.downBN.SetTraining(on)
	}
}

// bottleneck is ResNet-50's block: 1x1 reduce, 3x3 (with the stride, as in
// torchvision's "ResNet v1.5"), 1x1 expand to 4x, and a shortcut.
type bottleneck struct {
	conv1, conv2, conv3 *Conv2d
	bn1, bn2, bn3       *BatchNorm
	downConv            *Conv2d
	downBN              *BatchNorm
}

func newBottleneck(cin, width, stride int, r *rand.Rand) *bottleneck {
	cout := width * 4
	b := &bottleneck{
		conv1: NewConv2d(cin, width, 1, 1, 0, false, r), bn1: NewBatchNorm(width, true),
		conv2: NewConv2d(width, width, 3, stride, 1, false, r), bn2: NewBatchNorm(width, true),
		conv3: NewConv2d(width, cout, 1, 1, 0, false, r), bn3: NewBatchNorm(cout, true),
	}
	if stride != 1 || cin != cout {
		b.downConv = NewConv2d(cin, cout, 1, stride, 0, false, r)
		b.downBN = NewBatchNorm(cout, true)
	}
	return b
}

func (b *bottleneck) Forward(x *autograd.Var) *autograd.Var {
	y := convBNReLU(x, b.conv1, b.bn1, true)
	z := convBNReLU(y, b.conv2, b.bn2, true)
	y.Free()
	y = convBNReLU(z, b.conv3, b.bn3, false)
	z.Free()
	sc := x
	if b.downConv != nil {
		sc = convBNReLU(x, b.downConv, b.downBN, false)
	}
	out := autograd.AddReLU(y, sc)
	y.Free()
	if sc != x {
		sc.Free()
	}
	return out
}

func (b *bottleneck) Collect(prefix string, s *State) {
	b.conv1.Collect(prefix+"conv1.", s)
	b.bn1.Collect(prefix+"bn1.", s)
	b.conv2.Collect(prefix+"conv2.", s)
	b.bn2.Collect(prefix+"bn2.", s)
	b.conv3.Collect(prefix+"conv3.", s)
	b.bn3.Collect(prefix+"bn3.", s)
	if b.downConv != nil {
		b.downConv.Collect(prefix+"downsample.0.", s)
		b.downBN.Collect(prefix+"downsample.1.", s)
	}
}

func (b *bottleneck) SetTraining(on bool) {
	b.bn1.SetTraining(on)
	b.bn2.SetTraining(on)
	b.bn3.SetTraining(on)
	if b.downBN != nil {
		b.downBN.SetTraining(on)
	}
}

// convBNReLU applies a convolution, its batch norm and optionally a ReLU,
// freeing intermediates when no gradient is recorded.
func convBNReLU(x *autograd.Var, c *Conv2d, bn *BatchNorm, relu bool) *autograd.Var {
	if !bn.Training && !autograd.GradEnabled() {
		return foldedConvBN(x, c, bn, relu)
	}
	y := c.Forward(x)
	var z *autograd.Var
	if relu {
		z = bn.ForwardReLU(y)
	} else {
		z = bn.Forward(y)
	}
	y.Free()
	return z
}

// foldedConvBN is convBNReLU for inference: the evaluation-mode batch norm
// y = (conv(x)-mean)/sqrt(var+eps)*gamma + beta is folded into the
// convolution's weights and bias, and the ReLU is applied as each chunk of
// output is written, so the layer makes one pass over its output instead of
// three.
func foldedConvBN(x *autograd.Var, c *Conv2d, bn *BatchNorm, relu bool) *autograd.Var {
	w := c.Weight.Value
	k := w.Dim(0)
	per := w.Len() / k
	wf := tensor.Buffers.Get(w.Shape()...)
	bf := tensor.Buffers.Get(k)
	st := &bn.State
	for o := 0; o < k; o++ {
		a := float32(1 / math.Sqrt(float64(st.RunningVar.Data[o]+st.Eps)))
		if bn.Gamma != nil {
			a *= bn.Gamma.Value.Data[o]
		}
		var b float32
		if c.Bias != nil {
			b = c.Bias.Value.Data[o]
		}
		b = (b - st.RunningMean.Data[o]) * a
		if bn.Beta != nil {
			b += bn.Beta.Value.Data[o]
		}
		bf.Data[o] = b
		src, dst := w.Data[o*per:(o+1)*per], wf.Data[o*per:(o+1)*per]
		for i, v := range src {
			dst[i] = v * a
		}
	}
	var out *autograd.Var
	if relu {
		out = autograd.Conv2dReLU(x, autograd.Const(wf), autograd.Const(bf), c.Stride, c.Pad)
	} else {
		out = autograd.Conv2d(x, autograd.Const(wf), autograd.Const(bf), c.Stride, c.Pad)
	}
	tensor.Buffers.Put(wf)
	tensor.Buffers.Put(bf)
	return out
}
