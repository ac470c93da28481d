package optim_test

import (
	"fmt"

	"selfsup/autograd"
	"selfsup/optim"
	"selfsup/tensor"
)

// ExampleSGD minimises the toy quadratic sum((w - target)^2) with SGD and
// momentum: autograd computes the gradient, Step applies it, ZeroGrad
// clears it for the next step.
func ExampleSGD() {
	w := autograd.Param(tensor.FromData([]float32{0, 0, 0}, 3), "w")
	target := autograd.Const(tensor.FromData([]float32{1, -2, 0.5}, 3))
	opt := optim.NewSGD([]*autograd.Var{w}, optim.SGDConfig{LR: 0.1, Momentum: 0.5})
	for step := 0; step < 50; step++ {
		optim.ZeroGrad([]*autograd.Var{w})
		loss := autograd.Sum(autograd.Square(autograd.Sub(w, target)))
		if step == 0 {
			fmt.Printf("loss at start: %.4f\n", loss.Item())
		}
		if err := loss.Backward(); err != nil {
			fmt.Println(err)
			return
		}
		opt.Step()
	}
	fmt.Printf("w after 50 steps: [%.4f %.4f %.4f]\n", w.Value.Data[0], w.Value.Data[1], w.Value.Data[2])
	// Output:
	// loss at start: 5.2500
	// w after 50 steps: [1.0000 -2.0000 0.5000]
}

// ExampleWarmupCosine prints the learning rate of a 5-step warmup followed
// by a cosine decay to 0 at step 15; a training loop calls
// opt.SetLR(sched.At(step)) before each step.
func ExampleWarmupCosine() {
	sched := optim.WarmupCosine{Base: 0.5, Final: 0, Warmup: 5, Total: 15}
	for _, step := range []int64{0, 4, 5, 10, 15, 20} {
		fmt.Printf("step %2d: lr %.4f\n", step, sched.At(step))
	}
	// Output:
	// step  0: lr 0.1000
	// step  4: lr 0.5000
	// step  5: lr 0.5000
	// step 10: lr 0.2500
	// step 15: lr 0.0000
	// step 20: lr 0.0000
}

// ExampleClipGradNorm scales a gradient of norm 5 down to norm 1.
func ExampleClipGradNorm() {
	p := autograd.Param(tensor.New(2), "p")
	p.Grad = tensor.FromData([]float32{3, 4}, 2)
	norm := optim.ClipGradNorm([]*autograd.Var{p}, 1)
	fmt.Printf("norm before: %.4f, gradient now: [%.4f %.4f]\n", norm, p.Grad.Data[0], p.Grad.Data[1])
	// Output:
	// norm before: 5.0000, gradient now: [0.6000 0.8000]
}
