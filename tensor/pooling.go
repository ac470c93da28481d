package tensor

import "math"

// PoolParams describes max or average pooling over x [N, C, H, W] with a
// square window, stride and zero padding (padding never wins a max, and
// average pooling divides by the full window, as PyTorch's default
// count_include_pad=True).
type PoolParams struct {
	N, C, H, W  int
	Kernel      int
	Stride, Pad int
}

// Out returns the output height and width.
func (p PoolParams) Out() (oh, ow int) {
	return (p.H+2*p.Pad-p.Kernel)/p.Stride + 1, (p.W+2*p.Pad-p.Kernel)/p.Stride + 1
}

// MaxPoolForward writes the window maxima to out and the flat input index
// (within its plane) of each maximum to arg, for the backward pass.
func MaxPoolForward(p PoolParams, x, out []float32, arg []int32) {
	oh, ow := p.Out()
	hw := p.H * p.W
	ParallelFor(p.N*p.C, 4, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x[pl*hw : (pl+1)*hw]
			dst := out[pl*oh*ow : (pl+1)*oh*ow]
			am := arg[pl*oh*ow : (pl+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					best := float32(math.Inf(-1))
					bi := int32(-1)
					for r := 0; r < p.Kernel; r++ {
						iy := oy*p.Stride + r - p.Pad
						if iy < 0 || iy >= p.H {
							continue
						}
						for s := 0; s < p.Kernel; s++ {
							ix := ox*p.Stride + s - p.Pad
							if ix < 0 || ix >= p.W {
								continue
							}
							if v := src[iy*p.W+ix]; v > best || bi < 0 {
								best, bi = v, int32(iy*p.W+ix)
							}
						}
					}
					dst[oy*ow+ox] = best
					am[oy*ow+ox] = bi
				}
			}
		}
	})
}

// MaxPoolBackward adds dy to the input positions recorded in arg. dx must be
// zeroed (or hold a gradient to accumulate into).
func MaxPoolBackward(p PoolParams, dy, dx []float32, arg []int32) {
	oh, ow := p.Out()
	hw := p.H * p.W
	ParallelFor(p.N*p.C, 4, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			g := dy[pl*oh*ow : (pl+1)*oh*ow]
			am := arg[pl*oh*ow : (pl+1)*oh*ow]
			d := dx[pl*hw : (pl+1)*hw]
			for i, v := range g {
				d[am[i]] += v
			}
		}
	})
}

// AvgPoolForward writes window means to out.
func AvgPoolForward(p PoolParams, x, out []float32) {
	oh, ow := p.Out()
	hw := p.H * p.W
	inv := 1 / float32(p.Kernel*p.Kernel)
	ParallelFor(p.N*p.C, 4, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x[pl*hw : (pl+1)*hw]
			dst := out[pl*oh*ow : (pl+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s float32
					for r := 0; r < p.Kernel; r++ {
						iy := oy*p.Stride + r - p.Pad
						if iy < 0 || iy >= p.H {
							continue
						}
						for q := 0; q < p.Kernel; q++ {
							ix := ox*p.Stride + q - p.Pad
							if ix >= 0 && ix < p.W {
								s += src[iy*p.W+ix]
							}
						}
					}
					dst[oy*ow+ox] = s * inv
				}
			}
		}
	})
}

// AvgPoolBackward spreads dy over the windows into dx (accumulating).
func AvgPoolBackward(p PoolParams, dy, dx []float32) {
	oh, ow := p.Out()
	hw := p.H * p.W
	inv := 1 / float32(p.Kernel*p.Kernel)
	ParallelFor(p.N*p.C, 4, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			g := dy[pl*oh*ow : (pl+1)*oh*ow]
			d := dx[pl*hw : (pl+1)*hw]
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					v := g[oy*ow+ox] * inv
					for r := 0; r < p.Kernel; r++ {
						iy := oy*p.Stride + r - p.Pad
						if iy < 0 || iy >= p.H {
							continue
						}
						for q := 0; q < p.Kernel; q++ {
							ix := ox*p.Stride + q - p.Pad
							if ix >= 0 && ix < p.W {
								d[iy*p.W+ix] += v
							}
						}
					}
				}
			}
		}
	})
}

// RowMeans writes the mean of each length-inner row of x [rows, inner] to
// out (global average pooling of [N, C, H, W] with rows = N*C).
func RowMeans(x, out []float32, rows, inner int) {
	inv := 1 / float32(inner)
	ParallelFor(rows, 64, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			var s float32
			for _, v := range x[r*inner : (r+1)*inner] {
				s += v
			}
			out[r] = s * inv
		}
	})
}

// SpreadRows is RowMeans' backward: dx[r][j] (+)= dy[r] / inner.
func SpreadRows(dy, dx []float32, rows, inner int, accumulate bool) {
	inv := 1 / float32(inner)
	ParallelFor(rows, 64, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			v := dy[r] * inv
			row := dx[r*inner : (r+1)*inner]
			if accumulate {
				for j := range row {
					row[j] += v
				}
			} else {
				for j := range row {
					row[j] = v
				}
			}
		}
	})
}

// ExtractPatches cuts every image of x [N, C, H, W] into a grid of
// overlapping size x size patches, stride apart (row-major), giving
// [N*gh*gw, C, size, size] with gh = (H-size)/stride+1 and likewise gw.
func ExtractPatches(x *Tensor, size, stride int) (out *Tensor, gh, gw int) {
	s := x.Shape()
	n, c, h, w := s[0], s[1], s[2], s[3]
	gh, gw = (h-size)/stride+1, (w-size)/stride+1
	out = Buffers.Get(n*gh*gw, c, size, size)
	for i := 0; i < n; i++ {
		for py := 0; py < gh; py++ {
			for px := 0; px < gw; px++ {
				dst := out.Data[((i*gh+py)*gw+px)*c*size*size:]
				for ch := 0; ch < c; ch++ {
					plane := x.Data[(i*c+ch)*h*w:]
					for y := 0; y < size; y++ {
						copy(dst[(ch*size+y)*size:(ch*size+y+1)*size], plane[(py*stride+y)*w+px*stride:])
					}
				}
			}
		}
	}
	return out, gh, gw
}
