package tensor_test

import (
	"fmt"

	"selfsup/tensor"
)

// ExampleNew builds a zeroed tensor, fills it in row-major order and views
// the same data with another shape (Reshape copies nothing).
func ExampleNew() {
	t := tensor.New(2, 3)
	for i := range t.Data {
		t.Data[i] = float32(i)
	}
	r := t.Reshape(3, -1)
	r.Set(10, 2, 1) // writes through to t: row 2, column 1 of the 3x2 view is element 5
	fmt.Println(t.Shape(), t.At(1, 2), r.Shape(), t)
	// Output:
	// [2 3] 10 [3 2] Tensor[2 3][0 1 2 3 4 10]
}

// ExampleGemm multiplies a 2x3 matrix by the transpose of another 2x3
// matrix (C = A B^T, the layout of a linear layer's weight) and adds the
// result to C scaled by beta = 1.
func ExampleGemm() {
	a := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	b := []float32{
		1, 0, 1,
		0, 1, 0,
	}
	c := []float32{
		100, 200,
		300, 400,
	}
	// m = 2 rows of op(A), n = 2 columns of op(B), k = 3 shared.
	tensor.Gemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 1, c, 2)
	fmt.Println(c)
	// Output:
	// [104 202 310 405]
}
