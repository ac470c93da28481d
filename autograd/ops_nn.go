package autograd

import (
	"math"

	"selfsup/tensor"
)

// Conv2d convolves x [N, C, H, W] with w [K, C, R, S] (plus bias [K], may be
// nil) with the given stride and zero padding: PyTorch's F.conv2d with
// groups = 1.
func Conv2d(x, w, bias *Var, stride, pad int) *Var {
	return conv2d("Conv2d", x, w, bias, stride, pad, false)
}

// Conv2dReLU is ReLU(Conv2d(...)) as one op, the bias and ReLU applied while
// each chunk of output is in cache: the shape of a convolution followed by
// batch norm in evaluation mode once the norm is folded into the weights.
func Conv2dReLU(x, w, bias *Var, stride, pad int) *Var {
	return conv2d("Conv2dReLU", x, w, bias, stride, pad, true)
}

func conv2d(op string, x, w, bias *Var, stride, pad int, relu bool) *Var {
	checkDims(op, "input", x, 4)
	checkDims(op, "weight", w, 4)
	xs, ws := x.Value.Shape(), w.Value.Shape()
	if xs[1] != ws[1] {
		panic(opErr(op, "input has %d channels, weight %v expects %d", xs[1], ws, ws[1]))
	}
	if bias != nil && (bias.Value.Dims() != 1 || bias.Value.Dim(0) != ws[0]) {
		panic(opErr(op, "bias %v for weight %v", bias.Value.Shape(), ws))
	}
	p := tensor.ConvParams{N: xs[0], C: xs[1], H: xs[2], W: xs[3], K: ws[0], R: ws[2], S: ws[3], Stride: stride, Pad: pad}
	if err := p.Validate(); err != nil {
		panic(opErr(op, "%v", err))
	}
	oh, ow := p.Out()
	out := tensor.Buffers.Get(p.N, p.K, oh, ow)
	var bd []float32
	if bias != nil {
		bd = bias.Value.Data
	}
	if relu {
		tensor.Conv2dForwardReLU(p, x.Value.Data, w.Value.Data, bd, out.Data)
	} else {
		tensor.Conv2dForward(p, x.Value.Data, w.Value.Data, bd, out.Data, false)
	}
	inputs := []*Var{x, w}
	if bias != nil {
		inputs = append(inputs, bias)
	}
	return newResult(op, out, inputs, func(res *Var) func() {
		return func() {
			g := res.Grad.Data
			if relu { // mask in place: res.Grad belongs to this node
				tensor.ReLUBackward(res.Value.Data, g, g, false)
			}
			if w.needsGrad() {
				dw, acc := w.gradDst()
				tensor.Conv2dBackwardWeight(p, x.Value.Data, g, dw.Data, nil, acc)
			}
			if bias != nil && bias.needsGrad() {
				db, acc := bias.gradDst()
				tensor.SumChannels(g, p.N, p.K, oh*ow, db.Data, acc)
			}
			if x.needsGrad() {
				dst, acc := x.gradDst()
				tensor.Conv2dBackwardData(p, g, w.Value.Data, dst.Data, acc)
			}
		}
	})
}

// BatchNormState is what a batch-norm layer keeps between steps: running
// statistics (updated in training mode with the given momentum, PyTorch's
// convention: running = (1-m)*running + m*batch, unbiased variance).
type BatchNormState struct {
	RunningMean, RunningVar *tensor.Tensor
	Momentum, Eps           float32
}

// BatchNorm normalises x [N, C, ...] per channel. In training mode it uses
// the batch statistics and updates the running ones (when st's tensors are
// non-nil); in evaluation mode it uses the running statistics. gamma and
// beta ([C]) may be nil.
func BatchNorm(x, gamma, beta *Var, st *BatchNormState, training bool) *Var {
	return batchNorm("BatchNorm", x, gamma, beta, st, training, false)
}

// BatchNormReLU is ReLU(BatchNorm(...)) as one op: one pass over memory
// instead of two, and the normalised pre-activation is never stored (the
// backward pass needs only the input and the output), which saves one
// activation per convolution layer of a ResNet.
func BatchNormReLU(x, gamma, beta *Var, st *BatchNormState, training bool) *Var {
	return batchNorm("BatchNormReLU", x, gamma, beta, st, training, true)
}

func batchNorm(op string, x, gamma, beta *Var, st *BatchNormState, training, relu bool) *Var {
	xs := x.Value.Shape()
	if len(xs) < 2 {
		panic(opErr(op, "input must be [N, C, ...], got %v", xs))
	}
	n, c := xs[0], xs[1]
	inner := x.Value.Len() / max(n*c, 1)
	for _, p := range []*Var{gamma, beta} {
		if p != nil && (p.Value.Dims() != 1 || p.Value.Dim(0) != c) {
			panic(opErr(op, "parameter %s%v for %d channels", p.Name, p.Value.Shape(), c))
		}
	}
	var gd, bd []float32
	if gamma != nil {
		gd = gamma.Value.Data
	}
	if beta != nil {
		bd = beta.Value.Data
	}
	inputs := []*Var{x, gamma, beta}[:nonNil(gamma, beta)]
	out := tensor.Buffers.Get(xs...)
	var mean, invstd *tensor.Tensor // statistics the backward pass uses
	if !training {
		if st == nil || st.RunningMean == nil {
			panic(opErr(op, "evaluation mode needs running statistics"))
		}
		scale := tensor.Buffers.Get(c)
		shift := tensor.Buffers.Get(c)
		mean, invstd = tensor.Buffers.Get(c), tensor.Buffers.Get(c)
		for ch := 0; ch < c; ch++ {
			is := float32(1 / math.Sqrt(float64(st.RunningVar.Data[ch]+st.Eps)))
			mean.Data[ch], invstd.Data[ch] = st.RunningMean.Data[ch], is
			a, b := is, -st.RunningMean.Data[ch]*is
			if gd != nil {
				a, b = a*gd[ch], b*gd[ch]
			}
			if bd != nil {
				b += bd[ch]
			}
			scale.Data[ch], shift.Data[ch] = a, b
		}
		tensor.ChannelAffine(x.Value.Data, out.Data, n, c, inner, scale.Data, shift.Data, relu)
		res := newResult(op, out, inputs, func(res *Var) func() {
			return func() {
				g := res.Grad.Data
				if relu { // mask the gradient in place: res.Grad is ours
					tensor.ReLUBackward(res.Value.Data, g, g, false)
				}
				if x.needsGrad() {
					dst, acc := x.gradDst()
					tmp := dst.Data
					if acc {
						t := tensor.Buffers.Get(xs...)
						defer tensor.Buffers.Put(t)
						tmp = t.Data
					}
					zero := tensor.Buffers.GetZeroed(c)
					tensor.ChannelAffine(g, tmp, n, c, inner, scale.Data, zero.Data, false)
					tensor.Buffers.Put(zero)
					if acc {
						tensor.AddTo(dst.Data, tmp)
					}
				}
				if dg, db := accumulators(gamma), accumulators(beta); dg != nil || db != nil {
					tensor.BatchNormBackward(x.Value.Data, g, nil, n, c, inner, nil, mean.Data, invstd.Data, dg, db, false, nil)
				}
			}
		})
		if res.backward == nil {
			tensor.Buffers.Put(scale)
			tensor.Buffers.Put(shift)
			tensor.Buffers.Put(mean)
			tensor.Buffers.Put(invstd)
		} else {
			res.save(scale, shift, mean, invstd)
		}
		return res
	}
	if n*inner < 2 {
		panic(opErr(op, "training mode needs more than one value per channel, got input %v", xs))
	}
	eps := float32(1e-5)
	if st != nil {
		eps = st.Eps
	}
	mean, invstd = tensor.Buffers.Get(c), tensor.Buffers.Get(c)
	tensor.BatchNormTrain(x.Value.Data, out.Data, n, c, inner, gd, bd, eps, mean.Data, invstd.Data, relu)
	if st != nil && st.RunningMean != nil {
		m := st.Momentum
		cnt := float32(n * inner)
		for ch := 0; ch < c; ch++ {
			is := invstd.Data[ch]
			v := 1/(is*is) - eps
			st.RunningMean.Data[ch] = (1-m)*st.RunningMean.Data[ch] + m*mean.Data[ch]
			st.RunningVar.Data[ch] = (1-m)*st.RunningVar.Data[ch] + m*v*cnt/(cnt-1)
		}
	}
	res := newResult(op, out, inputs, func(res *Var) func() {
		return func() {
			var dx []float32
			acc := false
			if x.needsGrad() {
				t, a := x.gradDst()
				dx, acc = t.Data, a
			}
			dg, db := accumulators(gamma), accumulators(beta)
			var reluOut []float32
			if relu {
				reluOut = res.Value.Data
			}
			tensor.BatchNormBackward(x.Value.Data, res.Grad.Data, dx, n, c, inner, gd, mean.Data, invstd.Data, dg, db, acc, reluOut)
		}
	})
	if res.backward == nil {
		tensor.Buffers.Put(mean)
		tensor.Buffers.Put(invstd)
	} else {
		res.save(mean, invstd)
	}
	return res
}

// accumulators returns the gradient buffer of an optional parameter, zeroed
// when fresh, for kernels that add into it; nil when p is nil or needs no
// gradient.
func accumulators(p *Var) []float32 {
	if p == nil || !p.needsGrad() {
		return nil
	}
	t, acc := p.gradDst()
	if !acc {
		clear(t.Data)
	}
	return t.Data
}

// nonNil returns how many of x, gamma, beta to pass as inputs: the slice
// {x, gamma, beta} is cut after the last non-nil one, and a nil gamma with a
// non-nil beta is not supported.
func nonNil(gamma, beta *Var) int {
	switch {
	case beta != nil:
		if gamma == nil {
			panic(opErr("BatchNorm", "beta without gamma is not supported"))
		}
		return 3
	case gamma != nil:
		return 2
	}
	return 1
}

// LayerNorm normalises the last dimension of x; gamma and beta ([D]) may be
// nil.
func LayerNorm(x, gamma, beta *Var, eps float32) *Var {
	d := x.Value.Dim(-1)
	rows := x.Value.Len() / d
	for _, p := range []*Var{gamma, beta} {
		if p != nil && (p.Value.Dims() != 1 || p.Value.Dim(0) != d) {
			panic(opErr("LayerNorm", "parameter %s%v for last dimension %d", p.Name, p.Value.Shape(), d))
		}
	}
	var gd, bd []float32
	if gamma != nil {
		gd = gamma.Value.Data
	}
	if beta != nil {
		bd = beta.Value.Data
	}
	if (gd == nil) != (bd == nil) {
		panic(opErr("LayerNorm", "gamma and beta must both be given or both be nil"))
	}
	out := tensor.Buffers.Get(x.Value.Shape()...)
	mean := tensor.Buffers.Get(rows)
	invstd := tensor.Buffers.Get(rows)
	tensor.LayerNormForward(x.Value.Data, out.Data, rows, d, gd, bd, eps, mean.Data, invstd.Data)
	inputs := []*Var{x}
	if gamma != nil {
		inputs = append(inputs, gamma, beta)
	}
	res := newResult("LayerNorm", out, inputs, func(res *Var) func() {
		return func() {
			var dx, dg, db []float32
			acc := false
			if x.needsGrad() {
				t, a := x.gradDst()
				dx, acc = t.Data, a
			}
			dg, db = accumulators(gamma), accumulators(beta)
			tensor.LayerNormBackward(x.Value.Data, res.Grad.Data, dx, rows, d, gd, mean.Data, invstd.Data, dg, db, acc)
		}
	})
	if res.backward == nil {
		tensor.Buffers.Put(mean)
		tensor.Buffers.Put(invstd)
	} else {
		res.save(mean, invstd)
	}
	return res
}

// MaxPool2d takes window maxima of x [N, C, H, W].
func MaxPool2d(x *Var, kernel, stride, pad int) *Var {
	checkDims("MaxPool2d", "input", x, 4)
	xs := x.Value.Shape()
	if kernel < 1 || stride < 1 || pad < 0 || pad*2 > kernel {
		panic(opErr("MaxPool2d", "kernel %d stride %d padding %d: need kernel, stride >= 1 and 0 <= padding <= kernel/2", kernel, stride, pad))
	}
	p := tensor.PoolParams{N: xs[0], C: xs[1], H: xs[2], W: xs[3], Kernel: kernel, Stride: stride, Pad: pad}
	oh, ow := p.Out()
	if oh < 1 || ow < 1 {
		panic(opErr("MaxPool2d", "kernel %d stride %d padding %d does not fit input %v", kernel, stride, pad, xs))
	}
	out := tensor.Buffers.Get(p.N, p.C, oh, ow)
	arg := make([]int32, out.Len())
	tensor.MaxPoolForward(p, x.Value.Data, out.Data, arg)
	return newResult("MaxPool2d", out, []*Var{x}, func(res *Var) func() {
		return func() {
			dst, acc := x.gradDst()
			if !acc {
				clear(dst.Data)
			}
			tensor.MaxPoolBackward(p, res.Grad.Data, dst.Data, arg)
		}
	})
}

// AvgPool2d averages windows of x [N, C, H, W] (padding counts as zeros).
func AvgPool2d(x *Var, kernel, stride, pad int) *Var {
	checkDims("AvgPool2d", "input", x, 4)
	xs := x.Value.Shape()
	if kernel < 1 || stride < 1 || pad < 0 || pad*2 > kernel {
		panic(opErr("AvgPool2d", "kernel %d stride %d padding %d: need kernel, stride >= 1 and 0 <= padding <= kernel/2", kernel, stride, pad))
	}
	p := tensor.PoolParams{N: xs[0], C: xs[1], H: xs[2], W: xs[3], Kernel: kernel, Stride: stride, Pad: pad}
	oh, ow := p.Out()
	if oh < 1 || ow < 1 {
		panic(opErr("AvgPool2d", "kernel %d stride %d padding %d does not fit input %v", kernel, stride, pad, xs))
	}
	out := tensor.Buffers.Get(p.N, p.C, oh, ow)
	tensor.AvgPoolForward(p, x.Value.Data, out.Data)
	return newResult("AvgPool2d", out, []*Var{x}, func(res *Var) func() {
		return func() {
			dst, acc := x.gradDst()
			if !acc {
				clear(dst.Data)
			}
			tensor.AvgPoolBackward(p, res.Grad.Data, dst.Data)
		}
	})
}

// GlobalAvgPool averages x [N, C, H, W] over H and W, giving [N, C].
func GlobalAvgPool(x *Var) *Var {
	checkDims("GlobalAvgPool", "input", x, 4)
	xs := x.Value.Shape()
	rows, inner := xs[0]*xs[1], xs[2]*xs[3]
	out := tensor.Buffers.Get(xs[0], xs[1])
	tensor.RowMeans(x.Value.Data, out.Data, rows, inner)
	return newResult("GlobalAvgPool", out, []*Var{x}, func(res *Var) func() {
		return func() {
			dst, acc := x.gradDst()
			tensor.SpreadRows(res.Grad.Data, dst.Data, rows, inner, acc)
		}
	})
}
