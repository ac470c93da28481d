package loss

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/tensor"
)

type refTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

// refCase is one case of testdata/torchref/losses.json; which of the
// hyperparameter fields are set depends on Op.
type refCase struct {
	Name       string               `json:"name"`
	Op         string               `json:"op"`
	Tau        float32              `json:"tau"`
	Lambda     float32              `json:"lambda"`
	Weights    []float32            `json:"weights"`
	StudentTau float32              `json:"student_tau"`
	TeacherTau float32              `json:"teacher_tau"`
	Momentum   float32              `json:"momentum"`
	NStudent   int                  `json:"n_student"`
	NTeacher   int                  `json:"n_teacher"`
	Inputs     map[string]refTensor `json:"inputs"`
	Expect     map[string]refTensor `json:"expect"`
}

// tensor returns a fresh tensor holding r's values.
func (r refTensor) tensor() *tensor.Tensor {
	return tensor.FromData(append([]float32(nil), r.Data...), r.Shape...)
}

var (
	refCases []refCase
	refErr   error
)

// loadCases returns the fixture's cases for op (all of losses.json is read
// once).
func loadCases(t *testing.T, op string) []refCase {
	t.Helper()
	if refCases == nil && refErr == nil {
		b, err := os.ReadFile("../testdata/torchref/losses.json")
		if err != nil {
			refErr = fmt.Errorf("%v (regenerate with /usr/bin/python3 testdata/torchref/gen.py losses)", err)
		} else {
			var fix struct {
				Cases []refCase `json:"cases"`
			}
			if err := json.Unmarshal(b, &fix); err != nil {
				refErr = fmt.Errorf("losses.json: %v", err)
			}
			refCases = fix.Cases
		}
	}
	if refErr != nil {
		t.Fatal(refErr)
	}
	var out []refCase
	for _, c := range refCases {
		if c.Op == op {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %q cases in losses.json", op)
	}
	return out
}

// checkValue fails unless got agrees with the float64 reference within
// 1e-5 relative.
func checkValue(t *testing.T, what string, got float32, want refTensor) {
	t.Helper()
	w := float64(want.Data[0])
	if d := math.Abs(float64(got) - w); d > 1e-5*(1+math.Abs(w)) {
		t.Errorf("%s = %v, PyTorch (float64) %v", what, got, w)
	}
}

// checkTensor fails unless got has want's shape and every element is
// within tol * (|want| + rms(want)).
func checkTensor(t *testing.T, what string, got *tensor.Tensor, want refTensor, tol float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no value (no gradient reached it)", what)
		return
	}
	if got.Len() != len(want.Data) {
		t.Errorf("%s has %d elements (%v), PyTorch %d (%v)", what, got.Len(), got.Shape(), len(want.Data), want.Shape)
		return
	}
	var ss float64
	for _, v := range want.Data {
		ss += float64(v) * float64(v)
	}
	rms := math.Sqrt(ss / float64(len(want.Data)))
	for i, w := range want.Data {
		if d := math.Abs(float64(got.Data[i] - w)); d > tol*(math.Abs(float64(w))+rms) || math.IsNaN(float64(got.Data[i])) {
			t.Errorf("%s[%d] = %v, PyTorch (float64) %v (rms %.3g)", what, i, got.Data[i], w, rms)
			return
		}
	}
}

// refBuild makes the selfsup loss of a case and the Vars whose gradients
// the fixture holds (by input name).
type refBuild func(t *testing.T, c refCase) (*autograd.Var, map[string]*autograd.Var)

// runRef checks every case of op: the loss value, then the gradient of
// L = loss * R for each grad_<name> the fixture stores.
func runRef(t *testing.T, op string, build refBuild, skip func(c refCase) string) {
	for _, c := range loadCases(t, op) {
		t.Run(c.Name, func(t *testing.T) {
			if skip != nil {
				if why := skip(c); why != "" {
					t.Skip(why)
				}
			}
			l, vars := build(t, c)
			checkValue(t, "loss", l.Item(), c.Expect["out"])
			if err := autograd.Mul(l, autograd.Const(tensor.Scalar(c.Inputs["R"].Data[0]))).Backward(); err != nil {
				t.Fatal(err)
			}
			names := make([]string, 0, len(c.Expect))
			for k := range c.Expect {
				if strings.HasPrefix(k, "grad_") {
					names = append(names, k)
				}
			}
			sort.Strings(names)
			if len(names) == 0 {
				t.Fatal("fixture case has no gradients")
			}
			for _, k := range names {
				v, ok := vars[strings.TrimPrefix(k, "grad_")]
				if !ok {
					t.Fatalf("fixture has %s but the test builds no such input", k)
				}
				checkTensor(t, k, v.Grad, c.Expect[k], 1e-4)
			}
		})
	}
}

func refParam(c refCase, name string) *autograd.Var {
	return autograd.Param(c.Inputs[name].tensor(), name)
}

// TestNTXentMatchesPyTorch checks the loss and its gradient against float64
// PyTorch values of torch_reference.py's nt_xent (testdata/torchref/gen.py
// losses).
func TestNTXentMatchesPyTorch(t *testing.T) {
	runRef(t, "ntxent", func(t *testing.T, c refCase) (*autograd.Var, map[string]*autograd.Var) {
		z := refParam(c, "z")
		return NTXent(z, c.Tau), map[string]*autograd.Var{"z": z}
	}, nil)
}

// TestInfoNCEQueueMatchesPyTorch checks InfoNCE with MoCo v1/v2's queue of
// negatives (moco/builder.py's logits, inputs already normalised).
func TestInfoNCEQueueMatchesPyTorch(t *testing.T) {
	runRef(t, "infonce_queue", func(t *testing.T, c refCase) (*autograd.Var, map[string]*autograd.Var) {
		q, k := refParam(c, "q"), refParam(c, "k")
		return InfoNCE(q, k, autograd.Const(c.Inputs["queue"].tensor()), c.Tau), map[string]*autograd.Var{"q": q, "k": k}
	}, nil)
}

// TestInfoNCEInBatchMatchesPyTorch checks InfoNCE with the other keys of
// the batch as negatives (MoCo v3's contrastive_loss without 2*tau).
func TestInfoNCEInBatchMatchesPyTorch(t *testing.T) {
	runRef(t, "infonce_batch", func(t *testing.T, c refCase) (*autograd.Var, map[string]*autograd.Var) {
		q, k := refParam(c, "q"), refParam(c, "k")
		return InfoNCE(q, k, nil, c.Tau), map[string]*autograd.Var{"q": q, "k": k}
	}, nil)
}

// TestRegressionLossesMatchPyTorch checks SimSiam's negative cosine and
// BYOL's 2 - 2cos, with gradients for both arguments (z is not detached
// here, so the z gradient is checked too).
func TestRegressionLossesMatchPyTorch(t *testing.T) {
	for _, tc := range []struct {
		op string
		fn func(p, z *autograd.Var) *autograd.Var
	}{{"negative_cosine", NegativeCosine}, {"byol", BYOL}} {
		t.Run(tc.op, func(t *testing.T) {
			runRef(t, tc.op, func(t *testing.T, c refCase) (*autograd.Var, map[string]*autograd.Var) {
				p, z := refParam(c, "p"), refParam(c, "z")
				return tc.fn(p, z), map[string]*autograd.Var{"p": p, "z": z}
			}, nil)
		})
	}
}

// TestBarlowTwinsMatchesPyTorch checks the loss of facebookresearch/barlowtwins
// (BatchNorm1d without affine, c / N) and, with lambda 0, its on-diagonal
// term alone.
func TestBarlowTwinsMatchesPyTorch(t *testing.T) {
	runRef(t, "barlow_twins", func(t *testing.T, c refCase) (*autograd.Var, map[string]*autograd.Var) {
		var on float32
		autograd.NoGrad(func() {
			on = BarlowTwins(autograd.Const(c.Inputs["z1"].tensor()), autograd.Const(c.Inputs["z2"].tensor()), 0).Item()
		})
		checkValue(t, "on-diagonal term", on, c.Expect["on_diag"])
		z1, z2 := refParam(c, "z1"), refParam(c, "z2")
		return BarlowTwins(z1, z2, c.Lambda), map[string]*autograd.Var{"z1": z1, "z2": z2}
	}, nil)
}

// TestVICRegMatchesPyTorch checks facebookresearch/vicreg's loss: the
// invariance and covariance terms alone (value and gradients), each case's
// unweighted invariance and covariance terms, and the full 25/25/1 loss.
func TestVICRegMatchesPyTorch(t *testing.T) {
	runRef(t, "vicreg", func(t *testing.T, c refCase) (*autograd.Var, map[string]*autograd.Var) {
		a, b := autograd.Const(c.Inputs["z1"].tensor()), autograd.Const(c.Inputs["z2"].tensor())
		var inv, cov float32
		autograd.NoGrad(func() {
			inv = VICReg(a, b, VICRegWeights{Invariance: 1}).Item()
			cov = VICReg(a, b, VICRegWeights{Covariance: 1}).Item()
		})
		checkValue(t, "invariance term", inv, c.Expect["repr"])
		checkValue(t, "covariance term", cov, c.Expect["cov"])
		z1, z2 := refParam(c, "z1"), refParam(c, "z2")
		w := VICRegWeights{Invariance: c.Weights[0], Variance: c.Weights[1], Covariance: c.Weights[2]}
		return VICReg(z1, z2, w), map[string]*autograd.Var{"z1": z1, "z2": z2}
	}, nil)
}

// TestVICRegVarianceTermMatchesPyTorch checks the variance term alone
// (weights 0/1/0) on every case.
func TestVICRegVarianceTermMatchesPyTorch(t *testing.T) {
	for _, c := range loadCases(t, "vicreg") {
		var v float32
		autograd.NoGrad(func() {
			v = VICReg(autograd.Const(c.Inputs["z1"].tensor()), autograd.Const(c.Inputs["z2"].tensor()), VICRegWeights{Variance: 1}).Item()
		})
		checkValue(t, c.Name+" variance term", v, c.Expect["std"])
	}
}

// TestDINOMatchesPyTorch checks DINOLoss against facebookresearch/dino's
// DINOLoss.forward (gradients for every student view), that it leaves the
// centre alone, and UpdateCenter against update_center.
func TestDINOMatchesPyTorch(t *testing.T) {
	runRef(t, "dino", func(t *testing.T, c refCase) (*autograd.Var, map[string]*autograd.Var) {
		vars := map[string]*autograd.Var{}
		student := make([]*autograd.Var, c.NStudent)
		for i := range student {
			name := fmt.Sprintf("s%d", i)
			student[i] = refParam(c, name)
			vars[name] = student[i]
		}
		teacher := make([]*tensor.Tensor, c.NTeacher)
		for i := range teacher {
			teacher[i] = c.Inputs[fmt.Sprintf("t%d", i)].tensor()
		}
		center := c.Inputs["center"].tensor()
		l := DINOLoss(student, teacher, center, c.StudentTau, c.TeacherTau)
		checkTensor(t, "centre after DINOLoss", center, c.Inputs["center"], 0)
		UpdateCenter(center, teacher, c.Momentum)
		checkTensor(t, "centre after UpdateCenter", center, c.Expect["center_after"], 1e-6)
		return l, vars
	}, nil)
}

// TestNTXentIsInfoNCEOverViews makes explicit the relation the doc comments
// state: NT-Xent over z [2N, D] is the mean over its 2N rows of an InfoNCE
// term whose query is the row, whose positive is its partner view and whose
// negatives are the other 2N-2 rows. It checks that relation twice: against
// the terms written out in float64, and against InfoNCE called per row
// with explicit negatives (value and gradient through the normalisation).
func TestNTXentIsInfoNCEOverViews(t *testing.T) {
	for _, tc := range []struct {
		n, d int
		tau  float32
	}{{2, 3, 1}, {4, 6, 0.3}, {5, 16, 0.1}} {
		t.Run(fmt.Sprintf("n%d_d%d_tau%v", tc.n, tc.d, tc.tau), func(t *testing.T) {
			m := 2 * tc.n
			zt := tensor.New(m, tc.d)
			for i := range zt.Data {
				// deterministic, irregular values
				zt.Data[i] = float32(math.Sin(float64(i)*1.7+0.3) * (1 + 0.5*math.Cos(float64(i)*0.37)))
			}
			// float64 by hand
			zn := make([][]float64, m)
			for i := range zn {
				row := zt.Data[i*tc.d : (i+1)*tc.d]
				var ss float64
				for _, v := range row {
					ss += float64(v) * float64(v)
				}
				zn[i] = make([]float64, tc.d)
				for j, v := range row {
					zn[i][j] = float64(v) / math.Sqrt(ss)
				}
			}
			dot := func(a, b []float64) float64 {
				var s float64
				for i := range a {
					s += a[i] * b[i]
				}
				return s
			}
			var want float64
			for i := 0; i < m; i++ {
				p := (i + tc.n) % m
				pos := dot(zn[i], zn[p]) / float64(tc.tau)
				denom := math.Exp(pos)
				negatives := 0
				for j := 0; j < m; j++ {
					if j != i && j != p {
						denom += math.Exp(dot(zn[i], zn[j]) / float64(tc.tau))
						negatives++
					}
				}
				if negatives != m-2 {
					t.Fatalf("row %d has %d negatives", i, negatives)
				}
				want += -(pos - math.Log(denom))
			}
			want /= float64(m)

			z1 := autograd.Param(zt.Clone(), "z")
			nt := NTXent(z1, tc.tau)
			if got := nt.Item(); math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("NTXent %v, InfoNCE terms by hand %v", got, want)
			}
			if err := nt.Backward(); err != nil {
				t.Fatal(err)
			}

			// the same through InfoNCE, one query row at a time
			z2 := autograd.Param(zt.Clone(), "z")
			zv := autograd.L2Normalize(z2, 1e-12)
			var total *autograd.Var
			for i := 0; i < m; i++ {
				p := (i + tc.n) % m
				others := make([]int, 0, m-2)
				for j := 0; j < m; j++ {
					if j != i && j != p {
						others = append(others, j)
					}
				}
				term := InfoNCE(autograd.Narrow(zv, 0, i, 1), autograd.Narrow(zv, 0, p, 1), autograd.IndexSelect(zv, others), tc.tau)
				if total == nil {
					total = term
				} else {
					total = autograd.Add(total, term)
				}
			}
			total = autograd.Scale(total, 1/float32(m))
			if got := total.Item(); math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("mean of per-row InfoNCE %v, by hand %v", got, want)
			}
			if err := total.Backward(); err != nil {
				t.Fatal(err)
			}
			checkTensor(t, "NTXent gradient vs per-row InfoNCE gradient", z1.Grad,
				refTensor{Shape: z2.Grad.Shape(), Data: z2.Grad.Data}, 1e-4)
		})
	}
}

// guarded runs f under autograd.Guard and also catches any other panic, so
// a bad-input case that crashes fails the test instead of the binary.
func guarded(f func()) (err error, crash any) {
	defer func() {
		if r := recover(); r != nil {
			crash = r
		}
	}()
	err = autograd.Guard(func() error { f(); return nil })
	return err, nil
}

func TestNTXentRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		shape []int
		tau   float32
	}{{[]int{3, 4}, 0.5}, {[]int{2, 4}, 0.5}, {[]int{8}, 0.5}, {[]int{8, 4}, 0}, {[]int{8, 4}, -0.1}} {
		err, crash := guarded(func() { NTXent(autograd.Const(tensor.New(c.shape...)), c.tau) })
		if err == nil || crash != nil {
			t.Errorf("shape %v tau %v: error %v, panic %v", c.shape, c.tau, err, crash)
		}
	}
}

// TestLossesRejectBadInput checks that every loss turns bad arguments into
// an *autograd.OpError naming it (caught by autograd.Guard), never a crash
// or a silently broadcast result.
func TestLossesRejectBadInput(t *testing.T) {
	c := func(shape ...int) *autograd.Var {
		v := tensor.New(shape...)
		for i := range v.Data {
			v.Data[i] = float32(i%7) - 3
		}
		return autograd.Const(v)
	}
	ts := func(shape ...int) *tensor.Tensor { return c(shape...).Value }
	views := func(n int, shape ...int) []*autograd.Var {
		out := make([]*autograd.Var, n)
		for i := range out {
			out[i] = c(shape...)
		}
		return out
	}
	teachers := func(n int, shape ...int) []*tensor.Tensor {
		out := make([]*tensor.Tensor, n)
		for i := range out {
			out[i] = ts(shape...)
		}
		return out
	}
	for _, tc := range []struct {
		name, op string
		f        func()
		bug      string // non-empty: known to be accepted or to crash
	}{
		{"infonce tau 0", "InfoNCE", func() { InfoNCE(c(4, 3), c(4, 3), c(5, 3), 0) }, ""},
		{"infonce tau < 0 in-batch", "InfoNCE", func() { InfoNCE(c(4, 3), c(4, 3), nil, -1) }, ""},
		{"infonce q/k shapes", "InfoNCE", func() { InfoNCE(c(4, 3), c(3, 3), nil, 0.2) }, ""},
		{"infonce q/k widths", "InfoNCE", func() { InfoNCE(c(4, 3), c(4, 2), c(5, 3), 0.2) }, ""},
		{"infonce 1-D", "InfoNCE", func() { InfoNCE(c(4), c(4), nil, 0.2) }, ""},
		{"infonce in-batch N=1", "InfoNCE", func() { InfoNCE(c(1, 3), c(1, 3), nil, 0.2) }, ""},
		{"infonce queue width", "InfoNCE", func() { InfoNCE(c(4, 3), c(4, 3), c(5, 4), 0.2) }, ""},
		{"infonce queue 1-D", "InfoNCE", func() { InfoNCE(c(4, 3), c(4, 3), c(3), 0.2) }, ""},
		{"negcos shapes", "NegativeCosine", func() { NegativeCosine(c(4, 3), c(4, 2)) }, ""},
		{"negcos 1-D", "NegativeCosine", func() { NegativeCosine(c(4), c(4)) }, ""},
		{"byol shapes", "BYOL", func() { BYOL(c(4, 3), c(2, 3)) }, ""},
		{"barlow shapes", "BarlowTwins", func() { BarlowTwins(c(4, 3), c(4, 2), 0.0051) }, ""},
		{"barlow N=1", "BarlowTwins", func() { BarlowTwins(c(1, 3), c(1, 3), 0.0051) }, ""},
		{"vicreg shapes", "VICReg", func() { VICReg(c(4, 3), c(5, 3), VICRegWeights{25, 25, 1}) }, ""},
		{"vicreg N=1", "VICReg", func() { VICReg(c(1, 3), c(1, 3), VICRegWeights{25, 25, 1}) }, ""},
		{"dino student tau 0", "DINOLoss", func() { DINOLoss(views(4, 2, 8), teachers(2, 2, 8), ts(8), 0, 0.04) }, ""},
		{"dino teacher tau < 0", "DINOLoss", func() { DINOLoss(views(4, 2, 8), teachers(2, 2, 8), ts(8), 0.1, -0.04) }, ""},
		{"dino no teacher", "DINOLoss", func() { DINOLoss(views(4, 2, 8), nil, ts(8), 0.1, 0.04) }, ""},
		{"dino one student", "DINOLoss", func() { DINOLoss(views(1, 2, 8), teachers(2, 2, 8), ts(8), 0.1, 0.04) }, ""},
		{"dino centre size", "DINOLoss", func() { DINOLoss(views(4, 2, 8), teachers(2, 2, 8), ts(7), 0.1, 0.04) }, ""},
		{"dino teacher shapes differ", "DINOLoss", func() {
			DINOLoss(views(4, 2, 8), []*tensor.Tensor{ts(2, 8), ts(3, 8)}, ts(8), 0.1, 0.04)
		}, ""},
		{"dino student width", "DINOLoss", func() { DINOLoss(views(4, 2, 7), teachers(2, 2, 8), ts(8), 0.1, 0.04) }, ""},
		{"dino student batch 1 vs teacher 2", "DINOLoss", func() {
			DINOLoss(views(4, 1, 8), teachers(2, 2, 8), ts(8), 0.1, 0.04)
		}, ""},
		{"dino teacher 1-D", "DINOLoss", func() { DINOLoss(views(4, 8), teachers(2, 8), ts(8), 0.1, 0.04) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Skip(tc.bug)
			}
			err, crash := guarded(tc.f)
			if crash != nil {
				t.Fatalf("panicked instead of returning an error: %v", crash)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.op) {
				t.Errorf("error %q does not name %s", err, tc.op)
			}
		})
	}
}
