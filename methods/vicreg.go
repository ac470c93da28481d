package methods

import (
	"math/rand/v2"

	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/loss"
	"selfsup/nn"
)

// VICRegParams are VICReg's hyper-parameters (Bardes et al. 2022: weights
// 25/25/1; the CIFAR expander of solo-learn, 2048-2048-2048).
type VICRegParams struct {
	ProjHidden int                `json:"proj_hidden"`
	ProjDim    int                `json:"proj_dim"`
	Weights    loss.VICRegWeights `json:"weights"`
	Augment    AugmentParams      `json:"augment"`
}

// DefaultVICRegParams returns the defaults.
func DefaultVICRegParams() VICRegParams {
	return VICRegParams{ProjHidden: 2048, ProjDim: 2048, Weights: loss.VICRegWeights{Invariance: 25, Variance: 25, Covariance: 1}, Augment: defaultAugment}
}

// VICReg keeps the views' embeddings close (invariance) while keeping each
// dimension's variance up and the dimensions decorrelated (Bardes et al.
// 2022).
type VICReg struct {
	P     VICRegParams
	Net   *branch
	views []augment.Transform
}

func init() {
	register("vicreg", "VICReg: variance, invariance and covariance terms on the views' embeddings (Bardes et al. 2022)",
		TrainDefaults{Optimizer: "lars", LR: 0.3, WeightDecay: 1e-4, Momentum: 0.9, WarmupFrac: 0.1},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultVICRegParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			net, err := newBranch(s, nn.MLPConfig{Dims: []int{p.ProjHidden, p.ProjHidden, p.ProjDim}, HiddenBN: true}, r)
			if err != nil {
				return nil, err
			}
			return &VICReg{P: p, Net: net, views: BYOLViews(viewSize(s), s.Backbone.InChannels, p.Augment)}, nil
		})
}

// Encoder implements Method.
func (m *VICReg) Encoder() nn.Backbone { return m.Net.Enc }

// Views implements Method.
func (m *VICReg) Views() []augment.Transform { return m.views }

// Loss implements Method.
func (m *VICReg) Loss(b loader.Batch, _ *rand.Rand) Output {
	z := m.Net.forward(views2(b.Views[0], b.Views[1]))
	z1, z2 := halves(z)
	return Output{Loss: loss.VICReg(z1, z2, m.P.Weights), Embedding: z}
}

// AfterStep implements Method (nothing to update).
func (m *VICReg) AfterStep(float64) {}

// Collect implements nn.Module.
func (m *VICReg) Collect(prefix string, s *nn.State) { m.Net.Collect(prefix, s) }

// SetTraining implements nn.Module.
func (m *VICReg) SetTraining(on bool) { m.Net.SetTraining(on) }
