package tensor

import (
	"fmt"
)

// ConvParams describes a 2-D convolution (cross-correlation, as in PyTorch)
// of x [N, C, H, W] with weights [K, C, R, S], stride and zero padding equal
// in both directions, groups = 1.
type ConvParams struct {
	N, C, H, W int // input
	K, R, S    int // output channels, kernel height and width
	Stride     int
	Pad        int
}

// Out returns the output height and width.
func (p ConvParams) Out() (oh, ow int) {
	return (p.H+2*p.Pad-p.R)/p.Stride + 1, (p.W+2*p.Pad-p.S)/p.Stride + 1
}

// Validate reports a readable error for impossible parameters.
func (p ConvParams) Validate() error {
	if p.N < 0 || p.C <= 0 || p.H <= 0 || p.W <= 0 || p.K <= 0 || p.R <= 0 || p.S <= 0 {
		return fmt.Errorf("conv2d: non-positive size in %+v", p)
	}
	if p.Stride < 1 || p.Pad < 0 {
		return fmt.Errorf("conv2d: stride %d / padding %d", p.Stride, p.Pad)
	}
	if oh, ow := p.Out(); oh < 1 || ow < 1 {
		return fmt.Errorf("conv2d: kernel %dx%d with padding %d does not fit input %dx%d", p.R, p.S, p.Pad, p.H, p.W)
	}
	return nil
}

// convChunk is how many images one worker treats as one GEMM: enough output
// pixels for full-width micro-tiles, few enough that the column buffer stays
// in cache.
func (p ConvParams) convChunk() int {
	oh, ow := p.Out()
	ohw := oh * ow
	chunk := max(1, (256+ohw-1)/ohw)
	if per := (p.N + Workers() - 1) / Workers(); chunk > per {
		chunk = max(1, per)
	}
	return chunk
}

// isPointwise reports a 1x1, stride-1, unpadded convolution, whose column
// matrix is the input itself.
func (p ConvParams) isPointwise() bool {
	return p.R == 1 && p.S == 1 && p.Stride == 1 && p.Pad == 0
}

// im2col writes the column matrix of images [n0, n0+cnt) of x into col,
// laid out [C*R*S, cnt*OH*OW]: row (c, r, s), column (image, oy, ox).
func (p ConvParams) im2col(x, col []float32, n0, cnt int) {
	oh, ow := p.Out()
	ohw := oh * ow
	P := cnt * ohw
	hw := p.H * p.W
	for c := 0; c < p.C; c++ {
		for r := 0; r < p.R; r++ {
			for s := 0; s < p.S; s++ {
				row := col[((c*p.R+r)*p.S+s)*P : ((c*p.R+r)*p.S+s+1)*P]
				for i := 0; i < cnt; i++ {
					plane := x[((n0+i)*p.C+c)*hw : ((n0+i)*p.C+c+1)*hw]
					dst := row[i*ohw : (i+1)*ohw]
					im2colPlane(plane, dst, p.H, p.W, oh, ow, r-p.Pad, s-p.Pad, p.Stride)
				}
			}
		}
	}
}

// im2colPlane fills dst[oy*ow+ox] = plane[oy*stride+dy][ox*stride+dx] (0
// outside the plane).
func im2colPlane(plane, dst []float32, h, w, oh, ow, dy, dx, stride int) {
	// valid ox range: 0 <= ox*stride+dx < w
	oxLo := 0
	if dx < 0 {
		oxLo = (-dx + stride - 1) / stride
	}
	oxHi := ow
	if lim := (w - dx + stride - 1) / stride; lim < oxHi {
		oxHi = max(lim, 0)
	}
	for oy := 0; oy < oh; oy++ {
		out := dst[oy*ow : (oy+1)*ow]
		iy := oy*stride + dy
		if iy < 0 || iy >= h || oxLo >= oxHi {
			clear(out)
			continue
		}
		src := plane[iy*w : (iy+1)*w]
		clear(out[:oxLo])
		clear(out[oxHi:])
		if stride == 1 {
			copy(out[oxLo:oxHi], src[oxLo+dx:oxHi+dx])
			continue
		}
		for ox := oxLo; ox < oxHi; ox++ {
			out[ox] = src[ox*stride+dx]
		}
	}
}

// col2im adds the column matrix col (layout as im2col) into images
// [n0, n0+cnt) of dx.
func (p ConvParams) col2im(col, dx []float32, n0, cnt int) {
	oh, ow := p.Out()
	ohw := oh * ow
	P := cnt * ohw
	hw := p.H * p.W
	for c := 0; c < p.C; c++ {
		for r := 0; r < p.R; r++ {
			for s := 0; s < p.S; s++ {
				row := col[((c*p.R+r)*p.S+s)*P : ((c*p.R+r)*p.S+s+1)*P]
				for i := 0; i < cnt; i++ {
					plane := dx[((n0+i)*p.C+c)*hw : ((n0+i)*p.C+c+1)*hw]
					src := row[i*ohw : (i+1)*ohw]
					for oy := 0; oy < oh; oy++ {
						iy := oy*p.Stride + r - p.Pad
						if iy < 0 || iy >= p.H {
							continue
						}
						prow := plane[iy*p.W : (iy+1)*p.W]
						srow := src[oy*ow : (oy+1)*ow]
						for ox, v := range srow {
							ix := ox*p.Stride + s - p.Pad
							if ix >= 0 && ix < p.W {
								prow[ix] += v
							}
						}
					}
				}
			}
		}
	}
}

func checkLen(op, name string, s []float32, n int) {
	if len(s) < n {
		panic(fmt.Sprintf("tensor.%s: %s has %d elements, needs %d", op, name, len(s), n))
	}
}

// Conv2dForward computes out = conv(x, w) + bias (bias may be nil) for
// x [N,C,H,W], w [K,C,R,S], out [N,K,OH,OW]. With accumulate the result is
// added to out instead of replacing it. Images are spread over the workers
// in chunks; each worker builds its chunk's column matrix and runs a serial
// GEMM, so the column buffer stays in its core's cache.
func Conv2dForward(p ConvParams, x, w, bias, out []float32, accumulate bool) {
	if err := p.Validate(); err != nil {
		panic("tensor.Conv2dForward: " + err.Error())
	}
	oh, ow := p.Out()
	ohw := oh * ow
	crs := p.C * p.R * p.S
	checkLen("Conv2dForward", "x", x, p.N*p.C*p.H*p.W)
	checkLen("Conv2dForward", "w", w, p.K*crs)
	checkLen("Conv2dForward", "out", out, p.N*p.K*ohw)
	if bias != nil {
		checkLen("Conv2dForward", "bias", bias, p.K)
	}
	chunk := p.convChunk()
	nChunks := (p.N + chunk - 1) / chunk
	sc := newConvScratch()
	defer sc.release()
	ParallelFor(nChunks, 1, func(worker, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			n0 := ch * chunk
			cnt := min(chunk, p.N-n0)
			P := cnt * ohw
			var col []float32
			if p.isPointwise() && cnt == 1 {
				col = x[n0*crs*ohw : (n0+1)*crs*ohw]
			} else {
				col = sc.get(worker, 0, crs*P)
				p.im2col(x, col, n0, cnt)
			}
			if cnt == 1 {
				dst := out[n0*p.K*ohw : (n0+1)*p.K*ohw]
				beta := float32(0)
				if accumulate {
					beta = 1
				}
				GemmSerial(false, false, p.K, P, crs, 1, w, crs, col, P, beta, dst, P)
				if bias != nil {
					addBiasRows(dst, bias, p.K, ohw)
				}
				continue
			}
			tmp := sc.get(worker, 1, p.K*P)
			GemmSerial(false, false, p.K, P, crs, 1, w, crs, col, P, 0, tmp, P)
			for i := 0; i < cnt; i++ {
				for k := 0; k < p.K; k++ {
					src := tmp[k*P+i*ohw : k*P+(i+1)*ohw]
					dst := out[((n0+i)*p.K+k)*ohw : ((n0+i)*p.K+k+1)*ohw]
					var b float32
					if bias != nil {
						b = bias[k]
					}
					if accumulate {
						for j, v := range src {
							dst[j] += v + b
						}
					} else if b != 0 {
						for j, v := range src {
							dst[j] = v + b
						}
					} else {
						copy(dst, src)
					}
				}
			}
		}
	})
}

func addBiasRows(dst, bias []float32, rows, n int) {
	for k := 0; k < rows; k++ {
		b := bias[k]
		row := dst[k*n : (k+1)*n]
		for j := range row {
			row[j] += b
		}
	}
}

// Conv2dBackwardData computes dx (= or += when accumulate) the gradient of
// the convolution with respect to its input. Stride-1 convolutions run as a
// forward convolution of dy with the flipped, transposed weights (no
// col2im); strided ones as a GEMM into a column matrix and col2im.
func Conv2dBackwardData(p ConvParams, dy, w, dx []float32, accumulate bool) {
	if err := p.Validate(); err != nil {
		panic("tensor.Conv2dBackwardData: " + err.Error())
	}
	oh, ow := p.Out()
	ohw := oh * ow
	crs := p.C * p.R * p.S
	checkLen("Conv2dBackwardData", "dy", dy, p.N*p.K*ohw)
	checkLen("Conv2dBackwardData", "w", w, p.K*crs)
	checkLen("Conv2dBackwardData", "dx", dx, p.N*p.C*p.H*p.W)
	if p.Stride == 1 && p.R == p.S && p.Pad <= p.R-1 {
		// dx = conv(dy, w') with w'[c,k,r,s] = w[k,c,R-1-r,S-1-s], pad' = R-1-pad.
		wt := Buffers.Get(p.C, p.K, p.R, p.S)
		rs := p.R * p.S
		for k := 0; k < p.K; k++ {
			for c := 0; c < p.C; c++ {
				src := w[(k*p.C+c)*rs : (k*p.C+c+1)*rs]
				dst := wt.Data[(c*p.K+k)*rs : (c*p.K+k+1)*rs]
				for i, v := range src {
					dst[rs-1-i] = v
				}
			}
		}
		q := ConvParams{N: p.N, C: p.K, H: oh, W: ow, K: p.C, R: p.R, S: p.S, Stride: 1, Pad: p.R - 1 - p.Pad}
		Conv2dForward(q, dy, wt.Data, nil, dx, accumulate)
		Buffers.Put(wt)
		return
	}
	if !accumulate {
		clear(dx[:p.N*p.C*p.H*p.W])
	}
	chunk := p.convChunk()
	nChunks := (p.N + chunk - 1) / chunk
	sc := newConvScratch()
	defer sc.release()
	ParallelFor(nChunks, 1, func(worker, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			n0 := ch * chunk
			cnt := min(chunk, p.N-n0)
			P := cnt * ohw
			dyc := gatherChunk(sc, worker, dy, p.K, ohw, n0, cnt)
			col := sc.get(worker, 0, crs*P)
			GemmSerial(true, false, crs, P, p.K, 1, w, crs, dyc, P, 0, col, P)
			p.col2im(col, dx, n0, cnt)
		}
	})
}

// gatherChunk returns images [n0, n0+cnt) of t [N, rows, ohw] as one
// [rows, cnt*ohw] matrix (a view when cnt == 1).
func gatherChunk(sc *convScratch, worker int, t []float32, rows, ohw, n0, cnt int) []float32 {
	if cnt == 1 {
		return t[n0*rows*ohw : (n0+1)*rows*ohw]
	}
	P := cnt * ohw
	buf := sc.get(worker, 2, rows*P)
	for i := 0; i < cnt; i++ {
		for k := 0; k < rows; k++ {
			copy(buf[k*P+i*ohw:k*P+(i+1)*ohw], t[((n0+i)*rows+k)*ohw:((n0+i)*rows+k+1)*ohw])
		}
	}
	return buf
}

// Conv2dBackwardWeight computes dw (and dbias when non-nil), replacing or
// accumulating, from the input x and the output gradient dy. Each worker
// accumulates a transposed partial dW^T [C*R*S, K] = col * dy^T over its
// images; the partials are summed and transposed at the end.
func Conv2dBackwardWeight(p ConvParams, x, dy, dw, dbias []float32, accumulate bool) {
	if err := p.Validate(); err != nil {
		panic("tensor.Conv2dBackwardWeight: " + err.Error())
	}
	oh, ow := p.Out()
	ohw := oh * ow
	crs := p.C * p.R * p.S
	checkLen("Conv2dBackwardWeight", "x", x, p.N*p.C*p.H*p.W)
	checkLen("Conv2dBackwardWeight", "dy", dy, p.N*p.K*ohw)
	checkLen("Conv2dBackwardWeight", "dw", dw, p.K*crs)
	chunk := p.convChunk()
	nChunks := (p.N + chunk - 1) / chunk
	workers := min(Workers(), nChunks)
	partial := Buffers.Get(workers, crs*p.K)
	used := make([]bool, workers)
	sc := newConvScratch()
	defer sc.release()
	ParallelFor(nChunks, 1, func(worker, lo, hi int) {
		acc := partial.Data[worker*crs*p.K : (worker+1)*crs*p.K]
		used[worker] = true
		for ch := lo; ch < hi; ch++ {
			n0 := ch * chunk
			cnt := min(chunk, p.N-n0)
			P := cnt * ohw
			var col []float32
			if p.isPointwise() && cnt == 1 {
				col = x[n0*crs*ohw : (n0+1)*crs*ohw]
			} else {
				col = sc.get(worker, 0, crs*P)
				p.im2col(x, col, n0, cnt)
			}
			dyc := gatherChunk(sc, worker, dy, p.K, ohw, n0, cnt)
			beta := float32(1)
			if ch == lo {
				beta = 0
			}
			GemmSerial(false, true, crs, p.K, P, 1, col, P, dyc, P, beta, acc, p.K)
		}
	})
	// dw[k][j] (+)= sum_w partial[w][j][k]
	for k := 0; k < p.K; k++ {
		row := dw[k*crs : (k+1)*crs]
		for j := range row {
			var s float32
			for wk := 0; wk < workers; wk++ {
				if used[wk] {
					s += partial.Data[wk*crs*p.K+j*p.K+k]
				}
			}
			if accumulate {
				row[j] += s
			} else {
				row[j] = s
			}
		}
	}
	Buffers.Put(partial)
	if dbias != nil {
		checkLen("Conv2dBackwardWeight", "dbias", dbias, p.K)
		SumChannels(dy, p.N, p.K, ohw, dbias, accumulate)
	}
}

// SumChannels computes dst[k] (+)= sum over n and i of t[n][k][i] for t of
// shape [N, K, inner].
func SumChannels(t []float32, n, k, inner int, dst []float32, accumulate bool) {
	for c := 0; c < k; c++ {
		var s float32
		for i := 0; i < n; i++ {
			for _, v := range t[(i*k+c)*inner : (i*k+c+1)*inner] {
				s += v
			}
		}
		if accumulate {
			dst[c] += s
		} else {
			dst[c] = s
		}
	}
}

// convScratch hands out per-worker scratch buffers from the pool.
type convScratch struct {
	bufs [][3]*Tensor
}

func newConvScratch() *convScratch {
	return &convScratch{bufs: make([][3]*Tensor, Workers())}
}

func (s *convScratch) get(worker, slot, n int) []float32 {
	t := s.bufs[worker][slot]
	if t == nil || len(t.Data) < n {
		if t != nil {
			Buffers.Put(t)
		}
		t = Buffers.Get(n)
		s.bufs[worker][slot] = t
	}
	return t.Data[:n]
}

func (s *convScratch) release() {
	for _, b := range s.bufs {
		for _, t := range b {
			Buffers.Put(t)
		}
	}
}
