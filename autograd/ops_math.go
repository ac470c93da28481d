package autograd

import (
	"math"

	"selfsup/tensor"
)

// Add returns a + b with NumPy broadcasting.
func Add(a, b *Var) *Var { return binary("Add", tensor.Add, a, b) }

// Sub returns a - b with broadcasting.
func Sub(a, b *Var) *Var { return binary("Sub", tensor.Sub, a, b) }

// Mul returns a * b (elementwise) with broadcasting.
func Mul(a, b *Var) *Var { return binary("Mul", tensor.Mul, a, b) }

// Div returns a / b (elementwise) with broadcasting.
func Div(a, b *Var) *Var { return binary("Div", tensor.Div, a, b) }

func binary(name string, op tensor.BinaryOp, a, b *Var) *Var {
	plan, err := tensor.NewBroadcast(a.Value.Shape(), b.Value.Shape())
	if err != nil {
		panic(opErr(name, "%v", err))
	}
	out := tensor.Buffers.Get(plan.Out...)
	plan.Binary(op, out.Data, a.Value.Data, b.Value.Data, false)
	return newResult(name, out, []*Var{a, b}, func(res *Var) func() {
		return func() { binaryBackward(op, plan, a, b, res) }
	})
}

func binaryBackward(op tensor.BinaryOp, plan *tensor.Broadcast, a, b, res *Var) {
	g := res.Grad
	full := plan.Out
	// gradOf writes d(res)/d(x) * g, reduced to x's shape, into x's grad.
	// term computes the unreduced gradient into a full-size buffer.
	push := func(x *Var, term func(dst []float32)) {
		if !x.needsGrad() {
			return
		}
		dst, acc := x.gradDst()
		if tensor.SameShape(x.Value.Shape(), full) {
			if term == nil {
				addOrCopy(dst.Data, g.Data, acc)
				return
			}
			tmp := tensor.Buffers.Get(full...)
			term(tmp.Data)
			addOrCopy(dst.Data, tmp.Data, acc)
			tensor.Buffers.Put(tmp)
			return
		}
		rp, err := tensor.NewBroadcast(x.Value.Shape(), full)
		if err != nil {
			panic(opErr("backward", "%v", err))
		}
		src := g.Data
		var tmp *tensor.Tensor
		if term != nil {
			tmp = tensor.Buffers.Get(full...)
			term(tmp.Data)
			src = tmp.Data
		}
		rp.ReduceInto(dst.Data, src, acc)
		tensor.Buffers.Put(tmp)
	}
	switch op {
	case tensor.Add:
		push(a, nil)
		push(b, nil)
	case tensor.Sub:
		push(a, nil)
		push(b, func(dst []float32) {
			for i, v := range g.Data {
				dst[i] = -v
			}
		})
	case tensor.Mul:
		push(a, func(dst []float32) { plan2(b, full).Binary(tensor.Mul, dst, g.Data, b.Value.Data, false) })
		push(b, func(dst []float32) { plan2(a, full).Binary(tensor.Mul, dst, g.Data, a.Value.Data, false) })
	case tensor.Div:
		push(a, func(dst []float32) { plan2(b, full).Binary(tensor.Div, dst, g.Data, b.Value.Data, false) })
		push(b, func(dst []float32) {
			// d(a/b)/db = -res/b
			plan2(b, full).Binary(tensor.Div, dst, res.Value.Data, b.Value.Data, false)
			for i := range dst {
				dst[i] *= -g.Data[i]
			}
		})
	}
}

// plan2 plans full-shaped op x-shaped.
func plan2(x *Var, full []int) *tensor.Broadcast {
	p, err := tensor.NewBroadcast(full, x.Value.Shape())
	if err != nil {
		panic(opErr("backward", "%v", err))
	}
	return p
}

func addOrCopy(dst, src []float32, acc bool) {
	if acc {
		src = src[:len(dst)]
		for i, v := range src {
			dst[i] += v
		}
		return
	}
	copy(dst, src)
}

// unary builds an elementwise op from its forward function f and its
// derivative df(x, y) (y = f(x)).
func unary(name string, a *Var, f func(x float32) float32, df func(x, y float32) float32) *Var {
	out := tensor.Buffers.Get(a.Value.Shape()...)
	src := a.Value.Data
	tensor.ParallelFor(len(src), 1<<15, func(_, lo, hi int) {
		o := out.Data[lo:hi]
		for i, x := range src[lo:hi] {
			o[i] = f(x)
		}
	})
	return newResult(name, out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			x, y, g := a.Value.Data, res.Value.Data, res.Grad.Data
			tensor.ParallelFor(len(x), 1<<15, func(_, lo, hi int) {
				for i := lo; i < hi; i++ {
					v := g[i] * df(x[i], y[i])
					if acc {
						dst.Data[i] += v
					} else {
						dst.Data[i] = v
					}
				}
			})
		}
	})
}

// Scale returns a * s for a constant s.
func Scale(a *Var, s float32) *Var {
	return unary("Scale", a, func(x float32) float32 { return x * s }, func(_, _ float32) float32 { return s })
}

// AddScalar returns a + s for a constant s.
func AddScalar(a *Var, s float32) *Var {
	return unary("AddScalar", a, func(x float32) float32 { return x + s }, func(_, _ float32) float32 { return 1 })
}

// Neg returns -a.
func Neg(a *Var) *Var { return Scale(a, -1) }

// Exp returns e^a.
func Exp(a *Var) *Var {
	return unary("Exp", a, tensor.Exp32, func(_, y float32) float32 { return y })
}

// Log returns the natural logarithm of a.
func Log(a *Var) *Var {
	return unary("Log", a, func(x float32) float32 { return float32(math.Log(float64(x))) },
		func(x, _ float32) float32 { return 1 / x })
}

// Sqrt returns the square root of a.
func Sqrt(a *Var) *Var {
	return unary("Sqrt", a, func(x float32) float32 { return float32(math.Sqrt(float64(x))) },
		func(_, y float32) float32 { return 0.5 / y })
}

// Square returns a*a.
func Square(a *Var) *Var {
	return unary("Square", a, func(x float32) float32 { return x * x }, func(x, _ float32) float32 { return 2 * x })
}

// Abs returns |a| (gradient 0 at 0).
func Abs(a *Var) *Var {
	return unary("Abs", a, func(x float32) float32 { return float32(math.Abs(float64(x))) },
		func(x, _ float32) float32 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0
		})
}

// Sum returns the sum of all elements as a scalar (shape []).
func Sum(a *Var) *Var {
	var s float64
	for _, v := range a.Value.Data {
		s += float64(v)
	}
	out := tensor.Buffers.Get()
	out.Data[0] = float32(s)
	return newResult("Sum", out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			g := res.Grad.Data[0]
			fillOrAdd(dst.Data, g, acc)
		}
	})
}

// Mean returns the mean of all elements as a scalar.
func Mean(a *Var) *Var { return Scale(Sum(a), 1/float32(a.Value.Len())) }

func fillOrAdd(dst []float32, v float32, acc bool) {
	if acc {
		for i := range dst {
			dst[i] += v
		}
		return
	}
	for i := range dst {
		dst[i] = v
	}
}

// SumAxis sums a over dimension axis (negative counts from the end),
// keeping it as size 1 when keep is set and dropping it otherwise.
func SumAxis(a *Var, axis int, keep bool) *Var {
	shape := a.Value.Shape()
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) {
		panic(opErr("SumAxis", "axis %d out of range for shape %v", axis, shape))
	}
	outer := tensor.Numel(shape[:axis])
	n := shape[axis]
	inner := tensor.Numel(shape[axis+1:])
	var oshape []int
	oshape = append(oshape, shape[:axis]...)
	if keep {
		oshape = append(oshape, 1)
	}
	oshape = append(oshape, shape[axis+1:]...)
	out := tensor.Buffers.GetZeroed(oshape...)
	src := a.Value.Data
	for o := 0; o < outer; o++ {
		dst := out.Data[o*inner : (o+1)*inner]
		for k := 0; k < n; k++ {
			row := src[(o*n+k)*inner : (o*n+k+1)*inner]
			for j, v := range row {
				dst[j] += v
			}
		}
	}
	return newResult("SumAxis", out, []*Var{a}, func(res *Var) func() {
		return func() {
			dst, acc := a.gradDst()
			g := res.Grad.Data
			for o := 0; o < outer; o++ {
				gr := g[o*inner : (o+1)*inner]
				for k := 0; k < n; k++ {
					addOrCopy(dst.Data[(o*n+k)*inner:(o*n+k+1)*inner], gr, acc)
				}
			}
		}
	})
}

// MeanAxis averages a over dimension axis.
func MeanAxis(a *Var, axis int, keep bool) *Var {
	shape := a.Value.Shape()
	if axis < 0 {
		axis += len(shape)
	}
	return Scale(SumAxis(a, axis, keep), 1/float32(shape[axis]))
}
