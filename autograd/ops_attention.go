package autograd

import (
	"math"

	"selfsup/tensor"
)

// Attention is multi-head scaled dot-product self-attention on packed
// projections. qkv [B, T, 3D] holds each token's queries, keys and values
// side by side, each D = heads*hd wide with head h in columns h*hd to
// (h+1)*hd (the layout of PyTorch's fused in-projection and of timm's
// qkv Linear). The result [B, T, D] holds, in head h's columns,
// softmax(q k^T / sqrt(hd)) v of that head.
//
// It is one op instead of the reshape, permute, split, matmul, scale,
// softmax, matmul and permute chain: the products read q, k and v in place
// through their leading dimension and write into the output's columns, so
// neither pass copies qkv or the context, and only the attention
// probabilities [B*heads, T, T] are kept for the backward pass.
func Attention(qkv *Var, heads int) *Var {
	s := qkv.Value.Shape()
	if len(s) != 3 || heads < 1 || s[2]%(3*heads) != 0 {
		panic(opErr("Attention", "qkv must be [B, T, 3*D] with D divisible by %d heads, got %v", heads, s))
	}
	b, t, d3 := s[0], s[1], s[2]
	d := d3 / 3
	hd := d / heads
	scale := float32(1 / math.Sqrt(float64(hd)))
	// offsets of task i's (head i%heads of image i/heads) queries in qkv
	// (its keys and values follow at +d and +2d) and of its context in out
	offsets := func(i int) (q, o int) {
		img, h := i/heads, i%heads
		return img*t*d3 + h*hd, img*t*d + h*hd
	}
	x := qkv.Value.Data
	out := tensor.Buffers.Get(b, t, d)
	probs := tensor.Buffers.Get(b*heads, t, t)
	tensor.ParallelFor(b*heads, 1, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			q, o := offsets(i)
			p := probs.Data[i*t*t : (i+1)*t*t]
			tensor.GemmSerial(false, true, t, t, hd, scale, x[q:], d3, x[q+d:], d3, 0, p, t)
			tensor.SoftmaxRowsSerial(p, p, t, t, false)
			tensor.GemmSerial(false, false, t, hd, t, 1, p, t, x[q+2*d:], d3, 0, out.Data[o:], d)
		}
	})
	res := newResult("Attention", out, []*Var{qkv}, func(res *Var) func() {
		return func() {
			dst, acc := qkv.gradDst()
			dx, g := dst.Data, res.Grad.Data
			beta := betaOf(acc)
			tensor.ParallelFor(b*heads, 1, func(_, lo, hi int) {
				ds := tensor.Buffers.Get(t, t)
				defer tensor.Buffers.Put(ds)
				for i := lo; i < hi; i++ {
					q, o := offsets(i)
					p := probs.Data[i*t*t : (i+1)*t*t]
					// dP = dO V^T, dV = P^T dO
					tensor.GemmSerial(false, true, t, t, hd, 1, g[o:], d, x[q+2*d:], d3, 0, ds.Data, t)
					tensor.GemmSerial(true, false, t, hd, t, 1, p, t, g[o:], d, beta, dx[q+2*d:], d3)
					// through the softmax: dS = P (dP - rowsum(P dP))
					tensor.SoftmaxBackwardRows(p, ds.Data, ds.Data, t, t, false)
					// S = scale Q K^T: dQ = scale dS K, dK = scale dS^T Q
					tensor.GemmSerial(false, false, t, hd, t, scale, ds.Data, t, x[q+d:], d3, beta, dx[q:], d3)
					tensor.GemmSerial(true, false, t, hd, t, scale, ds.Data, t, x[q:], d3, beta, dx[q+d:], d3)
				}
			})
		}
	})
	if res.backward == nil {
		tensor.Buffers.Put(probs)
	} else {
		res.save(probs)
	}
	return res
}
