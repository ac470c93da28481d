package diag_test

import (
	"fmt"
	"math/rand/v2"

	"selfsup/diag"
	"selfsup/tensor"
)

// A healthy batch of 512 embeddings in 32 dimensions spreads over the
// sphere (std near 1/sqrt(32) = 0.177, rank near 32); a collapsed one, every
// row the same vector, has no spread and one direction.
func ExampleCollapse() {
	r := rand.New(rand.NewPCG(1, 1))
	healthy := tensor.New(512, 32)
	for i := range healthy.Data {
		healthy.Data[i] = float32(r.NormFloat64())
	}
	collapsed := tensor.New(512, 32)
	for i := range collapsed.Data {
		collapsed.Data[i] = float32(i%32) - 10
	}
	for _, z := range []*tensor.Tensor{healthy, collapsed} {
		m := diag.Collapse(z)
		fmt.Printf("emb_std %.2f eff_rank %.1f\n", m[diag.StdKey], m[diag.RankKey])
	}
	// Output:
	// emb_std 0.18 eff_rank 31.8
	// emb_std 0.00 eff_rank 1.0
}

// SymEigen gives the eigenvalues in ascending order and, on request, the
// eigenvectors as rows.
func ExampleSymEigen() {
	a := []float64{
		2, 1,
		1, 2,
	}
	values, vectors, err := diag.SymEigen(a, 2, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("values %.3f\n", values)
	fmt.Printf("vector of %.0f: %.3f\n", values[1], vectors[2:4])
	// Output:
	// values [1.000 3.000]
	// vector of 3: [0.707 0.707]
}
