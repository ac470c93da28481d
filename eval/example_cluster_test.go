package eval_test

import (
	"fmt"
	"math/rand/v2"

	"selfsup/eval"
)

// Cluster features with k-means and score the clusters against the
// classes: NMI, ARI, and the accuracy of the best matching of clusters to
// classes.
func ExampleKMeans() {
	rng := rand.New(rand.NewPCG(5, 6))
	x, labels := clusters(rng, 300) // three well separated classes

	res, err := eval.KMeans(x, eval.KMeansConfig{K: 3, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := eval.ScoreClusters(labels, res.Assign)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d clusters: NMI %.2f, ARI %.2f, accuracy %.2f\n", s.Clusters, s.NMI, s.ARI, s.Accuracy)
	// Output:
	// 3 clusters: NMI 1.00, ARI 1.00, accuracy 1.00
}

// Match three workers to three jobs at minimal total cost.
func ExampleHungarian() {
	cost := []float64{
		4, 1, 3,
		2, 0, 5,
		3, 2, 2,
	}
	assign, total, _ := eval.Hungarian(cost, 3, 3)
	fmt.Println(assign, total)
	// Output: [1 0 2] 5
}
