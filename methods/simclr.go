package methods

import (
	"fmt"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/loss"
	"selfsup/nn"
)

// SimCLRParams are SimCLR's hyper-parameters.
type SimCLRParams struct {
	// Tau is the NT-Xent temperature (0.5 on CIFAR-10 in the paper).
	Tau float32 `json:"tau"`
	// HiddenDim and ProjDim size the projection head g (2048/128 in the
	// paper for ResNet-50; the encoder width and 128 here by default).
	HiddenDim int `json:"hidden_dim"`
	ProjDim   int `json:"proj_dim"`
	// Augment holds the view recipe (crop scale, jitter strength ...).
	Augment AugmentParams `json:"augment"`
}

// AugmentParams are the tunable parts of a method's view recipe.
type AugmentParams struct {
	// Strength scales SimCLR's colour jitter (1 on ImageNet, 0.5 on
	// CIFAR-10); the other methods use their papers' jitter.
	Strength float64 `json:"strength,omitempty"`
	// MinScale is the smallest crop area fraction (0: the method's paper
	// value; larger helps tiny images).
	MinScale float64 `json:"min_scale,omitempty"`
	// Flip enables horizontal flips (off for digits, where mirroring
	// changes the class of some).
	Flip bool `json:"flip"`
}

// defaultAugment is every method's starting point: the paper's crops, with
// flips.
var defaultAugment = AugmentParams{Flip: true}

// apply adjusts a paper's view recipe: the crop scale and flips from a;
// no normalisation for images that are not RGB (the papers' statistics are
// ImageNet's colour means); no blur at 32 pixels and below (as SimCLR and
// solo-learn do on CIFAR: a 3-pixel blur erases such images).
func (a AugmentParams) apply(o augment.Options, channels int) augment.Options {
	if a.MinScale > 0 {
		o.Scale[0] = a.MinScale
	}
	if !a.Flip {
		o.Flip = 0
	}
	if channels != 3 {
		o.Mean, o.Std = nil, nil
	}
	if o.Size <= 32 {
		o.Blur.P = 0
	}
	return o
}

// DefaultSimCLRParams are the paper's CIFAR settings.
func DefaultSimCLRParams() SimCLRParams {
	return SimCLRParams{Tau: 0.5, ProjDim: 128, Augment: AugmentParams{Strength: 0.5, MinScale: 0.08, Flip: true}}
}

// SimCLR pulls two augmented views of an image together and pushes the other
// 2N-2 views of the batch away (Chen et al. 2020): z = g(h), NT-Xent on z,
// while probes see h.
type SimCLR struct {
	P       SimCLRParams
	Enc     nn.Backbone
	Head    *nn.MLP
	views   []augment.Transform
	channel int
}

func init() {
	register("simclr", "SimCLR: two views, projection head, NT-Xent over the 2N views (Chen et al. 2020)",
		TrainDefaults{Optimizer: "lars", LR: 0.3, WeightDecay: 1e-6, Momentum: 0.9, WarmupFrac: 0.1},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultSimCLRParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewSimCLR(s, p, r)
		})
}

// NewSimCLR builds SimCLR on the backbone s describes.
func NewSimCLR(s Spec, p SimCLRParams, r *rand.Rand) (*SimCLR, error) {
	if p.Tau <= 0 {
		return nil, fmt.Errorf("simclr: temperature %v must be positive", p.Tau)
	}
	enc, err := nn.NewBackbone(s.Backbone, r)
	if err != nil {
		return nil, err
	}
	hidden := p.HiddenDim
	if hidden == 0 {
		hidden = enc.OutDim()
	}
	head, err := nn.NewMLP(nn.MLPConfig{Dims: []int{enc.OutDim(), hidden, p.ProjDim}}, r)
	if err != nil {
		return nil, fmt.Errorf("simclr head: %w", err)
	}
	m := &SimCLR{P: p, Enc: enc, Head: head, channel: s.Backbone.InChannels}
	o := p.Augment.apply(augment.SimCLROptions(viewSize(s), p.Augment.Strength), s.Backbone.InChannels)
	m.views = []augment.Transform{o.Pipeline(), o.Pipeline()}
	return m, nil
}

// Encoder implements Method.
func (m *SimCLR) Encoder() nn.Backbone { return m.Enc }

// Views implements Method.
func (m *SimCLR) Views() []augment.Transform { return m.views }

// Loss implements Method: both views go through encoder and head as one
// batch of 2N, rows i and i+N being the two views of image i.
func (m *SimCLR) Loss(b loader.Batch, _ *rand.Rand) Output {
	x := autograd.Temp(concatViews(b.Views[0], b.Views[1]))
	h := m.Enc.Forward(x)
	z := m.Head.Forward(h)
	return Output{Loss: loss.NTXent(z, m.P.Tau)}
}

// AfterStep implements Method (SimCLR keeps no extra state).
func (m *SimCLR) AfterStep(float64) {}

// Collect implements nn.Module.
func (m *SimCLR) Collect(prefix string, s *nn.State) {
	m.Enc.Collect(prefix+"encoder.", s)
	m.Head.Collect(prefix+"projector.", s)
}

// SetTraining implements nn.Module.
func (m *SimCLR) SetTraining(on bool) {
	m.Enc.SetTraining(on)
	m.Head.SetTraining(on)
}
