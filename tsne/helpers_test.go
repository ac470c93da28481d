package tsne

import (
	"math"
	"math/rand/v2"
	"testing"

	"selfsup/eval"
	"selfsup/tensor"
)

// gaussianClusters draws n points in d dimensions from c isotropic unit
// Gaussians whose centres lie sep apart along the coordinate axes; labels
// cycle through the clusters.
func gaussianClusters(rng *rand.Rand, n, d, c int, sep float64) (*tensor.Tensor, []int) {
	x := tensor.New(n, d)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		k := i % c
		labels[i] = k
		for j := 0; j < d; j++ {
			v := rng.NormFloat64()
			if j == k%d {
				v += sep
			}
			x.Data[i*d+j] = float32(v)
		}
	}
	return x, labels
}

// knnAccuracy is the leave-one-out k-NN (majority, Euclidean) accuracy of
// the rows of y with their labels.
func knnAccuracy(t *testing.T, y *tensor.Tensor, labels []int, k int) float64 {
	t.Helper()
	classes := 0
	for _, l := range labels {
		classes = max(classes, l+1)
	}
	cfg := eval.MajorityKNNConfig(k)
	cfg.ExcludeSelf = true
	ev, err := eval.KNN(y, labels, y, labels, classes, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ev.Top1
}

// randomLayout returns n points (x, y interleaved) spread over a square of
// the given size.
func randomLayout(rng *rand.Rand, n int, size float64) []float64 {
	y := make([]float64, 2*n)
	for i := range y {
		y[i] = size * (rng.Float64() - 0.5)
	}
	return y
}

// relErr returns |a - b| / |b| over whole vectors.
func relErr(a, b []float64) float64 {
	var num, den float64
	for i := range a {
		num += (a[i] - b[i]) * (a[i] - b[i])
		den += b[i] * b[i]
	}
	return math.Sqrt(num / den)
}
