// Package autograd is selfsup's reverse-mode automatic differentiation: a
// define-by-run tape in the style of micrograd, over the float32 kernels of
// package tensor.
//
// A Var holds a value, a gradient, the Vars it was computed from and a
// closure that pushes its gradient back to them. Calling Backward on a scalar
// loss sorts the graph topologically, runs the closures in reverse order,
// accumulates gradients into the parameters (leaves), and frees the tape:
// intermediate values and gradients go back to tensor.Buffers as soon as no
// remaining closure can need them, so a training step's memory peaks at one
// forward pass and is reused by the next step.
//
// Ops check their arguments and panic with an *OpError naming the op and the
// shapes (a programming error, like an index out of range, but readable);
// Guard turns such a panic into an ordinary error at an API boundary.
//
// Evaluation runs under NoGrad, which records nothing.
package autograd
