package cam

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/nn"
	"selfsup/tensor"
)

// TestGradCAMIsTheClassActivationMap checks the autograd Grad-CAM against
// its closed form: with a pooled, standardised linear probe the gradient
// of class c's score with respect to A_k(i, j) is W_ck / (std_k h w) at
// every position, so the map is ReLU(sum_k W_ck / (std_k h w) A_k).
func TestGradCAMIsTheClassActivationMap(t *testing.T) {
	cases := []struct {
		name       string
		b, c, h, w int
		classes    []int
	}{
		{"given classes", 3, 5, 4, 4, []int{0, 2, 1}},
		{"predicted", 2, 6, 3, 5, nil},
		{"mixed", 2, 4, 2, 2, []int{Predicted, 3}},
		{"1x1 map", 2, 3, 1, 1, []int{1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const k = 4
			a := randomTensor(1, tc.b, tc.c, tc.h, tc.w)
			probe := randomProbe(tc.c, k, 2)
			raw, logits, chosen, err := gradCAM(a.Clone(), probe, tc.classes)
			if err != nil {
				t.Fatal(err)
			}
			want, err := probe.Logits(poolMap(a))
			if err != nil {
				t.Fatal(err)
			}
			n := tc.h * tc.w
			for i := 0; i < tc.b; i++ {
				row := want.Data[i*k : (i+1)*k]
				cl := argmax(row)
				if tc.classes != nil && tc.classes[i] != Predicted {
					cl = tc.classes[i]
				}
				if chosen[i] != cl {
					t.Errorf("image %d explains class %d, want %d", i, chosen[i], cl)
				}
				for j := range row {
					if d := math.Abs(float64(logits.Data[i*k+j] - row[j])); d > 1e-4 {
						t.Errorf("logit [%d,%d] = %v, want %v", i, j, logits.Data[i*k+j], row[j])
					}
				}
				for p := 0; p < n; p++ {
					s := 0.0
					for ch := 0; ch < tc.c; ch++ {
						s += float64(probe.W.Data[cl*tc.c+ch]) / float64(probe.Std.Data[ch]) / float64(n) * float64(a.Data[(i*tc.c+ch)*n+p])
					}
					s = max(s, 0)
					if got := float64(raw[i*n+p]); math.Abs(got-s) > 1e-4*(1+math.Abs(s)) {
						t.Fatalf("image %d position %d: Grad-CAM %v, closed form %v", i, p, got, s)
					}
				}
			}
		})
	}
}

func TestFeatureNorm(t *testing.T) {
	a := tensor.FromData([]float32{
		3, 0, 1, // channel 0 of image 0 (1x3 map)
		4, 2, 0, // channel 1
	}, 1, 2, 1, 3)
	got := featureNorm(a)
	want := []float32{5, 2, 1}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("norm[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestUpsampleMatchesBilinearMatrix(t *testing.T) {
	for _, tc := range []struct{ src, dst int }{{1, 4}, {2, 5}, {3, 7}, {4, 4}, {7, 56}, {5, 3}} {
		src := randomTensor(uint64(tc.src), tc.src*tc.src)
		got := make([]float32, tc.dst*tc.dst)
		Upsample(got, tc.dst, tc.dst, src.Data, tc.src, tc.src)
		m := nn.BilinearMatrix(tc.src, tc.dst)
		for i := range got {
			want := 0.0
			for j, v := range src.Data {
				want += float64(m.Data[i*len(src.Data)+j]) * float64(v)
			}
			if math.Abs(float64(got[i])-want) > 1e-5 {
				t.Fatalf("%d -> %d: pixel %d = %v, want %v", tc.src, tc.dst, i, got[i], want)
			}
		}
	}
	// non-square: a vertical ramp stays a ramp and keeps its ends
	got := make([]float32, 8*2)
	Upsample(got, 8, 2, []float32{0, 0, 1, 1}, 2, 2)
	if got[0] != 0 || got[15] != 1 || got[2] != 0 || got[8] <= got[6] {
		t.Errorf("2x2 ramp to 8x2: %v", got)
	}
}

func TestNormalise(t *testing.T) {
	cases := []struct{ in, want []float32 }{
		{[]float32{2, 4, 3}, []float32{0, 1, 0.5}},
		{[]float32{5, 5}, []float32{0, 0}},
		{[]float32{-1, 0, 1}, []float32{0, 0.5, 1}},
	}
	for _, tc := range cases {
		v := append([]float32(nil), tc.in...)
		normalise(v)
		for i := range v {
			if math.Abs(float64(v[i]-tc.want[i])) > 1e-6 {
				t.Errorf("normalise(%v) = %v, want %v", tc.in, v, tc.want)
				break
			}
		}
	}
}

func TestAsGrid(t *testing.T) {
	// 2 images, a class token and 4 patch tokens of width 3
	tok := tensor.New(2, 5, 3)
	for i := range tok.Data {
		tok.Data[i] = float32(i)
	}
	g, err := asGrid(tok)
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Shape(); s[0] != 2 || s[1] != 3 || s[2] != 2 || s[3] != 2 {
		t.Fatalf("grid shape %v, want [2 3 2 2]", s)
	}
	// image 1, channel 2, patch 3 (row 1, column 1) is token 1+3 of image 1
	if got, want := g.Data[(1*3+2)*4+3], tok.Data[(1*5+4)*3+2]; got != want {
		t.Errorf("grid value %v, want %v", got, want)
	}
	noCLS := tensor.New(1, 9, 2)
	if g, err := asGrid(noCLS); err != nil || g.Dim(2) != 3 {
		t.Errorf("9 tokens without a class token: %v, %v", g, err)
	}
	if _, err := asGrid(tensor.New(1, 7, 2)); err == nil || !strings.Contains(err.Error(), "square grid") {
		t.Errorf("7 tokens: error %v, want one about the square grid", err)
	}
	if _, err := asGrid(tensor.New(4, 2)); err == nil {
		t.Error("a [4, 2] output gave no error")
	}
}

func TestExplainResNetAndViT(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	res := tinyResNet(t, 1)
	vit, err := nn.NewViT(nn.ViTConfig{ImageSize: 16, PatchSize: 4, InChannels: 1, Dim: 8, Depth: 2, Heads: 2}, r)
	if err != nil {
		t.Fatal(err)
	}
	x := randomTensor(3, 2, 1, 16, 16)
	for _, tc := range []struct {
		name string
		enc  nn.Backbone
		dim  int
	}{{"resnet", res, 64}, {"vit", vit, 8}} {
		t.Run(tc.name, func(t *testing.T) {
			ex := &Explainer{Encoder: tc.enc, Probe: randomProbe(tc.dim, 3, 4)}
			for _, mode := range []Mode{GradCAM, FeatureNorm} {
				maps, err := ex.Explain(x, mode, nil)
				if err != nil {
					t.Fatalf("%v: %v", mode, err)
				}
				if len(maps) != 2 {
					t.Fatalf("%v: %d maps for 2 images", mode, len(maps))
				}
				for i, m := range maps {
					if m.H != 16 || m.W != 16 || len(m.Values) != 256 {
						t.Fatalf("%v map %d is %dx%d", mode, i, m.H, m.W)
					}
					lo, hi := m.Values[0], m.Values[0]
					for _, v := range m.Values {
						lo, hi = min(lo, v), max(hi, v)
					}
					if lo != 0 || (hi != 1 && hi != 0) {
						t.Errorf("%v map %d spans [%v, %v], want [0, 1]", mode, i, lo, hi)
					}
					if m.Predicted < 0 || m.Predicted > 2 {
						t.Errorf("%v map %d: predicted %d", mode, i, m.Predicted)
					}
					if mode == GradCAM && m.Class != m.Predicted {
						t.Errorf("map %d explains %d, the prediction is %d", i, m.Class, m.Predicted)
					}
					if mode == FeatureNorm && m.Class != -1 {
						t.Errorf("feature-norm map %d has class %d", i, m.Class)
					}
				}
			}
		})
	}
}

func TestExplainErrors(t *testing.T) {
	enc := tinyResNet(t, 2)
	x := randomTensor(1, 2, 1, 16, 16)
	cases := []struct {
		name    string
		ex      *Explainer
		x       *tensor.Tensor
		mode    Mode
		classes []int
		noGrad  bool
		want    string
	}{
		{"no probe", &Explainer{Encoder: enc}, x, GradCAM, nil, false, "needs a probe"},
		{"probe of another width", &Explainer{Encoder: enc, Probe: randomProbe(10, 3, 1)}, x, GradCAM, nil, false, "takes 10 features"},
		{"class out of range", &Explainer{Encoder: enc, Probe: randomProbe(64, 3, 1)}, x, GradCAM, []int{0, 3}, false, "not a class of the probe"},
		{"classes count", &Explainer{Encoder: enc, Probe: randomProbe(64, 3, 1)}, x, GradCAM, []int{0}, false, "1 classes for 2 images"},
		{"not a batch", &Explainer{Encoder: enc}, tensor.New(16, 16), FeatureNorm, nil, false, "[B, C, H, W]"},
		{"under NoGrad", &Explainer{Encoder: enc, Probe: randomProbe(64, 3, 1)}, x, GradCAM, nil, true, "NoGrad"},
		{"wrong channels", &Explainer{Encoder: enc}, tensor.New(1, 3, 16, 16), FeatureNorm, nil, false, "feature map"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			call := func() { _, err = tc.ex.Explain(tc.x, tc.mode, tc.classes) }
			if tc.noGrad {
				autograd.NoGrad(call)
			} else {
				call()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseModeAndTarget(t *testing.T) {
	for _, s := range []string{"gradcam", "norm"} {
		m, err := ParseMode(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("saliency"); err == nil {
		t.Error("ParseMode(saliency) gave no error")
	}
	if g, err := ParseTarget("pred"); err != nil || g != TargetPredicted {
		t.Errorf("ParseTarget(pred) = %v, %v", g, err)
	}
	if g, err := ParseTarget("label"); err != nil || g != TargetLabel {
		t.Errorf("ParseTarget(label) = %v, %v", g, err)
	}
	if _, err := ParseTarget("x"); err == nil {
		t.Error("ParseTarget(x) gave no error")
	}
}
