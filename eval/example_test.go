package eval_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/eval"
	"selfsup/tensor"
)

// clusters returns n rows around three well separated centres in 4-D, with
// their labels.
func clusters(rng *rand.Rand, n int) (*tensor.Tensor, []int) {
	centres := [][]float32{{4, 0, 0, 1}, {0, 4, 0, 1}, {0, 0, 4, 1}}
	x := tensor.New(n, 4)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		y[i] = i % 3
		for j := 0; j < 4; j++ {
			x.Data[i*4+j] = centres[y[i]][j] + float32(0.5*rng.NormFloat64())
		}
	}
	return x, y
}

// The kNN protocol of InstDisc / solo-learn: cosine similarity, 200
// neighbours, votes weighted by exp(sim/0.1).
func ExampleKNN() {
	rng := rand.New(rand.NewPCG(1, 2))
	train, trainLabels := clusters(rng, 600)
	test, testLabels := clusters(rng, 150)

	ev, err := eval.KNN(train, trainLabels, test, testLabels, 3, eval.DefaultKNNConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("top-1 %.2f, top-5 %.2f\n", ev.Top1, ev.Top5)

	// The classic kNN: Euclidean distance, 5 neighbours, one vote each.
	ev, _ = eval.KNN(train, trainLabels, test, testLabels, 3, eval.MajorityKNNConfig(5))
	fmt.Printf("majority top-1 %.2f\n", ev.Top1)
	fmt.Print(ev.Confusion())
	// Output:
	// top-1 1.00, top-5 1.00
	// majority top-1 1.00
	//      0  1  2
	//  0: 50  0  0
	//  1:  0 50  0
	//  2:  0  0 50
}

// A linear probe: logistic regression on standardised features, fitted by
// L-BFGS, then saved as named tensors and restored.
func ExampleLinearProbe() {
	rng := rand.New(rand.NewPCG(3, 4))
	train, trainLabels := clusters(rng, 600)
	test, testLabels := clusters(rng, 150)

	res, err := eval.LinearProbe(train, trainLabels, test, testLabels, 3, eval.LinearConfig{WeightDecay: 1e-4})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("test top-1 %.2f (%s)\n", res.Test.Top1, res.Fit.Status)

	restored, err := eval.LinearClassifierFromTensors(res.Classifier.Tensors())
	if err != nil {
		fmt.Println(err)
		return
	}
	pred, _ := restored.Predict(test.Slice(0, 3))
	fmt.Println("first predictions", pred, "labels", testLabels[:3])
	// Output:
	// test top-1 1.00 (gradient converged)
	// first predictions [0 1 2] labels [0 1 2]
}

// LBFGS minimises any smooth function given its gradient.
func ExampleLBFGS() {
	// The Rosenbrock function, minimum 0 at (1, 1).
	f := func(x, g []float64) float64 {
		a, b := 1-x[0], x[1]-x[0]*x[0]
		g[0] = -2*a - 400*x[0]*b
		g[1] = 200 * b
		return a*a + 100*b*b
	}
	res, err := eval.LBFGS(f, []float64{-1.2, 1}, eval.LBFGSConfig{GradTol: 1e-8})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("x = (%.4f, %.4f), f < 1e-12: %v, converged: %v\n", res.X[0], res.X[1], res.F < 1e-12, res.Status.Converged())
	// Output:
	// x = (1.0000, 1.0000), f < 1e-12: true, converged: true
}

// Top-k accuracy of any score matrix, ties counted against the label.
func ExampleTopKAccuracy() {
	scores := tensor.FromData([]float32{
		0.1, 0.6, 0.3,
		0.5, 0.2, 0.3,
	}, 2, 3)
	labels := []int{2, 0}
	top1, _ := eval.TopKAccuracy(scores, labels, 1)
	top2, _ := eval.TopKAccuracy(scores, labels, 2)
	fmt.Println(top1, top2, math.IsNaN(top1))
	// Output: 0.5 1 false
}
