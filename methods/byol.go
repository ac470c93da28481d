package methods

import (
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/loss"
	"selfsup/nn"
)

// BYOLParams are BYOL's hyper-parameters (Grill et al. 2020; the CIFAR
// sizes of solo-learn).
type BYOLParams struct {
	ProjHidden int `json:"proj_hidden"` // 4096
	ProjDim    int `json:"proj_dim"`    // 256
	PredHidden int `json:"pred_hidden"` // 4096
	// BaseMomentum of the target network, raised to 1 along a cosine
	// (0.99 in solo-learn's CIFAR runs, 0.996 in the paper).
	BaseMomentum float64       `json:"base_momentum"`
	Augment      AugmentParams `json:"augment"`
}

// DefaultBYOLParams returns the defaults.
func DefaultBYOLParams() BYOLParams {
	return BYOLParams{ProjHidden: 4096, ProjDim: 256, PredHidden: 4096, BaseMomentum: 0.99, Augment: defaultAugment}
}

// BYOL predicts, from one view, the target network's projection of the
// other view (Grill et al. 2020): online = encoder, projector, predictor;
// target = an EMA of encoder and projector, without gradients. There are no
// negatives; the predictor and the slowly moving target prevent collapse.
type BYOL struct {
	P         BYOLParams
	Online    *branch
	Predictor *nn.MLP
	Target    *branch
	views     []augment.Transform
}

func init() {
	register("byol", "BYOL: online network predicts an EMA target's projection of the other view (Grill et al. 2020)",
		// the paper's LARS settings: 0.2 x batch/256, weight decay 1.5e-6
		// (solo-learn's CIFAR recipe, lr 1.0 and 1e-5, collapsed a one-epoch
		// MNIST run to an effective rank of 4 and a kNN below random-init)
		TrainDefaults{Optimizer: "lars", LR: 0.2, WeightDecay: 1.5e-6, Momentum: 0.9, WarmupFrac: 0.1},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultBYOLParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewBYOL(s, p, r)
		})
}

// NewBYOL builds BYOL on the backbone s describes.
func NewBYOL(s Spec, p BYOLParams, r *rand.Rand) (*BYOL, error) {
	proj := func() nn.MLPConfig { return nn.MLPConfig{Dims: []int{p.ProjHidden, p.ProjDim}, HiddenBN: true} }
	online, err := newBranch(s, proj(), r)
	if err != nil {
		return nil, err
	}
	pred, err := nn.NewMLP(nn.MLPConfig{Dims: []int{p.ProjDim, p.PredHidden, p.ProjDim}, HiddenBN: true}, r)
	if err != nil {
		return nil, err
	}
	target, err := momentumCopy(online, func() (*branch, error) { return newBranch(s, proj(), r) })
	if err != nil {
		return nil, err
	}
	o := BYOLViews(viewSize(s), s.Backbone.InChannels, p.Augment)
	return &BYOL{P: p, Online: online, Predictor: pred, Target: target, views: o}, nil
}

// BYOLViews returns BYOL's two asymmetric view pipelines adjusted by a.
func BYOLViews(size, channels int, a AugmentParams) []augment.Transform {
	o := augment.BYOLOptions(size)
	return []augment.Transform{a.apply(o[0], channels).Pipeline(), a.apply(o[1], channels).Pipeline()}
}

// Encoder implements Method.
func (m *BYOL) Encoder() nn.Backbone { return m.Online.Enc }

// Views implements Method.
func (m *BYOL) Views() []augment.Transform { return m.views }

// Loss implements Method: the symmetric loss, each view's prediction
// against the target's projection of the other.
func (m *BYOL) Loss(b loader.Batch, _ *rand.Rand) Output {
	z := m.Online.forward(views2(b.Views[0], b.Views[1]))
	p := m.Predictor.Forward(z)
	p1, p2 := halves(p)
	t := targetForward(m.Target, b.Views[0], b.Views[1])
	t1, t2 := halves(t)
	l := autograd.Add(loss.BYOL(p1, t2), loss.BYOL(p2, t1))
	return Output{Loss: l, Embedding: z}
}

// AfterStep implements Method: the target follows the online network with
// a momentum rising from BaseMomentum to 1.
func (m *BYOL) AfterStep(progress float64) {
	if err := nn.EMAUpdate(m.Target, m.Online, cosineMomentum(m.P.BaseMomentum, progress)); err != nil {
		panic(err)
	}
}

// Collect implements nn.Module.
func (m *BYOL) Collect(prefix string, s *nn.State) {
	m.Online.Collect(prefix, s)
	m.Predictor.Collect(prefix+"predictor.", s)
	m.Target.Collect(prefix+"momentum.", s)
}

// SetTraining implements nn.Module.
func (m *BYOL) SetTraining(on bool) {
	m.Online.SetTraining(on)
	m.Predictor.SetTraining(on)
	m.Target.SetTraining(on)
}
