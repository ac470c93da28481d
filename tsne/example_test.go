package tsne_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"selfsup/eval"
	"selfsup/tensor"
	"selfsup/tsne"
)

// Embed three clusters of 20-D points in the plane and score the embedding
// with the leave-one-out 5-NN accuracy, as `selfsup tsne` does.
func ExampleEmbed() {
	rng := rand.New(rand.NewPCG(1, 2))
	n, d := 150, 20
	x := tensor.New(n, d)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		labels[i] = i % 3
		for j := 0; j < d; j++ {
			x.Data[i*d+j] = float32(rng.NormFloat64())
		}
		x.Data[i*d+labels[i]] += 6 // cluster centres on three axes
	}

	res, err := tsne.Embed(context.Background(), x, tsne.Config{Perplexity: 20, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	knn := eval.MajorityKNNConfig(5)
	knn.ExcludeSelf = true
	ev, err := eval.KNN(res.Y, labels, res.Y, labels, 3, knn)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%v t-SNE of %d points (learning rate %v): shape %v, 5-NN accuracy %.2f\n",
		res.Method, n, res.LearningRate, res.Y.Shape(), ev.Top1)

	// A perplexity too high for the number of points is an error.
	_, err = tsne.Embed(context.Background(), x, tsne.Config{Perplexity: 60})
	fmt.Println(err)
	// Output:
	// exact t-SNE of 150 points (learning rate 50): shape [150 2], 5-NN accuracy 1.00
	// tsne: perplexity 60 is too high for 150 points: it must be below (N-1)/3 = 49.67 (3*perplexity neighbours per point)
}
