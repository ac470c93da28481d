package loss

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"selfsup/autograd"
	"selfsup/tensor"
)

type refTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

type refCase struct {
	Name   string               `json:"name"`
	Tau    float32              `json:"tau"`
	Inputs map[string]refTensor `json:"inputs"`
	Expect map[string]refTensor `json:"expect"`
}

// TestNTXentMatchesPyTorch checks the loss and its gradient against float64
// PyTorch values of torch_reference.py's nt_xent (testdata/torchref/gen.py
// losses).
func TestNTXentMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("../testdata/torchref/losses.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 testdata/torchref/gen.py losses)", err)
	}
	var fix struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &fix); err != nil {
		t.Fatal(err)
	}
	if len(fix.Cases) == 0 {
		t.Fatal("no cases in losses.json")
	}
	for _, c := range fix.Cases {
		t.Run(c.Name, func(t *testing.T) {
			zin := c.Inputs["z"]
			z := autograd.Param(tensor.FromData(append([]float32(nil), zin.Data...), zin.Shape...), "z")
			l := NTXent(z, c.Tau)
			got := l.Item()
			r := c.Inputs["R"].Data[0]
			if err := autograd.Mul(l, autograd.Const(tensor.Scalar(r))).Backward(); err != nil {
				t.Fatal(err)
			}
			want := c.Expect["out"].Data[0]
			if d := math.Abs(float64(got - want)); d > 1e-5*(1+math.Abs(float64(want))) {
				t.Fatalf("loss %v, PyTorch %v", got, want)
			}
			g := c.Expect["grad_z"].Data
			var ss float64
			for _, v := range g {
				ss += float64(v) * float64(v)
			}
			rms := math.Sqrt(ss / float64(len(g)))
			for i, w := range g {
				if d := math.Abs(float64(z.Grad.Data[i] - w)); d > 1e-4*(math.Abs(float64(w))+rms) {
					t.Fatalf("grad[%d] = %v, PyTorch %v", i, z.Grad.Data[i], w)
				}
			}
		})
	}
}

func TestNTXentRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		shape []int
		tau   float32
	}{{[]int{3, 4}, 0.5}, {[]int{2, 4}, 0.5}, {[]int{8}, 0.5}, {[]int{8, 4}, 0}} {
		err := autograd.Guard(func() error {
			NTXent(autograd.Const(tensor.New(c.shape...)), c.tau)
			return nil
		})
		if err == nil {
			t.Errorf("shape %v tau %v accepted", c.shape, c.tau)
		}
	}
}
