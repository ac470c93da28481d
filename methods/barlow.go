package methods

import (
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/loss"
	"selfsup/nn"
)

// BarlowParams are Barlow Twins' hyper-parameters (Zbontar et al. 2021;
// the CIFAR sizes of solo-learn: projector 2048-2048-2048, loss scaled by
// 0.1).
type BarlowParams struct {
	ProjHidden int           `json:"proj_hidden"`
	ProjDim    int           `json:"proj_dim"`
	Lambda     float32       `json:"lambda"`     // 0.0051
	ScaleLoss  float32       `json:"scale_loss"` // 0.1
	Augment    AugmentParams `json:"augment"`
}

// DefaultBarlowParams returns the defaults.
func DefaultBarlowParams() BarlowParams {
	return BarlowParams{ProjHidden: 2048, ProjDim: 2048, Lambda: 0.0051, ScaleLoss: 0.1, Augment: defaultAugment}
}

// Barlow makes the cross-correlation of the two views' embeddings the
// identity (Zbontar et al. 2021): invariance on the diagonal, redundancy
// reduction off it.
type Barlow struct {
	P     BarlowParams
	Net   *branch
	views []augment.Transform
}

func init() {
	register("barlow", "Barlow Twins: cross-correlation of the views' embeddings driven to the identity (Zbontar et al. 2021)",
		TrainDefaults{Optimizer: "lars", LR: 0.3, WeightDecay: 1e-4, Momentum: 0.9, WarmupFrac: 0.1},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultBarlowParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			if err := checkPositive("barlow", "lambda", float64(p.Lambda)); err != nil {
				return nil, err
			}
			net, err := newBranch(s, nn.MLPConfig{Dims: []int{p.ProjHidden, p.ProjHidden, p.ProjDim}, HiddenBN: true}, r)
			if err != nil {
				return nil, err
			}
			return &Barlow{P: p, Net: net, views: BYOLViews(viewSize(s), s.Backbone.InChannels, p.Augment)}, nil
		})
}

// Encoder implements Method.
func (m *Barlow) Encoder() nn.Backbone { return m.Net.Enc }

// Views implements Method (BYOL's asymmetric views, as the paper).
func (m *Barlow) Views() []augment.Transform { return m.views }

// Loss implements Method.
func (m *Barlow) Loss(b loader.Batch, _ *rand.Rand) Output {
	z := m.Net.forward(views2(b.Views[0], b.Views[1]))
	z1, z2 := halves(z)
	return Output{Loss: autograd.Scale(loss.BarlowTwins(z1, z2, m.P.Lambda), m.P.ScaleLoss), Embedding: z}
}

// AfterStep implements Method (nothing to update).
func (m *Barlow) AfterStep(float64) {}

// Collect implements nn.Module.
func (m *Barlow) Collect(prefix string, s *nn.State) { m.Net.Collect(prefix, s) }

// SetTraining implements nn.Module.
func (m *Barlow) SetTraining(on bool) { m.Net.SetTraining(on) }
