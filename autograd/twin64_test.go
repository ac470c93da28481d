package autograd_test

import (
	"fmt"
	"math"
)

// This file holds the float64 twins of the autograd ops: textbook
// definitions written as plain loops over multi-indices, independent of the
// production kernels (no GEMM, no im2col, no broadcast plans, no shared
// helpers from package tensor). The gradient checks differentiate them by
// central finite differences.

// nd is a float64 n-dimensional array in row-major order.
type nd struct {
	shape []int
	d     []float64
}

// numel is the product of the dimensions (1 for a scalar).
func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// zeros returns a zero-filled array of the given shape.
func zeros(shape ...int) *nd {
	return &nd{shape: append([]int{}, shape...), d: make([]float64, numel(shape))}
}

// clone returns a deep copy.
func (a *nd) clone() *nd {
	return &nd{shape: append([]int{}, a.shape...), d: append([]float64(nil), a.d...)}
}

// unravel writes the multi-index of flat position i in shape into idx.
func unravel(i int, shape, idx []int) {
	for k := len(shape) - 1; k >= 0; k-- {
		idx[k] = i % shape[k]
		i /= shape[k]
	}
}

// ravel returns the flat position of idx in shape.
func ravel(idx, shape []int) int {
	off := 0
	for k, s := range shape {
		off = off*s + idx[k]
	}
	return off
}

// broadcastShape applies NumPy's rules to two shapes.
func broadcastShape(a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			panic(fmt.Sprintf("twin: shapes %v and %v do not broadcast", a, b))
		}
	}
	return out
}

// broadcastIndex maps an output multi-index to the flat position in an
// operand of the given (right-aligned) shape.
func broadcastIndex(shape, idx []int) int {
	off := len(idx) - len(shape)
	k := 0
	for j, s := range shape {
		v := idx[off+j]
		if s == 1 {
			v = 0
		}
		k = k*s + v
	}
	return k
}

// tBinary applies f elementwise with broadcasting.
func tBinary(a, b *nd, f func(x, y float64) float64) *nd {
	out := zeros(broadcastShape(a.shape, b.shape)...)
	idx := make([]int, len(out.shape))
	for i := range out.d {
		unravel(i, out.shape, idx)
		out.d[i] = f(a.d[broadcastIndex(a.shape, idx)], b.d[broadcastIndex(b.shape, idx)])
	}
	return out
}

// tMap applies f to every element.
func tMap(a *nd, f func(x float64) float64) *nd {
	out := a.clone()
	for i, v := range out.d {
		out.d[i] = f(v)
	}
	return out
}

// tSum is the sum of all elements as a scalar (shape []).
func tSum(a *nd) *nd {
	out := zeros()
	for _, v := range a.d {
		out.d[0] += v
	}
	return out
}

// tSumAxis sums over one axis (keeping it as size 1 when keep is set).
func tSumAxis(a *nd, axis int, keep bool) *nd {
	if axis < 0 {
		axis += len(a.shape)
	}
	var oshape []int
	for k, s := range a.shape {
		switch {
		case k != axis:
			oshape = append(oshape, s)
		case keep:
			oshape = append(oshape, 1)
		}
	}
	out := zeros(oshape...)
	idx := make([]int, len(a.shape))
	for i, v := range a.d {
		unravel(i, a.shape, idx)
		o := 0
		for k, s := range a.shape {
			if k != axis {
				o = o*s + idx[k]
			}
		}
		out.d[o] += v
	}
	return out
}

// tScale multiplies every element by s.
func tScale(a *nd, s float64) *nd { return tMap(a, func(x float64) float64 { return x * s }) }

// tLinear is x W^T + b over the last dimension of x.
func tLinear(x, w, b *nd) *nd {
	in, outF := w.shape[1], w.shape[0]
	rows := len(x.d) / in
	oshape := append(append([]int{}, x.shape[:len(x.shape)-1]...), outF)
	out := zeros(oshape...)
	for r := 0; r < rows; r++ {
		for o := 0; o < outF; o++ {
			s := 0.0
			if b != nil {
				s = b.d[o]
			}
			for i := 0; i < in; i++ {
				s += x.d[r*in+i] * w.d[o*in+i]
			}
			out.d[r*outF+o] = s
		}
	}
	return out
}

// tMatMul is op(a) op(b) for 2-D operands or per batch for 3-D ones.
func tMatMul(a, b *nd, ta, tb bool) *nd {
	batched := len(a.shape) == 3
	nb := 1
	if batched {
		nb = a.shape[0]
	}
	ar, ac := a.shape[len(a.shape)-2], a.shape[len(a.shape)-1]
	br, bc := b.shape[len(b.shape)-2], b.shape[len(b.shape)-1]
	// element (i, j) of op(x) for batch q
	get := func(x *nd, rows, cols, q, i, j int, trans bool) float64 {
		if trans {
			i, j = j, i
		}
		return x.d[q*rows*cols+i*cols+j]
	}
	m, k := ar, ac
	if ta {
		m, k = ac, ar
	}
	n := bc
	if tb {
		n = br
	}
	var out *nd
	if batched {
		out = zeros(nb, m, n)
	} else {
		out = zeros(m, n)
	}
	for q := 0; q < nb; q++ {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				s := 0.0
				for p := 0; p < k; p++ {
					s += get(a, ar, ac, q, i, p, ta) * get(b, br, bc, q, p, j, tb)
				}
				out.d[(q*m+i)*n+j] = s
			}
		}
	}
	return out
}

// tReshape returns the same elements with another shape.
func tReshape(a *nd, shape ...int) *nd {
	out := a.clone()
	out.shape = append([]int{}, shape...)
	if numel(shape) != len(a.d) {
		panic("twin: bad reshape")
	}
	return out
}

// tPermute reorders dimensions: output dimension k is input dimension perm[k].
func tPermute(a *nd, perm ...int) *nd {
	oshape := make([]int, len(perm))
	for k, p := range perm {
		oshape[k] = a.shape[p]
	}
	out := zeros(oshape...)
	oidx := make([]int, len(perm))
	iidx := make([]int, len(perm))
	for i := range out.d {
		unravel(i, oshape, oidx)
		for k, p := range perm {
			iidx[p] = oidx[k]
		}
		out.d[i] = a.d[ravel(iidx, a.shape)]
	}
	return out
}

// tTranspose swaps the last two dimensions.
func tTranspose(a *nd) *nd {
	n := len(a.shape)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	perm[n-1], perm[n-2] = n-2, n-1
	return tPermute(a, perm...)
}

// tConcat joins arrays along axis.
func tConcat(axis int, xs ...*nd) *nd {
	if axis < 0 {
		axis += len(xs[0].shape)
	}
	oshape := append([]int{}, xs[0].shape...)
	oshape[axis] = 0
	for _, x := range xs {
		oshape[axis] += x.shape[axis]
	}
	out := zeros(oshape...)
	idx := make([]int, len(oshape))
	for i := range out.d {
		unravel(i, oshape, idx)
		pos := idx[axis]
		for _, x := range xs {
			if pos < x.shape[axis] {
				idx[axis] = pos
				out.d[i] = x.d[ravel(idx, x.shape)]
				break
			}
			pos -= x.shape[axis]
		}
	}
	return out
}

// tNarrow takes [start, start+length) along axis.
func tNarrow(a *nd, axis, start, length int) *nd {
	if axis < 0 {
		axis += len(a.shape)
	}
	oshape := append([]int{}, a.shape...)
	oshape[axis] = length
	out := zeros(oshape...)
	idx := make([]int, len(oshape))
	for i := range out.d {
		unravel(i, oshape, idx)
		idx[axis] += start
		out.d[i] = a.d[ravel(idx, a.shape)]
	}
	return out
}

// tIndexSelect picks rows (first dimension) by index.
func tIndexSelect(a *nd, idx []int) *nd {
	inner := len(a.d) / a.shape[0]
	out := zeros(append([]int{len(idx)}, a.shape[1:]...)...)
	for i, j := range idx {
		for c := 0; c < inner; c++ {
			out.d[i*inner+c] = a.d[j*inner+c]
		}
	}
	return out
}

// tGather picks tokens idx[b][i] of x [B, T, D].
func tGather(x *nd, idx [][]int) *nd {
	b, t, d := x.shape[0], x.shape[1], x.shape[2]
	k := len(idx[0])
	out := zeros(b, k, d)
	for bi := 0; bi < b; bi++ {
		for i := 0; i < k; i++ {
			for c := 0; c < d; c++ {
				out.d[(bi*k+i)*d+c] = x.d[(bi*t+idx[bi][i])*d+c]
			}
		}
	}
	return out
}

// tScatter writes src [B, K, D] over base [B, T, D] at tokens idx[b][i].
func tScatter(base, src *nd, idx [][]int) *nd {
	b, t, d := base.shape[0], base.shape[1], base.shape[2]
	k := src.shape[1]
	out := base.clone()
	for bi := 0; bi < b; bi++ {
		for i := 0; i < k; i++ {
			for c := 0; c < d; c++ {
				out.d[(bi*t+idx[bi][i])*d+c] = src.d[(bi*k+i)*d+c]
			}
		}
	}
	return out
}

// tConv2d is the direct cross-correlation of x [N,C,H,W] with w [K,C,R,S].
func tConv2d(x, w, bias *nd, stride, pad int) *nd {
	n, c, h, wd := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	k, r, s := w.shape[0], w.shape[2], w.shape[3]
	oh := (h+2*pad-r)/stride + 1
	ow := (wd+2*pad-s)/stride + 1
	out := zeros(n, k, oh, ow)
	for ni := 0; ni < n; ni++ {
		for ki := 0; ki < k; ki++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					sum := 0.0
					if bias != nil {
						sum = bias.d[ki]
					}
					for ci := 0; ci < c; ci++ {
						for ri := 0; ri < r; ri++ {
							iy := oy*stride + ri - pad
							if iy < 0 || iy >= h {
								continue
							}
							for si := 0; si < s; si++ {
								ix := ox*stride + si - pad
								if ix < 0 || ix >= wd {
									continue
								}
								sum += x.d[((ni*c+ci)*h+iy)*wd+ix] * w.d[((ki*c+ci)*r+ri)*s+si]
							}
						}
					}
					out.d[((ni*k+ki)*oh+oy)*ow+ox] = sum
				}
			}
		}
	}
	return out
}

// channelStats returns the per-channel mean and biased variance of x
// [N, C, ...] over N and the trailing dimensions.
func channelStats(x *nd) (mean, variance []float64) {
	n, c := x.shape[0], x.shape[1]
	inner := len(x.d) / (n * c)
	mean = make([]float64, c)
	variance = make([]float64, c)
	cnt := float64(n * inner)
	for ch := 0; ch < c; ch++ {
		for i := 0; i < n; i++ {
			for j := 0; j < inner; j++ {
				mean[ch] += x.d[(i*c+ch)*inner+j]
			}
		}
		mean[ch] /= cnt
		for i := 0; i < n; i++ {
			for j := 0; j < inner; j++ {
				dv := x.d[(i*c+ch)*inner+j] - mean[ch]
				variance[ch] += dv * dv
			}
		}
		variance[ch] /= cnt
	}
	return mean, variance
}

// tBatchNorm normalises x [N, C, ...] per channel with the given mean and
// variance, then applies gamma and beta (either may be nil).
func tBatchNorm(x, gamma, beta *nd, mean, variance []float64, eps float64) *nd {
	n, c := x.shape[0], x.shape[1]
	inner := len(x.d) / (n * c)
	out := x.clone()
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for j := 0; j < inner; j++ {
				p := (i*c+ch)*inner + j
				y := (x.d[p] - mean[ch]) / math.Sqrt(variance[ch]+eps)
				if gamma != nil {
					y *= gamma.d[ch]
				}
				if beta != nil {
					y += beta.d[ch]
				}
				out.d[p] = y
			}
		}
	}
	return out
}

// tBatchNormTrain normalises with the batch statistics.
func tBatchNormTrain(x, gamma, beta *nd, eps float64) *nd {
	mean, variance := channelStats(x)
	return tBatchNorm(x, gamma, beta, mean, variance, eps)
}

// tLayerNorm normalises each row of the last dimension.
func tLayerNorm(x, gamma, beta *nd, eps float64) *nd {
	d := x.shape[len(x.shape)-1]
	rows := len(x.d) / d
	out := x.clone()
	for r := 0; r < rows; r++ {
		row := x.d[r*d : (r+1)*d]
		mu := 0.0
		for _, v := range row {
			mu += v
		}
		mu /= float64(d)
		va := 0.0
		for _, v := range row {
			va += (v - mu) * (v - mu)
		}
		va /= float64(d)
		for j, v := range row {
			y := (v - mu) / math.Sqrt(va+eps)
			if gamma != nil {
				y = y*gamma.d[j] + beta.d[j]
			}
			out.d[r*d+j] = y
		}
	}
	return out
}

// tPool2d pools x [N, C, H, W] with a square window: the maximum over the
// in-range elements (max) or the sum over the window divided by its full
// size, padding counting as zeros (avg).
func tPool2d(x *nd, kernel, stride, pad int, isMax bool) *nd {
	n, c, h, w := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	oh := (h+2*pad-kernel)/stride + 1
	ow := (w+2*pad-kernel)/stride + 1
	out := zeros(n, c, oh, ow)
	for pl := 0; pl < n*c; pl++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				best, sum := math.Inf(-1), 0.0
				for r := 0; r < kernel; r++ {
					for s := 0; s < kernel; s++ {
						iy, ix := oy*stride+r-pad, ox*stride+s-pad
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						v := x.d[(pl*h+iy)*w+ix]
						sum += v
						best = math.Max(best, v)
					}
				}
				if isMax {
					out.d[(pl*oh+oy)*ow+ox] = best
				} else {
					out.d[(pl*oh+oy)*ow+ox] = sum / float64(kernel*kernel)
				}
			}
		}
	}
	return out
}

// tGlobalAvgPool averages [N, C, H, W] over H and W.
func tGlobalAvgPool(x *nd) *nd {
	n, c := x.shape[0], x.shape[1]
	inner := len(x.d) / (n * c)
	out := zeros(n, c)
	for r := 0; r < n*c; r++ {
		for j := 0; j < inner; j++ {
			out.d[r] += x.d[r*inner+j]
		}
		out.d[r] /= float64(inner)
	}
	return out
}

// tSoftmax is the (log-)softmax of each row of the last dimension. A row of
// only -Inf gives zeros (softmax) or -Inf (log-softmax), the convention of
// the production kernel.
func tSoftmax(a *nd, log bool) *nd {
	d := a.shape[len(a.shape)-1]
	out := a.clone()
	for r := 0; r < len(a.d)/d; r++ {
		row := a.d[r*d : (r+1)*d]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		if math.IsInf(m, -1) {
			for j := range row {
				if log {
					out.d[r*d+j] = math.Inf(-1)
				} else {
					out.d[r*d+j] = 0
				}
			}
			continue
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(v - m)
		}
		for j, v := range row {
			if log {
				out.d[r*d+j] = v - m - math.Log(s)
			} else {
				out.d[r*d+j] = math.Exp(v-m) / s
			}
		}
	}
	return out
}

// tCrossEntropy is the mean over rows of the label-smoothed negative
// log-likelihood: target distribution (1-eps)*onehot + eps/C.
func tCrossEntropy(logits *nd, targets []int, eps float64) *nd {
	c := logits.shape[1]
	lp := tSoftmax(logits, true)
	out := zeros()
	for i, t := range targets {
		for j := 0; j < c; j++ {
			q := eps / float64(c)
			if j == t {
				q += 1 - eps
			}
			out.d[0] -= q * lp.d[i*c+j]
		}
	}
	out.d[0] /= float64(len(targets))
	return out
}

// tL2Normalize divides each row by max(norm, eps).
func tL2Normalize(x *nd, eps float64) *nd {
	d := x.shape[len(x.shape)-1]
	out := x.clone()
	for r := 0; r < len(x.d)/d; r++ {
		s := 0.0
		for _, v := range x.d[r*d : (r+1)*d] {
			s += v * v
		}
		den := math.Max(math.Sqrt(s), eps)
		for j := 0; j < d; j++ {
			out.d[r*d+j] = x.d[r*d+j] / den
		}
	}
	return out
}

// tCosine is the matrix of cosine similarities of the rows of a and b.
func tCosine(a, b *nd) *nd {
	return tMatMul(tL2Normalize(a, 1e-8), tL2Normalize(b, 1e-8), false, true)
}

// gelu64 is x*Phi(x) with the exact normal CDF.
func gelu64(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

// sigmoid64 is the logistic function.
func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// tAttention is multi-head self-attention on packed projections qkv
// [B, T, 3D] (queries, keys, values side by side, head h in columns
// h*hd..(h+1)*hd of each): out[b, i, h*hd+e] = sum_j p_ij v_je with p the
// softmax over j of q_i . k_j / sqrt(hd).
func tAttention(qkv *nd, heads int) *nd {
	b, t, d := qkv.shape[0], qkv.shape[1], qkv.shape[2]/3
	hd := d / heads
	at := func(bi, i, col int) float64 { return qkv.d[(bi*t+i)*3*d+col] }
	out := zeros(b, t, d)
	for bi := 0; bi < b; bi++ {
		for h := 0; h < heads; h++ {
			for i := 0; i < t; i++ {
				s := make([]float64, t)
				m := math.Inf(-1)
				for j := range s {
					for e := 0; e < hd; e++ {
						s[j] += at(bi, i, h*hd+e) * at(bi, j, d+h*hd+e)
					}
					s[j] /= math.Sqrt(float64(hd))
					m = math.Max(m, s[j])
				}
				z := 0.0
				for j := range s {
					s[j] = math.Exp(s[j] - m)
					z += s[j]
				}
				for e := 0; e < hd; e++ {
					v := 0.0
					for j := range s {
						v += s[j] / z * at(bi, j, 2*d+h*hd+e)
					}
					out.d[(bi*t+i)*d+h*hd+e] = v
				}
			}
		}
	}
	return out
}
