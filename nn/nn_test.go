package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"selfsup/autograd"
	"selfsup/tensor"
)

// The inference path folds batch norm into the convolutions; it must give
// the same features as the unfolded evaluation-mode network.
func TestFoldedInferenceMatchesEvalMode(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, arch := range []string{"resnet-small", "resnet18", "resnet50-cifar"} {
		b, err := NewBackbone(BackboneConfig{Arch: arch, InChannels: 3, ImageSize: 32}, r)
		if err != nil {
			t.Fatal(err)
		}
		// non-trivial running statistics and affine parameters
		VisitBatchNorms(b, func(bn *BatchNorm) {
			Uniform(bn.State.RunningMean, 0.5, r)
			for i := range bn.State.RunningVar.Data {
				bn.State.RunningVar.Data[i] = 0.5 + r.Float32()
			}
			Uniform(bn.Gamma.Value, 1, r)
			Uniform(bn.Beta.Value, 0.5, r)
		})
		b.SetTraining(false)
		x := tensor.New(3, 3, 32, 32)
		Normal(x, 1, r)
		ref := b.Forward(autograd.Const(x)) // records a graph: unfolded path
		want := ref.Value.Clone()
		var got *tensor.Tensor
		autograd.NoGrad(func() { got = b.Forward(autograd.Const(x)).Value })
		for i, w := range want.Data {
			if d := math.Abs(float64(got.Data[i] - w)); d > 1e-4*(1+math.Abs(float64(w))) {
				t.Fatalf("%s: feature %d folded %v, unfolded %v", arch, i, got.Data[i], w)
			}
		}
	}
}
