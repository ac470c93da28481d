package eval

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkSearch measures the blocked cosine search at a tenth of the
// MNIST test set against a sixth of its training set (784 raw pixels).
// The whole 10000 x 60000 search is 60 times this.
func BenchmarkSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	train := randMatrix(rng, 10000, 784)
	test := randMatrix(rng, 1000, 784)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Search(test, train, SearchConfig{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2*1000*10000*784*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSoftmaxObjective measures one loss-and-gradient evaluation of
// the linear probe on 60000 x 256 features and 10 classes: one L-BFGS
// iteration costs about one evaluation.
func BenchmarkSoftmaxObjective(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, d, c = 60000, 256, 10
	x := randMatrix(rng, n, d)
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(c)
	}
	p := newSoftmaxProblem(x.Data, y, d, c, 1e-4)
	params := make([]float64, c*(d+1))
	for i := range params {
		params[i] = 0.01 * rng.NormFloat64()
	}
	grad := make([]float64, len(params))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.objective(params, grad)
	}
}
