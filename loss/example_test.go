package loss_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/loss"
	"selfsup/tensor"
)

// ExampleNTXent compares the SimCLR loss of a batch whose two views are
// identical (each row's positive is its own copy, similarity 1) with a batch
// whose second view is unrelated noise: agreement gives the lower loss.
// Rows i and i+N of z are the two views of image i.
func ExampleNTXent() {
	const n, d, tau = 4, 8, 0.5
	r := rand.New(rand.NewPCG(7, 11))
	randn := func() *tensor.Tensor {
		t := tensor.New(n, d)
		for i := range t.Data {
			t.Data[i] = float32(r.NormFloat64())
		}
		return t
	}
	a, b := randn(), randn()
	pair := func(v1, v2 *tensor.Tensor) float32 {
		z := tensor.New(2*n, d)
		copy(z.Data, v1.Data)
		copy(z.Data[n*d:], v2.Data)
		var l float32
		autograd.NoGrad(func() { l = loss.NTXent(autograd.Const(z), tau).Item() })
		return l
	}
	same, random := pair(a, a), pair(a, b)
	fmt.Println("identical views score lower:", same < random)
	fmt.Printf("identical %.4f, random %.4f, chance level log(2N-1) = %.4f\n", same, random, math.Log(2*n-1))
	// Output:
	// identical views score lower: true
	// identical 0.6494, random 2.3170, chance level log(2N-1) = 1.9459
}
