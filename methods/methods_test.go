package methods

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/tensor"
)

func tinySpec(params string) Spec {
	s := Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}}
	if params != "" {
		s.Params = []byte(params)
	}
	return s
}

func TestBuildValidatesSpecs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	tinyViT := nn.BackboneConfig{Arch: "vit-tiny", InChannels: 1, ImageSize: 8}
	cases := []struct {
		name string
		spec Spec
		want string // substring of the error, "" for success
	}{
		{"defaults", tinySpec(""), ""},
		{"params", tinySpec(`{"tau":0.2,"proj_dim":64}`), ""},
		{"unknown field", tinySpec(`{"temperature":0.2}`), "unknown field"},
		{"bad tau", tinySpec(`{"tau":0}`), "temperature"},
		{"unknown method", Spec{Method: "nope", Backbone: tinySpec("").Backbone}, "unknown method"},
		{"unknown arch", Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "nope", InChannels: 1, ImageSize: 16}}, "unknown backbone"},
		{"mae on a resnet", Spec{Method: "mae", Backbone: tinySpec("").Backbone}, "needs a ViT"},
		{"mae learned positions", Spec{Method: "mae", Backbone: tinyViT, Params: []byte(`{"pos_embed":"learned"}`)}, ""},
		{"mae bad pos_embed", Spec{Method: "mae", Backbone: tinyViT, Params: []byte(`{"pos_embed":"rope"}`)}, "pos_embed"},
		{"mae decoder width not a multiple of 4", Spec{Method: "mae", Backbone: tinyViT, Params: []byte(`{"decoder_dim":18,"decoder_heads":2}`)}, "decoder_dim"},
		{"dino bad tau", Spec{Method: "dino", Backbone: tinySpec("").Backbone, Params: []byte(`{"student_tau":-1}`)}, "student_tau"},
		{"moco bad version", Spec{Method: "moco", Backbone: tinySpec("").Backbone, Params: []byte(`{"version":3,"queue_size":64}`)}, "version"},
		{"cpc grid too small", Spec{Method: "cpc", Backbone: tinySpec("").Backbone, Params: []byte(`{"patch":16}`)}, "prediction steps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.spec, r)
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
	if d, err := Defaults("simclr"); err != nil || d.Optimizer == "" || d.LR <= 0 {
		t.Fatalf("Defaults(simclr) = %+v, %v", d, err)
	}
	// MAE's AdamW uses betas (0.9, 0.95), as the paper's code does
	if d, err := Defaults("mae"); err != nil || d.Optimizer != "adamw" || d.Beta2 != 0.95 {
		t.Fatalf("Defaults(mae) = %+v, %v", d, err)
	}
}

// A SimCLR step on a tiny batch: a finite loss near log(2N-1) at init, and
// gradients reaching the first convolution and the last head layer.
func TestSimCLRLossReachesEveryLayer(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	m, err := Build(tinySpec(""), r)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Views()) != 2 {
		t.Fatalf("%d views, want 2", len(m.Views()))
	}
	n := 6
	v1, v2 := tensor.New(n, 1, 16, 16), tensor.New(n, 1, 16, 16)
	nn.Uniform(v1, 1, r)
	nn.Uniform(v2, 1, r)
	out := m.Loss(loader.Batch{Views: []*tensor.Tensor{v1, v2}}, r)
	l := float64(out.Loss.Item())
	if math.IsNaN(l) || l <= 0 || l > 2*math.Log(float64(2*n-1)) {
		t.Fatalf("initial loss %v, expected near log(%d) = %.3f", l, 2*n-1, math.Log(float64(2*n-1)))
	}
	if err := out.Loss.Backward(); err != nil {
		t.Fatal(err)
	}
	st := nn.StateOf(m)
	for _, p := range st.Params {
		if p.Name == "encoder.conv1.weight" || p.Name == "projector.2.weight" {
			if p.Var.Grad == nil {
				t.Fatalf("%s got no gradient", p.Name)
			}
			var s float64
			for _, g := range p.Var.Grad.Data {
				s += math.Abs(float64(g))
			}
			if s == 0 {
				t.Fatalf("%s has an all-zero gradient", p.Name)
			}
		}
	}
	if !strings.HasPrefix(st.Params[0].Name, "encoder.") {
		t.Fatalf("first parameter %q is not under encoder.", st.Params[0].Name)
	}
}

// MAE hides the configured share of patches, predicts every patch, and its
// loss trains both the encoder and the mask token.
func TestMAEMasksAndTrains(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	enc, err := nn.NewViT(nn.ViTConfig{ImageSize: 16, PatchSize: 4, InChannels: 3, Dim: 32, Depth: 2, Heads: 2}, r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMAEModel(enc, MAEConfig{MaskRatio: 0.75, DecoderDim: 16, DecoderDepth: 1, DecoderHeads: 2, NormPixLoss: true}, r)
	if err != nil {
		t.Fatal(err)
	}
	imgs := tensor.New(3, 3, 16, 16)
	nn.Uniform(imgs, 1, r)
	out := m.Forward(imgs, r)
	out.Pred.Retain()
	for b, row := range out.Mask {
		hidden := 0
		for _, h := range row {
			if h {
				hidden++
			}
		}
		if hidden != 12 {
			t.Fatalf("image %d: %d of 16 patches hidden, want 12", b, hidden)
		}
	}
	if err := out.Loss.Backward(); err != nil {
		t.Fatal(err)
	}
	if s := out.Pred.Shape(); s[0] != 3 || s[1] != 16 || s[2] != 48 {
		t.Fatalf("prediction shape %v, want [3 16 48]", s)
	}
	for _, p := range []*tensor.Tensor{m.MaskToken.Grad, enc.PosEmbed.Grad} {
		if p == nil {
			t.Fatal("mask token or position embedding got no gradient")
		}
	}
	if _, err := NewMAEModel(enc, MAEConfig{MaskRatio: 1}, r); err == nil {
		t.Fatal("mask ratio 1 accepted")
	}
}
