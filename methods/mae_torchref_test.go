package methods

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"selfsup/nn"
	"selfsup/tensor"
)

// maeFixture is testdata/torchref/mae.json (written by
// testdata/torchref/gen.py mae).
type maeFixture struct {
	Cases []struct {
		Name        string  `json:"name"`
		NormPixLoss bool    `json:"norm_pix_loss"`
		MaskRatio   float64 `json:"mask_ratio"`
		Config      struct {
			Image, Patch, C, Dim, Depth, Heads int
			DDim                               int `json:"ddim"`
			DDepth                             int `json:"ddepth"`
			DHeads                             int `json:"dheads"`
		} `json:"config"`
		Inputs map[string]colorRefTensor `json:"inputs"`
		Params map[string]colorRefTensor `json:"params"`
		Expect struct {
			Loss            float64                   `json:"loss"`
			Pred            colorRefTensor            `json:"pred"`
			Mask            colorRefTensor            `json:"mask"`
			IDsKeep         [][]int                   `json:"ids_keep"`
			PosEmbed        colorRefTensor            `json:"pos_embed"`
			DecoderPosEmbed colorRefTensor            `json:"decoder_pos_embed"`
			Grads           map[string]colorRefTensor `json:"grads"`
		} `json:"expect"`
	} `json:"cases"`
	SinCos16x3 colorRefTensor `json:"sincos_16_3"`
}

// MAE against the official code's computation (a float64 PyTorch twin):
// the noise-argsort masking, the encoder on the kept patches, the decoder's
// un-shuffled mask tokens, the fixed sine-cosine position embeddings, the
// masked MSE with and without per-patch normalised targets, and the
// gradient of every trainable parameter.
func TestMAEMatchesPyTorch(t *testing.T) {
	raw, err := os.ReadFile("../testdata/torchref/mae.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 testdata/torchref/gen.py mae)", err)
	}
	var fix maeFixture
	if err := json.Unmarshal(raw, &fix); err != nil {
		t.Fatalf("mae.json: %v", err)
	}
	pe, err := nn.SinCosPosEmbed(16, 3)
	if err != nil {
		t.Fatal(err)
	}
	colorCloseTo(t, "sine-cosine embedding, width 16, grid 3", pe.Data, fix.SinCos16x3, 1e-6)
	if len(fix.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range fix.Cases {
		t.Run(c.Name, func(t *testing.T) {
			cfg := c.Config
			r := rand.New(rand.NewPCG(1, 2))
			enc, err := nn.NewViT(nn.ViTConfig{ImageSize: cfg.Image, PatchSize: cfg.Patch, InChannels: cfg.C,
				Dim: cfg.Dim, Depth: cfg.Depth, Heads: cfg.Heads, MLPRatio: 4}, r)
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewMAEModel(enc, MAEConfig{MaskRatio: c.MaskRatio, DecoderDim: cfg.DDim, DecoderDepth: cfg.DDepth,
				DecoderHeads: cfg.DHeads, NormPixLoss: c.NormPixLoss, FixedPosEmbed: true}, r)
			if err != nil {
				t.Fatal(err)
			}
			colorCloseTo(t, "encoder pos_embed", enc.PosEmbed.Value.Data, c.Expect.PosEmbed, 1e-6)
			colorCloseTo(t, "decoder_pos_embed", m.DecPos.Value.Data, c.Expect.DecoderPosEmbed, 1e-6)
			st := nn.StateOf(m)
			trainable := 0
			for _, p := range st.Params {
				want, ok := c.Params[p.Name]
				if !p.Var.RequiresGrad() {
					if ok {
						t.Errorf("%s is fixed here but trained in the twin", p.Name)
					}
					continue
				}
				trainable++
				if !ok {
					t.Fatalf("parameter %s is not in the fixture", p.Name)
				}
				if len(want.Data) != p.Var.Value.Len() {
					t.Fatalf("%s: %d values, fixture %d", p.Name, p.Var.Value.Len(), len(want.Data))
				}
				copy(p.Var.Value.Data, want.Data)
			}
			if trainable != len(c.Params) {
				t.Fatalf("%d trainable parameters, the twin has %d", trainable, len(c.Params))
			}

			noise := make([][]float64, c.Inputs["noise"].Shape[0])
			tp := c.Inputs["noise"].Shape[1]
			for i := range noise {
				noise[i] = make([]float64, tp)
				for j := range noise[i] {
					noise[i][j] = float64(c.Inputs["noise"].Data[i*tp+j])
				}
			}
			if keep := m.VisiblePatches(); keep != len(c.Expect.IDsKeep[0]) {
				t.Fatalf("%d visible patches, the MAE code keeps %d", keep, len(c.Expect.IDsKeep[0]))
			}
			visible, hidden := MAEMask(noise, m.VisiblePatches())
			for i := range visible {
				for j, id := range visible[i] {
					if id != c.Expect.IDsKeep[i][j] {
						t.Fatalf("image %d: kept patches %v, the MAE code keeps %v", i, visible[i], c.Expect.IDsKeep[i])
					}
				}
			}
			in := c.Inputs["imgs"]
			out := m.ForwardMasked(tensor.FromData(append([]float32(nil), in.Data...), in.Shape...), visible, hidden)
			mask := make([]float32, 0, len(c.Expect.Mask.Data))
			for _, row := range out.Mask {
				for _, h := range row {
					v := float32(0)
					if h {
						v = 1
					}
					mask = append(mask, v)
				}
			}
			colorCloseTo(t, "mask", mask, c.Expect.Mask, 0)
			if got := float64(out.Loss.Item()); math.Abs(got-c.Expect.Loss) > 1e-5*(1+math.Abs(c.Expect.Loss)) {
				t.Fatalf("loss %v, PyTorch (float64) %v", got, c.Expect.Loss)
			}
			out.Pred.Retain()
			colorCloseTo(t, "prediction", out.Pred.Value.Data, c.Expect.Pred, 1e-5)
			if err := out.Loss.Backward(); err != nil {
				t.Fatal(err)
			}
			for _, p := range st.Params {
				if !p.Var.RequiresGrad() {
					if p.Var.Grad != nil {
						t.Errorf("fixed %s received a gradient", p.Name)
					}
					continue
				}
				if p.Var.Grad == nil {
					t.Fatalf("%s has no gradient", p.Name)
				}
				colorCloseTo(t, "gradient of "+p.Name, p.Var.Grad.Data, c.Expect.Grads[p.Name], 1e-4)
			}
		})
	}
}
