package methods

import (
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/loss"
	"selfsup/nn"
)

// SimSiamParams are SimSiam's hyper-parameters (Chen & He 2021; the CIFAR
// sizes: projector 2048, predictor bottleneck 512).
type SimSiamParams struct {
	ProjDim    int           `json:"proj_dim"`    // 2048
	PredHidden int           `json:"pred_hidden"` // 512
	Augment    AugmentParams `json:"augment"`
}

// DefaultSimSiamParams returns the defaults.
func DefaultSimSiamParams() SimSiamParams {
	return SimSiamParams{ProjDim: 2048, PredHidden: 512, Augment: defaultAugment}
}

// SimSiam is BYOL without the momentum target (Chen & He 2021): both views
// share one encoder and projector, a predictor maps one view's projection
// towards the other's, and the stop-gradient on the target side alone keeps
// the representation from collapsing.
type SimSiam struct {
	P         SimSiamParams
	Net       *branch
	Predictor *nn.MLP
	views     []augment.Transform
}

func init() {
	register("simsiam", "SimSiam: predictor + stop-gradient, no negatives, no momentum encoder (Chen & He 2021)",
		TrainDefaults{Optimizer: "sgd", LR: 0.05, WeightDecay: 1e-4, Momentum: 0.9, WarmupFrac: 0},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultSimSiamParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewSimSiam(s, p, r)
		})
}

// NewSimSiam builds SimSiam on the backbone s describes: a 3-layer projector
// with batch norm (the last without affine), a 2-layer bottleneck predictor.
func NewSimSiam(s Spec, p SimSiamParams, r *rand.Rand) (*SimSiam, error) {
	net, err := newBranch(s, nn.MLPConfig{Dims: []int{p.ProjDim, p.ProjDim, p.ProjDim}, HiddenBN: true, LastBN: true}, r)
	if err != nil {
		return nil, err
	}
	pred, err := nn.NewMLP(nn.MLPConfig{Dims: []int{p.ProjDim, p.PredHidden, p.ProjDim}, HiddenBN: true}, r)
	if err != nil {
		return nil, err
	}
	o := p.Augment.apply(augment.MoCoV2Options(viewSize(s)), s.Backbone.InChannels)
	return &SimSiam{P: p, Net: net, Predictor: pred, views: []augment.Transform{o.Pipeline(), o.Pipeline()}}, nil
}

// Encoder implements Method.
func (m *SimSiam) Encoder() nn.Backbone { return m.Net.Enc }

// Views implements Method.
func (m *SimSiam) Views() []augment.Transform { return m.views }

// Loss implements Method: D(p1, sg(z2))/2 + D(p2, sg(z1))/2 with D the
// negative cosine.
func (m *SimSiam) Loss(b loader.Batch, _ *rand.Rand) Output {
	z := m.Net.forward(views2(b.Views[0], b.Views[1]))
	p := m.Predictor.Forward(z)
	p1, p2 := halves(p)
	z1, z2 := halves(autograd.Detach(z))
	l := autograd.Scale(autograd.Add(loss.NegativeCosine(p1, z2), loss.NegativeCosine(p2, z1)), 0.5)
	return Output{Loss: l, Embedding: z}
}

// AfterStep implements Method (nothing to update).
func (m *SimSiam) AfterStep(float64) {}

// Collect implements nn.Module.
func (m *SimSiam) Collect(prefix string, s *nn.State) {
	m.Net.Collect(prefix, s)
	m.Predictor.Collect(prefix+"predictor.", s)
}

// SetTraining implements nn.Module.
func (m *SimSiam) SetTraining(on bool) {
	m.Net.SetTraining(on)
	m.Predictor.SetTraining(on)
}
