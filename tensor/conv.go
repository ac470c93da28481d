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

// convChunkCtx is one worker's view of a chunk of images: the (padded)
// input, and the mapping from the chunk's pixel columns to input offsets.
type convChunkCtx struct {
	p          ConvParams
	oh, ow     int
	hp, wp     int       // padded input height and width
	xin        []float32 // cnt padded images [cnt, C, hp, wp]
	cnt        int
	planeP     int // hp*wp
	imageP     int // C*hp*wp
	segs       []convSeg
	segScratch []convSeg
}

// convSeg is a run of output pixels in one output row: columns
// [j, j+n) of the chunk read input offsets src, src+stride, ... (for the
// channel-0, tap-(0,0) row; a tap adds c*planeP + r*wp + s).
type convSeg struct {
	j, n, src int
}

// prepare pads images [n0, n0+cnt) of x into the worker's buffer (or uses x
// directly when there is no padding).
func (q *convChunkCtx) prepare(p ConvParams, x []float32, n0, cnt int, buf func(n int) []float32) {
	q.p = p
	q.oh, q.ow = p.Out()
	q.cnt = cnt
	q.hp, q.wp = p.H+2*p.Pad, p.W+2*p.Pad
	q.planeP = q.hp * q.wp
	q.imageP = p.C * q.planeP
	if p.Pad == 0 {
		q.xin = x[n0*q.imageP : (n0+cnt)*q.imageP]
		return
	}
	xp := buf(cnt * q.imageP)
	hw := p.H * p.W
	for i := 0; i < cnt; i++ {
		for c := 0; c < p.C; c++ {
			src := x[((n0+i)*p.C+c)*hw : ((n0+i)*p.C+c+1)*hw]
			dst := xp[(i*p.C+c)*q.planeP : (i*p.C+c+1)*q.planeP]
			clear(dst[:p.Pad*q.wp])
			for y := 0; y < p.H; y++ {
				row := dst[(y+p.Pad)*q.wp : (y+p.Pad+1)*q.wp]
				clear(row[:p.Pad])
				copy(row[p.Pad:p.Pad+p.W], src[y*p.W:(y+1)*p.W])
				clear(row[p.Pad+p.W:])
			}
			clear(dst[(p.H+p.Pad)*q.wp:])
		}
	}
	q.xin = xp
}

// segments lists the output-row runs covering chunk columns [j0, j0+n),
// split so that no run crosses a multiple of split (a micro-panel edge).
func (q *convChunkCtx) segments(j0, n, split int) []convSeg {
	segs := q.segScratch[:0]
	ohw := q.oh * q.ow
	st := q.p.Stride
	for j := j0; j < j0+n; {
		i, pix := j/ohw, j%ohw
		oy, ox := pix/q.ow, pix%q.ow
		run := min(q.ow-ox, j0+n-j)
		if split > 0 {
			run = min(run, split-(j-j0)%split)
		}
		segs = append(segs, convSeg{j: j - j0, n: run, src: i*q.imageP + oy*st*q.wp + ox*st})
		j += run
	}
	q.segScratch = segs
	return segs
}

// tapOffset is the input offset of column-matrix row k = (c, r, s).
func (q *convChunkCtx) tapOffset(k int) int {
	rs := q.p.R * q.p.S
	c, t := k/rs, k%rs
	return c*q.planeP + (t/q.p.S)*q.wp + t%q.p.S
}

// packColB writes rows [pc, pc+kb) x columns [jc, jc+nb) of the chunk's
// column matrix as NR-column micro-panels (the B operand of W*col).
func (q *convChunkCtx) packColB(pc, jc, kb, nb, nr int, dst []float32) []float32 {
	segs := q.segments(jc, nb, nr)
	st := q.p.Stride
	for kk := 0; kk < kb; kk++ {
		off := q.tapOffset(pc + kk)
		for _, sg := range segs {
			d := dst[(sg.j/nr)*nr*kb+kk*nr+sg.j%nr:]
			d = d[:sg.n]
			src := q.xin[off+sg.src:]
			if st == 1 {
				copy(d, src[:sg.n])
				continue
			}
			for t := range d {
				d[t] = src[t*st]
			}
		}
	}
	return dst
}

// packColA writes rows [ic, ic+mb) x columns [pc, pc+kb) of the chunk's
// column matrix as MR-row micro-panels (the A operand of col*dy^T). It fills
// each panel in storage order, MR taps per pixel, so the writes are
// sequential.
func (q *convChunkCtx) packColA(ic, pc, mb, kb, mr int, dst []float32) []float32 {
	segs := q.segments(pc, kb, 0)
	st := q.p.Stride
	var offs [16]int
	for r0 := 0; r0 < mb; r0 += mr {
		rows := min(mr, mb-r0)
		for i := 0; i < rows; i++ {
			offs[i] = q.tapOffset(ic + r0 + i)
		}
		panel := dst[r0*kb : r0*kb+mr*kb]
		if rows < mr {
			clear(panel)
		}
		for _, sg := range segs {
			d := panel[sg.j*mr : (sg.j+sg.n)*mr]
			if rows == 6 && mr == 6 {
				o0, o1, o2, o3, o4, o5 := offs[0]+sg.src, offs[1]+sg.src, offs[2]+sg.src, offs[3]+sg.src, offs[4]+sg.src, offs[5]+sg.src
				x := q.xin
				for t := 0; t < sg.n; t++ {
					e := d[t*6 : t*6+6 : t*6+6]
					u := t * st
					e[0], e[1], e[2], e[3], e[4], e[5] = x[o0+u], x[o1+u], x[o2+u], x[o3+u], x[o4+u], x[o5+u]
				}
				continue
			}
			for t := 0; t < sg.n; t++ {
				for i := 0; i < rows; i++ {
					d[t*mr+i] = q.xin[offs[i]+sg.src+t*st]
				}
			}
		}
	}
	return dst
}

// Conv2dForward computes out = conv(x, w) + bias (bias may be nil) for
// x [N,C,H,W], w [K,C,R,S], out [N,K,OH,OW]. With accumulate the result is
// added to out instead of replacing it. The weights are packed once; the
// images are spread over the workers in chunks, and each worker packs its
// chunk's column matrix straight from the (padded) images into the GEMM's
// micro-panel layout, so no separate column matrix is ever written.
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
	kr := active
	pw := newPrepackedA(&kr, false, p.K, crs, 1, w, crs)
	defer pw.release()
	chunk := p.convChunk()
	nChunks := (p.N + chunk - 1) / chunk
	sc := newConvScratch()
	defer sc.release()
	ParallelFor(nChunks, 1, func(worker, lo, hi int) {
		var q convChunkCtx
		for ch := lo; ch < hi; ch++ {
			n0 := ch * chunk
			cnt := min(chunk, p.N-n0)
			P := cnt * ohw
			q.prepare(p, x, n0, cnt, func(n int) []float32 { return sc.get(worker, 0, n) })
			opB := func(pc, jc, kb, nb int, dst []float32) []float32 { return q.packColB(pc, jc, kb, nb, kr.nr, dst) }
			if cnt == 1 {
				dst := out[n0*p.K*ohw : (n0+1)*p.K*ohw]
				gemmCore(&kr, p.K, P, crs, pw.operand(), opB, dst, P, accumulate)
				if bias != nil {
					addBiasRows(dst, bias, p.K, ohw)
				}
				continue
			}
			tmp := sc.get(worker, 1, p.K*P)
			gemmCore(&kr, p.K, P, crs, pw.operand(), opB, tmp, P, false)
			for i := 0; i < cnt; i++ {
				for k := 0; k < p.K; k++ {
					src := tmp[k*P+i*ohw : k*P+(i+1)*ohw]
					dst := out[((n0+i)*p.K+k)*ohw : ((n0+i)*p.K+k+1)*ohw]
					var b float32
					if bias != nil {
						b = bias[k]
					}
					switch {
					case accumulate:
						for j, v := range src {
							dst[j] += v + b
						}
					case b != 0:
						for j, v := range src {
							dst[j] = v + b
						}
					default:
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
	kr := active
	pw := newPrepackedA(&kr, true, crs, p.K, 1, w, crs)
	defer pw.release()
	chunk := p.convChunk()
	nChunks := (p.N + chunk - 1) / chunk
	sc := newConvScratch()
	defer sc.release()
	ParallelFor(nChunks, 1, func(worker, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			n0 := ch * chunk
			cnt := min(chunk, p.N-n0)
			P := cnt * ohw
			// B = dy of the chunk as [K, P]: row k, column (image, pixel)
			opB := func(pc, jc, kb, nb int, dst []float32) []float32 {
				nr := kr.nr
				for kk := 0; kk < kb; kk++ {
					for j := jc; j < jc+nb; {
						i, pix := j/ohw, j%ohw
						run := min(ohw-pix, jc+nb-j, nr-(j-jc)%nr)
						jj := j - jc
						src := dy[((n0+i)*p.K+pc+kk)*ohw+pix:]
						copy(dst[(jj/nr)*nr*kb+kk*nr+jj%nr:][:run], src[:run])
						j += run
					}
				}
				return dst
			}
			col := sc.get(worker, 0, crs*P)
			gemmCore(&kr, crs, P, p.K, pw.operand(), opB, col, P, false)
			p.col2im(col, dx, n0, cnt)
		}
	})
}

// Conv2dBackwardWeight computes dw (and dbias when non-nil), replacing or
// accumulating, from the input x and the output gradient dy. Each worker
// accumulates a transposed partial dW^T [C*R*S, K] = col * dy^T over its
// images, with both operands packed straight from the images; the partials
// are summed and transposed at the end.
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
	kr := active
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
		var q convChunkCtx
		for ch := lo; ch < hi; ch++ {
			n0 := ch * chunk
			cnt := min(chunk, p.N-n0)
			P := cnt * ohw
			q.prepare(p, x, n0, cnt, func(n int) []float32 { return sc.get(worker, 0, n) })
			opA := func(ic, pc, mb, kb int, dst []float32) []float32 { return q.packColA(ic, pc, mb, kb, kr.mr, dst) }
			// B = dy^T of the chunk: row = pixel column of the chunk, column = output channel
			opB := func(pc, jc, kb, nb int, dst []float32) []float32 {
				nr := kr.nr
				for co := jc; co < jc+nb; co++ {
					cj := co - jc
					panel := dst[(cj/nr)*nr*kb+cj%nr:]
					for j := pc; j < pc+kb; {
						i, pix := j/ohw, j%ohw
						run := min(ohw-pix, pc+kb-j)
						src := dy[((n0+i)*p.K+co)*ohw+pix:][:run]
						d := panel[(j-pc)*nr:]
						for t, v := range src {
							d[t*nr] = v
						}
						j += run
					}
				}
				return dst
			}
			gemmCore(&kr, crs, p.K, P, opA, opB, acc, p.K, ch != lo)
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
