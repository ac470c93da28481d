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

func TestBilinearMatrix(t *testing.T) {
	// identity when the size does not change; rows sum to 1 otherwise; a
	// constant grid stays constant and a linear ramp stays a ramp
	id := BilinearMatrix(4, 4)
	for i := 0; i < 16; i++ {
		for j := 0; j < 16; j++ {
			want := float32(0)
			if i == j {
				want = 1
			}
			if id.At(i, j) != want {
				t.Fatalf("identity resample [%d,%d] = %v", i, j, id.At(i, j))
			}
		}
	}
	m := BilinearMatrix(4, 2)
	for r := 0; r < 4; r++ {
		var s float32
		for c := 0; c < 16; c++ {
			s += m.At(r, c)
		}
		if math.Abs(float64(s-1)) > 1e-6 {
			t.Fatalf("row %d sums to %v", r, s)
		}
	}
	// downsampling 4 -> 2 averages 2x2 blocks
	if got := m.At(0, 0); math.Abs(float64(got-0.25)) > 1e-6 {
		t.Fatalf("4->2 weight %v, want 0.25", got)
	}
}

func TestViTTakesOtherImageSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	v, err := NewViT(ViTConfig{ImageSize: 16, PatchSize: 4, InChannels: 1, Dim: 16, Depth: 1, Heads: 2}, r)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(2, 1, 8, 8)
	Normal(x, 1, r)
	out := v.Forward(autograd.Const(x))
	if s := out.Shape(); s[0] != 2 || s[1] != 16 {
		t.Fatalf("output %v", s)
	}
	if err := autograd.Mean(out).Backward(); err != nil {
		t.Fatal(err)
	}
	if v.PosEmbed.Grad == nil {
		t.Fatal("no gradient reaches the position embedding through the resampling")
	}
}
