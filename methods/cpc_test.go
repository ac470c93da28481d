package methods

import (
	"math"
	"math/rand/v2"
	"testing"

	"selfsup/autograd"
	"selfsup/nn"
	"selfsup/tensor"
)

// TestCPCEncoderAveragesThePatchGrid checks the CPC evaluation encoder: its
// features are the mean of the backbone's features of every patch of the
// grid, and its last stage map, globally pooled, gives the same vector.
func TestCPCEncoderAveragesThePatchGrid(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := Spec{Method: "cpc", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}}
	m, err := Build(s, r)
	if err != nil {
		t.Fatal(err)
	}
	c := m.(*CPC)
	enc := c.Encoder()
	enc.SetTraining(false)
	const n = 2
	x := tensor.New(n, 1, 16, 16)
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	autograd.NoGrad(func() { checkPatchGrid(t, c, enc, x) })
}

func checkPatchGrid(t *testing.T, c *CPC, enc nn.Backbone, x *tensor.Tensor) {
	t.Helper()
	n := x.Dim(0)
	got := enc.Forward(autograd.Const(x)).Value
	if got.Dim(0) != n || got.Dim(1) != c.Enc.OutDim() {
		t.Fatalf("features %v, want [%d %d]", got.Shape(), n, c.Enc.OutDim())
	}
	patches, gh, gw := tensor.ExtractPatches(x, c.P.Patch, c.P.Stride)
	if gh*gw < 4 {
		t.Fatalf("a %dx%d grid is too small to test averaging", gh, gw)
	}
	z := c.Enc.Forward(autograd.Const(patches)).Value
	d := z.Dim(1)
	for i := range n {
		for j := range d {
			var want float64
			for p := range gh * gw {
				want += float64(z.Data[(i*gh*gw+p)*d+j])
			}
			want /= float64(gh * gw)
			if g := float64(got.Data[i*d+j]); math.Abs(g-want) > 1e-5 {
				t.Fatalf("image %d feature %d: %v, want the patch mean %v", i, j, g, want)
			}
		}
	}
	stages := enc.ForwardStages(autograd.Const(x), enc.NumStages(), false)
	last := stages[len(stages)-1]
	if sh := last.Shape(); sh[0] != n || sh[1] != d {
		t.Fatalf("last stage map %v, want [%d %d h w]", sh, n, d)
	}
	pooled := autograd.GlobalAvgPool(last).Value
	for i, v := range pooled.Data {
		if math.Abs(float64(v-got.Data[i])) > 1e-5 {
			t.Fatalf("pooled last stage[%d] = %v, Forward gives %v", i, v, got.Data[i])
		}
	}
}
