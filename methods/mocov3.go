package methods

import (
	"math/rand/v2"
	"strings"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/loss"
	"selfsup/nn"
)

// MoCoV3Params are MoCo v3's hyper-parameters (Chen, Xie & He 2021).
type MoCoV3Params struct {
	ProjHidden int `json:"proj_hidden"` // 4096
	ProjDim    int `json:"proj_dim"`    // 256
	PredHidden int `json:"pred_hidden"` // 4096
	// Tau is the temperature (0: 0.2 for ViTs, 1.0 for ResNets, as the
	// paper).
	Tau float32 `json:"tau"`
	// BaseMomentum of the momentum encoder, raised to 1 along a cosine.
	BaseMomentum float64       `json:"base_momentum"`
	Augment      AugmentParams `json:"augment"`
}

// DefaultMoCoV3Params returns the defaults.
func DefaultMoCoV3Params() MoCoV3Params {
	return MoCoV3Params{ProjHidden: 4096, ProjDim: 256, PredHidden: 4096, BaseMomentum: 0.99, Augment: defaultAugment}
}

// MoCoV3 drops MoCo's queue for large in-batch negatives (Chen, Xie & He
// 2021): query = predictor(projector(encoder(view))), key = the momentum
// encoder and projector's output for the other view, a symmetric InfoNCE
// with the other keys of the batch as negatives, scaled by 2*tau.
type MoCoV3 struct {
	P         MoCoV3Params
	Base      *branch
	Predictor *nn.MLP
	Momentum  *branch
	views     []augment.Transform
}

func init() {
	register("mocov3", "MoCo v3: momentum encoder, prediction head, symmetric in-batch InfoNCE; ResNet or ViT (Chen et al. 2021)",
		TrainDefaults{Optimizer: "lars", LR: 0.3, WeightDecay: 1e-5, Momentum: 0.9, WarmupFrac: 0.1},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultMoCoV3Params()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewMoCoV3(s, p, r)
		})
}

// NewMoCoV3 builds MoCo v3 on the backbone s describes: a projector of 2
// layers after a ResNet, 3 after a ViT, and a 2-layer predictor, all with
// batch norm (the projector's last without affine), as the official code.
func NewMoCoV3(s Spec, p MoCoV3Params, r *rand.Rand) (*MoCoV3, error) {
	if p.Tau == 0 {
		p.Tau = 1.0
		if strings.HasPrefix(s.Backbone.Arch, "vit") {
			p.Tau = 0.2
		}
	}
	if err := checkPositive("mocov3", "tau", float64(p.Tau)); err != nil {
		return nil, err
	}
	proj := func() nn.MLPConfig {
		if strings.HasPrefix(s.Backbone.Arch, "vit") {
			return nn.MLPConfig{Dims: []int{p.ProjHidden, p.ProjHidden, p.ProjDim}, HiddenBN: true, LastBN: true}
		}
		return nn.MLPConfig{Dims: []int{p.ProjHidden, p.ProjDim}, HiddenBN: true, LastBN: true}
	}
	base, err := newBranch(s, proj(), r)
	if err != nil {
		return nil, err
	}
	pred, err := nn.NewMLP(nn.MLPConfig{Dims: []int{p.ProjDim, p.PredHidden, p.ProjDim}, HiddenBN: true}, r)
	if err != nil {
		return nil, err
	}
	mom, err := momentumCopy(base, func() (*branch, error) { return newBranch(s, proj(), r) })
	if err != nil {
		return nil, err
	}
	return &MoCoV3{P: p, Base: base, Predictor: pred, Momentum: mom, views: BYOLViews(viewSize(s), s.Backbone.InChannels, p.Augment)}, nil
}

// Encoder implements Method.
func (m *MoCoV3) Encoder() nn.Backbone { return m.Base.Enc }

// Views implements Method (BYOL's asymmetric views, as the paper).
func (m *MoCoV3) Views() []augment.Transform { return m.views }

// Loss implements Method.
func (m *MoCoV3) Loss(b loader.Batch, _ *rand.Rand) Output {
	z := m.Base.forward(views2(b.Views[0], b.Views[1]))
	q := autograd.L2Normalize(m.Predictor.Forward(z), 1e-12)
	q1, q2 := halves(q)
	k := targetForward(m.Momentum, b.Views[0], b.Views[1])
	normalizeRows(k.Value)
	k1, k2 := halves(k)
	tau := m.P.Tau
	l := autograd.Scale(autograd.Add(loss.InfoNCE(q1, k2, nil, tau), loss.InfoNCE(q2, k1, nil, tau)), 2*tau)
	return Output{Loss: l, Embedding: z}
}

// AfterStep implements Method.
func (m *MoCoV3) AfterStep(progress float64) {
	if err := nn.EMAUpdate(m.Momentum, m.Base, cosineMomentum(m.P.BaseMomentum, progress)); err != nil {
		panic(err)
	}
}

// Collect implements nn.Module.
func (m *MoCoV3) Collect(prefix string, s *nn.State) {
	m.Base.Collect(prefix, s)
	m.Predictor.Collect(prefix+"predictor.", s)
	m.Momentum.Collect(prefix+"momentum.", s)
}

// SetTraining implements nn.Module.
func (m *MoCoV3) SetTraining(on bool) {
	m.Base.SetTraining(on)
	m.Predictor.SetTraining(on)
	m.Momentum.SetTraining(on)
}
