package autograd

import (
	"math"

	"selfsup/tensor"
)

// ReLU returns max(a, 0).
func ReLU(a *Var) *Var {
	out := tensor.Buffers.Get(a.Value.Shape()...)
	tensor.ReLU(a.Value.Data, out.Data)
	return newResult("ReLU", out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			tensor.ReLUBackward(res.Value.Data, res.Grad.Data, dst.Data, acc)
		}
	})
}

// GELU is the Gaussian error linear unit x*Phi(x) with the exact erf form
// (PyTorch's default, approximate='none').
func GELU(a *Var) *Var {
	out := tensor.Buffers.Get(a.Value.Shape()...)
	tensor.GELU(a.Value.Data, out.Data)
	return newResult("GELU", out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			tensor.GELUBackward(a.Value.Data, res.Grad.Data, dst.Data, acc)
		}
	})
}

// Sigmoid returns 1/(1+e^-a).
func Sigmoid(a *Var) *Var {
	return unary("Sigmoid", a, func(x float32) float32 { return 1 / (1 + tensor.Exp32(-x)) },
		func(_, y float32) float32 { return y * (1 - y) })
}

// Tanh returns the hyperbolic tangent of a.
func Tanh(a *Var) *Var {
	return unary("Tanh", a, func(x float32) float32 { return float32(math.Tanh(float64(x))) },
		func(_, y float32) float32 { return 1 - y*y })
}

// LeakyReLU returns a for a > 0 and slope*a otherwise.
func LeakyReLU(a *Var, slope float32) *Var {
	return unary("LeakyReLU", a, func(x float32) float32 {
		if x > 0 {
			return x
		}
		return slope * x
	}, func(x, _ float32) float32 {
		if x > 0 {
			return 1
		}
		return slope
	})
}

// Softmax normalises the last dimension of a to probabilities.
func Softmax(a *Var) *Var {
	d := a.Value.Dim(-1)
	rows := a.Value.Len() / d
	out := tensor.Buffers.Get(a.Value.Shape()...)
	tensor.SoftmaxRows(a.Value.Data, out.Data, rows, d, false)
	return newResult("Softmax", out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			y, g := res.Value.Data, res.Grad.Data
			tensor.ParallelFor(rows, 16, func(_, lo, hi int) {
				tensor.SoftmaxBackwardRows(y[lo*d:hi*d], g[lo*d:hi*d], dst.Data[lo*d:hi*d], hi-lo, d, acc)
			})
		}
	})
}

// LogSoftmax returns the log of Softmax(a), computed stably.
func LogSoftmax(a *Var) *Var {
	d := a.Value.Dim(-1)
	rows := a.Value.Len() / d
	out := tensor.Buffers.Get(a.Value.Shape()...)
	tensor.SoftmaxRows(a.Value.Data, out.Data, rows, d, true)
	return newResult("LogSoftmax", out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			y, g := res.Value.Data, res.Grad.Data
			tensor.ParallelFor(rows, 16, func(_, lo, hi int) {
				for r := lo; r < hi; r++ {
					yr, gr, dr := y[r*d:(r+1)*d], g[r*d:(r+1)*d], dst.Data[r*d:(r+1)*d]
					var s float32
					for _, v := range gr {
						s += v
					}
					for j, v := range yr {
						val := gr[j] - tensor.Exp32(v)*s
						if acc {
							dr[j] += val
						} else {
							dr[j] = val
						}
					}
				}
			})
		}
	})
}

// Dropout zeroes each element with probability p and scales the rest by
// 1/(1-p) in training mode; it is the identity otherwise. rnd returns
// uniform numbers in [0, 1).
func Dropout(a *Var, p float32, training bool, rnd func() float32) *Var {
	if !training || p == 0 {
		return a
	}
	if p < 0 || p >= 1 {
		panic(opErr("Dropout", "probability %v outside [0, 1)", p))
	}
	mask := tensor.Buffers.Get(a.Value.Shape()...)
	scale := 1 / (1 - p)
	for i := range mask.Data {
		if rnd() < p {
			mask.Data[i] = 0
		} else {
			mask.Data[i] = scale
		}
	}
	out := tensor.Buffers.Get(a.Value.Shape()...)
	for i, v := range a.Value.Data {
		out.Data[i] = v * mask.Data[i]
	}
	res := newResult("Dropout", out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			for i, g := range res.Grad.Data {
				if acc {
					dst.Data[i] += g * mask.Data[i]
				} else {
					dst.Data[i] = g * mask.Data[i]
				}
			}
		}
	})
	if res.backward == nil {
		tensor.Buffers.Put(mask)
	} else {
		res.save(mask)
	}
	return res
}

// AddReLU returns max(a + b, 0) for same-shaped a and b: the end of a
// residual block, fused to save a pass over memory.
func AddReLU(a, b *Var) *Var {
	checkSameShape("AddReLU", a, b)
	out := tensor.Buffers.Get(a.Value.Shape()...)
	tensor.AddReLU(a.Value.Data, b.Value.Data, out.Data)
	return newResult("AddReLU", out, []*Var{a, b}, func(res *Var) func() {
		return func() {
			for _, in := range []*Var{a, b} {
				if in.needsGrad() {
					dst, acc := in.gradDst()
					tensor.ReLUBackward(res.Value.Data, res.Grad.Data, dst.Data, acc)
				}
			}
		}
	})
}
