package autograd_test

import (
	"fmt"

	"selfsup/autograd"
	"selfsup/tensor"
)

// ExampleVar_Backward takes one gradient step of a linear regression
// y = x w^T + b: the forward pass builds the graph, Backward fills the
// parameters' Grad, and a manual SGD update lowers the loss.
func ExampleVar_Backward() {
	// four samples of y = 2*x0 - x1 + 0.5
	x := autograd.Const(tensor.FromData([]float32{
		1, 0,
		0, 1,
		1, 1,
		2, 1,
	}, 4, 2))
	y := autograd.Const(tensor.FromData([]float32{2.5, -0.5, 1.5, 3.5}, 4, 1))
	w := autograd.Param(tensor.New(1, 2), "weight")
	b := autograd.Param(tensor.New(1), "bias")

	loss := autograd.MSE(autograd.Linear(x, w, b), y)
	fmt.Printf("loss %.4f\n", loss.Item())
	if err := loss.Backward(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("dL/dw [%.4f %.4f], dL/db [%.4f]\n", w.Grad.Data[0], w.Grad.Data[1], b.Grad.Data[0])

	const lr = 0.1
	for _, p := range []*autograd.Var{w, b} {
		for i, g := range p.Grad.Data {
			p.Value.Data[i] -= lr * g
		}
		p.ZeroGrad()
	}
	var after float32
	autograd.NoGrad(func() { after = autograd.MSE(autograd.Linear(x, w, b), y).Item() })
	fmt.Printf("loss after one step %.4f\n", after)
	// Output:
	// loss 5.2500
	// dL/dw [-5.5000 -2.2500], dL/db [-3.5000]
	// loss after one step 1.7967
}
