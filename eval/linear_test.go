package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/tensor"
)

var sgdQuick = LinearConfig{Optimizer: SGDOptimizer, Epochs: 30, BatchSize: 64}

func TestLinearProbeSeparableBlobs(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	train, ytr, centres := blobs(rng, 800, 10, 4, 10, 1, nil)
	test, yte, _ := blobs(rng, 400, 10, 4, 10, 1, centres)
	// Shift and scale the raw features: standardisation must undo it.
	for i := range train.Data {
		train.Data[i] = train.Data[i]*30 + 7
	}
	for i := range test.Data {
		test.Data[i] = test.Data[i]*30 + 7
	}
	tests := []struct {
		name string
		cfg  LinearConfig
	}{
		{"lbfgs", LinearConfig{MaxIterations: 100}},
		{"lbfgs decay", LinearConfig{WeightDecay: 1e-3}},
		{"sgd", sgdQuick},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := train.Clone()
			res, err := LinearProbe(train, ytr, test, yte, 4, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Test.Top1 != 1 || res.Test.Top5 != 1 {
				t.Fatalf("test top1 %v top5 %v on separable blobs (fit %+v)", res.Test.Top1, res.Test.Top5, res.Fit)
			}
			if res.Fit.Loss > 0.05 || res.Fit.Iterations == 0 {
				t.Fatalf("fit %+v", res.Fit)
			}
			for i := range before.Data {
				if before.Data[i] != train.Data[i] {
					t.Fatal("training modified the features")
				}
			}
		})
	}
}

// normalCDF is the standard normal distribution function.
func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// Two overlapping Gaussians N(+-mu, I): the accuracy of the learned
// hyperplane is known in closed form, and close to the Bayes rate.
func TestLinearProbeNoisyGaussians(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	centres := [][]float64{{-1, 0.5, 0}, {1, -0.5, 0}} // distance sqrt(5)
	train, ytr, _ := blobs(rng, 4000, 3, 2, 0, 1, centres)
	test, yte, _ := blobs(rng, 40000, 3, 2, 0, 1, centres)
	bayes := normalCDF(math.Sqrt(5) / 2)
	for _, cfg := range []LinearConfig{{}, sgdQuick} {
		res, err := LinearProbe(train, ytr, test, yte, 2, cfg)
		if err != nil {
			t.Fatal(err)
		}
		lc := res.Classifier
		// logit1 - logit0 = a.x + c on raw features.
		a := make([]float64, 3)
		c := float64(lc.B.Data[1] - lc.B.Data[0])
		for j := range a {
			a[j] = float64(lc.W.Data[3+j]-lc.W.Data[j]) / float64(lc.Std.Data[j])
			c -= a[j] * float64(lc.Mean.Data[j])
		}
		na := math.Sqrt(dot(a, a))
		expected := 0.5*normalCDF((dot(a, centres[1])+c)/na) + 0.5*normalCDF(-(dot(a, centres[0])+c)/na)
		se := math.Sqrt(expected * (1 - expected) / 40000)
		if math.Abs(res.Test.Top1-expected) > 4*se {
			t.Errorf("%v: test accuracy %.4f, closed form for the learned hyperplane %.4f (se %.4f)", cfg.Optimizer, res.Test.Top1, expected, se)
		}
		if expected > bayes+1e-9 || expected < bayes-0.005 {
			t.Errorf("%v: learned hyperplane accuracy %.4f, Bayes %.4f", cfg.Optimizer, expected, bayes)
		}
	}
}

// On a strongly convex problem SGD with a decaying rate reaches the optimum
// L-BFGS finds.
func TestSGDAndLBFGSAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	x, y, _ := blobs(rng, 600, 8, 3, 1.5, 1, nil)
	const wd = 1e-2
	_, fl, err := TrainLinear(x, y, 3, LinearConfig{WeightDecay: wd})
	if err != nil {
		t.Fatal(err)
	}
	if !fl.Converged {
		t.Fatalf("L-BFGS did not converge: %+v", fl)
	}
	_, fs, err := TrainLinear(x, y, 3, LinearConfig{Optimizer: SGDOptimizer, WeightDecay: wd, Epochs: 200, BatchSize: 32, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if fs.Loss < fl.Loss-1e-6 || fs.Loss-fl.Loss > 1e-3*fl.Loss {
		t.Fatalf("SGD loss %.6f, L-BFGS %.6f", fs.Loss, fl.Loss)
	}
}

// The probe standardises with training statistics only: its Mean and Std
// are those of the training features, and a test row's prediction does not
// depend on the other test rows.
func TestLinearProbeNoTestLeak(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	train, ytr, centres := blobs(rng, 300, 5, 3, 2, 1, nil)
	test, yte, _ := blobs(rng, 90, 5, 3, 2, 1, centres)
	res, err := LinearProbe(train, ytr, test, yte, 3, LinearConfig{WeightDecay: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := FitStandardizer(train, 0)
	for j := 0; j < 5; j++ {
		if res.Classifier.Mean.Data[j] != st.Mean.Data[j] || res.Classifier.Std.Data[j] != st.Std.Data[j] {
			t.Fatalf("column %d: probe statistics %v/%v, training %v/%v", j, res.Classifier.Mean.Data[j], res.Classifier.Std.Data[j], st.Mean.Data[j], st.Std.Data[j])
		}
	}
	// Add wild rows to the test set: the original rows' predictions stay.
	bigger := tensor.New(test.Dim(0)+20, 5)
	copy(bigger.Data, test.Data)
	for i := test.Len(); i < bigger.Len(); i++ {
		bigger.Data[i] = float32(100 * rng.NormFloat64())
	}
	pred, err := res.Classifier.Predict(bigger)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range res.Test.Predictions {
		if pred[i] != p {
			t.Fatalf("row %d: prediction changed from %d to %d when rows were added", i, p, pred[i])
		}
	}
}

func TestLinearClassifierOutputsAndTensors(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	x, y, _ := blobs(rng, 2500, 7, 5, 2, 1, nil) // more rows than one chunk
	lc, _, err := TrainLinear(x, y, 5, LinearConfig{WeightDecay: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	probs, err := lc.Probabilities(x)
	if err != nil {
		t.Fatal(err)
	}
	pred, err := lc.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	// Probabilities are distributions whose argmax is the prediction.
	for i := 0; i < x.Dim(0); i += 97 {
		sum, best, bestP := 0.0, 0, float32(-1)
		for k := 0; k < 5; k++ {
			p := probs.Data[i*5+k]
			sum += float64(p)
			if p > bestP {
				best, bestP = k, p
			}
		}
		if math.Abs(sum-1) > 1e-5 || best != pred[i] {
			t.Fatalf("row %d: probabilities sum %v, argmax %d, Predict %d", i, sum, best, pred[i])
		}
	}
	// Logits by hand in float64.
	logits, err := lc.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1234, 2499} {
		for k := 0; k < 5; k++ {
			z := float64(lc.B.Data[k])
			for j := 0; j < 7; j++ {
				z += float64(lc.W.Data[k*7+j]) * (float64(x.Data[i*7+j]) - float64(lc.Mean.Data[j])) / float64(lc.Std.Data[j])
			}
			if got := float64(logits.Data[i*5+k]); math.Abs(got-z) > 1e-4*math.Max(1, math.Abs(z)) {
				t.Fatalf("logit (%d, %d) = %v, by hand %v", i, k, got, z)
			}
		}
	}
	ev, err := lc.Evaluate(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if acc, _ := Accuracy(pred, y); acc != ev.Top1 {
		t.Fatalf("Evaluate top1 %v, Predict accuracy %v", ev.Top1, acc)
	}

	// Round trip through the tensor map.
	back, err := LinearClassifierFromTensors(lc.Tensors())
	if err != nil {
		t.Fatal(err)
	}
	pred2, _ := back.Predict(x)
	for i := range pred {
		if pred[i] != pred2[i] {
			t.Fatal("predictions differ after the tensor round trip")
		}
	}
	bad := func(edit func(m map[string]*tensor.Tensor)) map[string]*tensor.Tensor {
		m := map[string]*tensor.Tensor{}
		for k, v := range lc.Tensors() {
			m[k] = v.Clone()
		}
		edit(m)
		return m
	}
	tests := []struct {
		name string
		m    map[string]*tensor.Tensor
		want string
	}{
		{"missing", bad(func(m map[string]*tensor.Tensor) { delete(m, LinearStdName) }), `"std" is missing`},
		{"extra", bad(func(m map[string]*tensor.Tensor) { m["momentum"] = tensor.New(1) }), `unexpected tensor "momentum"`},
		{"bias shape", bad(func(m map[string]*tensor.Tensor) { m[LinearBiasName] = tensor.New(4) }), "bias has shape [4], want [5]"},
		{"mean shape", bad(func(m map[string]*tensor.Tensor) { m[LinearMeanName] = tensor.New(7, 1) }), "mean has shape [7 1]"},
		{"weight 1-D", bad(func(m map[string]*tensor.Tensor) { m[LinearWeightName] = tensor.New(35) }), "weight has shape [35]"},
		{"nan weight", bad(func(m map[string]*tensor.Tensor) { m[LinearWeightName].Data[3] = float32(math.NaN()) }), "weight[3] is NaN"},
		{"zero std", bad(func(m map[string]*tensor.Tensor) { m[LinearStdName].Data[2] = 0 }), "std[2] is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LinearClassifierFromTensors(tc.m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSelectWeightDecay(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	// Few rows, many noise dimensions: some decay should help.
	x, y, _ := blobs(rng, 120, 40, 3, 2.5, 1, nil)
	grid := []float64{0, 1e-3, 1e-1, 1}
	lc, fit, err := TrainLinear(x, y, 3, LinearConfig{SelectWeightDecay: true, WeightDecayGrid: grid, Seed: 5, MaxIterations: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(fit.Trials) != len(grid) {
		t.Fatalf("%d trials for %d grid values", len(fit.Trials), len(grid))
	}
	best := fit.Trials[0]
	for i, tr := range fit.Trials {
		if tr.WeightDecay != grid[i] || tr.ValidationTop1 < 0 || tr.ValidationTop1 > 1 || !(tr.ValidationLoss > 0) {
			t.Fatalf("trial %d: %+v", i, tr)
		}
		if tr.ValidationTop1 > best.ValidationTop1 || (tr.ValidationTop1 == best.ValidationTop1 && tr.ValidationLoss < best.ValidationLoss) {
			best = tr
		}
	}
	if fit.WeightDecay != best.WeightDecay {
		t.Fatalf("chose %v, the trials favour %v: %+v", fit.WeightDecay, best.WeightDecay, fit.Trials)
	}
	// The final fit uses all rows: its statistics are those of x.
	st, _ := FitStandardizer(x, 0)
	if lc.Mean.Data[0] != st.Mean.Data[0] {
		t.Fatal("final fit does not use the full training set")
	}
	// Same seed, same choice.
	_, fit2, _ := TrainLinear(x, y, 3, LinearConfig{SelectWeightDecay: true, WeightDecayGrid: grid, Seed: 5, MaxIterations: 200})
	if fit2.Trials[2] != fit.Trials[2] {
		t.Fatalf("selection not deterministic: %+v vs %+v", fit.Trials, fit2.Trials)
	}
}

func TestLinearErrors(t *testing.T) {
	x := tensor.FromData([]float32{0, 1, 1, 0, 2, 2}, 3, 2)
	y := []int{0, 1, 0}
	nan := x.Clone()
	nan.Data[4] = float32(math.NaN())
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"nan", func() error { _, _, err := TrainLinear(nan, y, 2, LinearConfig{}); return err }, "train features contain NaN at row 2, column 0"},
		{"labels", func() error { _, _, err := TrainLinear(x, []int{0, 1, 2}, 2, LinearConfig{}); return err }, "train labels[2] is 2"},
		{"decay", func() error { _, _, err := TrainLinear(x, y, 2, LinearConfig{WeightDecay: -1}); return err }, "weight decay is -1"},
		{"optimizer", func() error { _, _, err := TrainLinear(x, y, 2, LinearConfig{Optimizer: 7}); return err }, "unknown optimizer"},
		{"momentum", func() error { _, _, err := TrainLinear(x, y, 2, LinearConfig{Momentum: 1}); return err }, "momentum is 1"},
		{"grid", func() error {
			_, _, err := TrainLinear(x, y, 2, LinearConfig{SelectWeightDecay: true, WeightDecayGrid: []float64{}})
			return err
		}, "grid is empty"},
		{"fraction", func() error {
			_, _, err := TrainLinear(x, y, 2, LinearConfig{SelectWeightDecay: true, ValidationFraction: 1})
			return err
		}, "validation fraction"},
		{"probe columns", func() error { _, err := LinearProbe(x, y, tensor.New(3, 5), y, 2, LinearConfig{}); return err }, "2 columns, test features 5"},
		{"probe test labels", func() error { _, err := LinearProbe(x, y, x, []int{0, 5, 0}, 2, LinearConfig{}); return err }, "test labels[1] is 5"},
		{"predict columns", func() error {
			lc, _, _ := TrainLinear(x, y, 2, LinearConfig{MaxIterations: 3})
			_, err := lc.Predict(tensor.New(1, 3))
			return err
		}, "3 columns, the classifier expects 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
