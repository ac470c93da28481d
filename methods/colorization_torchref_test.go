package methods

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"selfsup/autograd"
	"selfsup/tensor"
)

// colorRefTensor is a tensor of a PyTorch fixture.
type colorRefTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

// colorizationFixture is testdata/torchref/colorization.json (written by
// testdata/torchref/gen.py colorization).
type colorizationFixture struct {
	BinSize float64        `json:"bin_size"`
	Bins    colorRefTensor `json:"bins"`
	Cases   []struct {
		Name        string                    `json:"name"`
		K           int                       `json:"k"`
		Sigma       float64                   `json:"sigma"`
		PriorSigma  float64                   `json:"prior_sigma"`
		Lambda      float64                   `json:"lambda"`
		Rebalance   bool                      `json:"rebalance"`
		Temperature float64                   `json:"temperature"`
		Inputs      map[string]colorRefTensor `json:"inputs"`
		Expect      struct {
			SoftTargets  colorRefTensor `json:"soft_targets"`
			Nearest      []int32        `json:"nearest"`
			Weights      colorRefTensor `json:"weights"`
			Loss         colorRefTensor `json:"loss"`
			GradLogits   colorRefTensor `json:"grad_logits"`
			AnnealedMean colorRefTensor `json:"annealed_mean"`
		} `json:"expect"`
	} `json:"cases"`
}

// colorCloseTo fails unless every element of got is within tol * (|want| +
// rms(want)) of want.
func colorCloseTo(t *testing.T, what string, got []float32, want colorRefTensor, tol float64) {
	t.Helper()
	if len(got) != len(want.Data) {
		t.Fatalf("%s: %d values, PyTorch %d", what, len(got), len(want.Data))
	}
	var ss float64
	for _, v := range want.Data {
		ss += float64(v) * float64(v)
	}
	rms := math.Sqrt(ss / float64(len(want.Data)))
	for i, w := range want.Data {
		if d := math.Abs(float64(got[i] - w)); d > tol*(math.Abs(float64(w))+rms) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %v, PyTorch (float64) %v (rms %.3g)", what, i, got[i], w, rms)
		}
	}
}

// The classification loss against PyTorch: the in-gamut bins, the soft
// encoding, the rebalancing weights, the weighted cross-entropy and its
// gradient, and the annealed mean, each computed the way the paper defines
// them in float64 by testdata/torchref/gen.py.
func TestColorizationMatchesPyTorch(t *testing.T) {
	raw, err := os.ReadFile("../testdata/torchref/colorization.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 testdata/torchref/gen.py colorization)", err)
	}
	var fix colorizationFixture
	if err := json.Unmarshal(raw, &fix); err != nil {
		t.Fatalf("colorization.json: %v", err)
	}
	bins := gamutBins(fix.BinSize)
	if bins.Dim(0) != fix.Bins.Shape[0] {
		t.Fatalf("%d in-gamut bins, PyTorch's script finds %d", bins.Dim(0), fix.Bins.Shape[0])
	}
	for i, v := range fix.Bins.Data {
		if bins.Data[i] != v {
			t.Fatalf("bin value %d = %v, PyTorch's script %v", i, bins.Data[i], v)
		}
	}
	if len(fix.Cases) == 0 {
		t.Fatal("no cases")
	}
	q := bins.Dim(0)
	for _, c := range fix.Cases {
		t.Run(c.Name, func(t *testing.T) {
			ab := c.Inputs["ab"].Data
			p, k := len(ab)/2, c.K
			idx, sw, nearest := make([]int32, p*k), make([]float32, p*k), make([]int32, p)
			softEncode(ab, bins, k, c.Sigma, idx, sw, nearest)
			dense := make([]float32, p*q)
			for r := range p {
				for i := range k {
					dense[r*q+int(idx[r*k+i])] = sw[r*k+i]
				}
				if nearest[r] != c.Expect.Nearest[r] {
					t.Fatalf("pixel %d: nearest bin %d, PyTorch %d", r, nearest[r], c.Expect.Nearest[r])
				}
			}
			colorCloseTo(t, "soft targets", dense, c.Expect.SoftTargets, 1e-5)

			w := make([]float32, q)
			if err := classWeights(w, c.Inputs["prior"].Data, smoothingKernel(bins, c.PriorSigma), c.Lambda); err != nil {
				t.Fatal(err)
			}
			colorCloseTo(t, "weights", w, c.Expect.Weights, 1e-5)

			lg := c.Inputs["logits"]
			logits := autograd.Param(tensor.FromData(append([]float32(nil), lg.Data...), lg.Shape...), "logits")
			var weights []float32
			if c.Rebalance {
				weights = w
			}
			loss := softTargetLoss(logits, idx, sw, nearest, weights, k)
			if got, want := float64(loss.Item()), float64(c.Expect.Loss.Data[0]); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("loss %v, PyTorch (float64) %v", got, want)
			}
			if err := loss.Backward(); err != nil {
				t.Fatal(err)
			}
			colorCloseTo(t, "grad logits", logits.Grad.Data, c.Expect.GradLogits, 1e-4)

			var mean *autograd.Var
			autograd.NoGrad(func() {
				mean = annealedMean(autograd.Const(tensor.FromData(append([]float32(nil), lg.Data...), lg.Shape...)), bins, c.Temperature)
			})
			colorCloseTo(t, "annealed mean", mean.Value.Data, c.Expect.AnnealedMean, 1e-5)
		})
	}
}
