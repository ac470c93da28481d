package autograd

import "selfsup/tensor"

// UpsampleNearest enlarges x [N, C, H, W] to [N, C, H*factor, W*factor] by
// repeating every value over a factor x factor block (PyTorch's
// F.interpolate(mode="nearest") with an integer scale factor). Decoders use
// it where the papers use a transposed convolution or unpooling: nearest
// upsampling followed by a convolution learns the same maps. The gradient
// of an input value is the sum of the gradients over its block.
func UpsampleNearest(x *Var, factor int) *Var {
	checkDims("UpsampleNearest", "input", x, 4)
	if factor < 1 {
		panic(opErr("UpsampleNearest", "factor %d must be at least 1", factor))
	}
	xs := x.Value.Shape()
	planes, h, w := xs[0]*xs[1], xs[2], xs[3]
	oh, ow := h*factor, w*factor
	out := tensor.Buffers.Get(xs[0], xs[1], oh, ow)
	src, dst := x.Value.Data, out.Data
	tensor.ParallelFor(planes, max(1, 4096/(oh*ow)), func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			in, o := src[p*h*w:(p+1)*h*w], dst[p*oh*ow:(p+1)*oh*ow]
			for y := range h {
				row := o[y*factor*ow : (y*factor+1)*ow]
				for x, v := range in[y*w : (y+1)*w] {
					for k := range factor {
						row[x*factor+k] = v
					}
				}
				for k := 1; k < factor; k++ {
					copy(o[(y*factor+k)*ow:(y*factor+k+1)*ow], row)
				}
			}
		}
	})
	return newResult("UpsampleNearest", out, []*Var{x}, func(res *Var) func() {
		return func() {
			g := res.Grad.Data
			dstT, acc := x.gradDst()
			d := dstT.Data
			tensor.ParallelFor(planes, max(1, 4096/(oh*ow)), func(_, lo, hi int) {
				for p := lo; p < hi; p++ {
					gin, gout := d[p*h*w:(p+1)*h*w], g[p*oh*ow:(p+1)*oh*ow]
					if !acc {
						clear(gin)
					}
					for oy := range oh {
						row := gout[oy*ow : (oy+1)*ow]
						dst := gin[(oy/factor)*w : (oy/factor+1)*w]
						for x := range dst {
							var s float32
							for _, v := range row[x*factor : (x+1)*factor] {
								s += v
							}
							dst[x] += s
						}
					}
				}
			})
		}
	})
}
