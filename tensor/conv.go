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

// col2im adds the column matrix col (row (c, r, s), column (image, oy,
// ox), as the forward packing reads it) into images [n0, n0+cnt) of dx.
func (p ConvParams) col2im(col, dx []float32, n0, cnt int) {
	oh, ow := p.Out()
	ohw := oh * ow
	P := cnt * ohw
	hw := p.H * p.W
	st := p.Stride
	for c := 0; c < p.C; c++ {
		for r := 0; r < p.R; r++ {
			for s := 0; s < p.S; s++ {
				row := col[((c*p.R+r)*p.S+s)*P : ((c*p.R+r)*p.S+s+1)*P]
				dx0 := s - p.Pad
				// valid ox: 0 <= ox*st + dx0 < W
				oxLo := 0
				if dx0 < 0 {
					oxLo = (-dx0 + st - 1) / st
				}
				oxHi := min(ow, (p.W-dx0+st-1)/st)
				if oxLo >= oxHi {
					continue
				}
				for i := 0; i < cnt; i++ {
					plane := dx[((n0+i)*p.C+c)*hw : ((n0+i)*p.C+c+1)*hw]
					src := row[i*ohw : (i+1)*ohw]
					for oy := 0; oy < oh; oy++ {
						iy := oy*st + r - p.Pad
						if iy < 0 || iy >= p.H {
							continue
						}
						prow := plane[iy*p.W+dx0+oxLo*st:]
						srow := src[oy*ow+oxLo : oy*ow+oxHi]
						if st == 1 {
							prow = prow[:len(srow)]
							for j, v := range srow {
								prow[j] += v
							}
							continue
						}
						for j, v := range srow {
							prow[j*st] += v
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

// convChunkCtx is one worker's view of a chunk of images: the input
// rearranged so that every tap reads contiguous runs, and the mapping from
// the chunk's pixel columns to input offsets.
//
// The input is zero-padded and, for stride s > 1, split into s*s phase
// planes (phase (a, b) holds the padded pixels (s*y+a, s*x+b)): tap (r, c)
// of output pixel (oy, ox) is then pixel (oy + r/s, ox + c/s) of phase
// (r%s, c%s), so consecutive output pixels of a row read consecutive
// inputs whatever the stride, and the packing is a series of plain copies.
type convChunkCtx struct {
	p          ConvParams
	oh, ow     int
	hs, ws     int       // phase-plane height and width
	xin        []float32 // cnt rearranged images [cnt, C, s*s, hs, ws]
	cnt        int
	phaseP     int // hs*ws
	planeP     int // s*s*hs*ws: one channel
	imageP     int // C*planeP
	segScratch []convSeg
	runScratch []int32
}

// convSeg is a run of output pixels in one output row: columns [j, j+n)
// of the chunk read input offsets src, src+1, ... (for the channel-0,
// tap-(0,0) row; a tap adds tapOffset).
type convSeg struct {
	j, n, src int
}

// prepare rearranges images [n0, n0+cnt) of x into the worker's buffer (or
// uses x directly for unpadded stride-1 convolutions).
func (q *convChunkCtx) prepare(p ConvParams, x []float32, n0, cnt int, buf func(n int) []float32) {
	q.p = p
	q.oh, q.ow = p.Out()
	q.cnt = cnt
	st := p.Stride
	hp, wp := p.H+2*p.Pad, p.W+2*p.Pad
	q.hs, q.ws = (hp+st-1)/st, (wp+st-1)/st
	q.phaseP = q.hs * q.ws
	q.planeP = st * st * q.phaseP
	q.imageP = p.C * q.planeP
	if p.Pad == 0 && st == 1 {
		q.xin = x[n0*q.imageP : (n0+cnt)*q.imageP]
		return
	}
	xp := buf(cnt * q.imageP)
	hw := p.H * p.W
	if st == 1 {
		// one run per input row, the same for every plane
		runs := q.runScratch[:0]
		for y := 0; y < p.H; y++ {
			runs = append(runs, int32((y+p.Pad)*q.ws+p.Pad), int32(y*p.W), int32(p.W))
		}
		q.runScratch = runs
		for pl := 0; pl < cnt*p.C; pl++ {
			dst := xp[pl*q.planeP : (pl+1)*q.planeP]
			clear(dst)
			copyRuns(dst, x[(n0*p.C+pl)*hw:(n0*p.C+pl+1)*hw], runs)
		}
		q.xin = xp
		return
	}
	// per phase column b: the first input column that lands there and
	// its place in the phase row (hoisted: integer division is slow)
	var x0s, d0s [8]int
	if st > len(x0s) {
		panic(fmt.Sprintf("tensor: convolution stride %d above %d", st, len(x0s)))
	}
	for b := 0; b < st; b++ {
		x0s[b] = (b - p.Pad%st + st) % st
		d0s[b] = (x0s[b] + p.Pad) / st
	}
	for pl := 0; pl < cnt*p.C; pl++ {
		src := x[(n0*p.C+pl)*hw : (n0*p.C+pl+1)*hw]
		dst := xp[pl*q.planeP : (pl+1)*q.planeP]
		clear(dst)
		a, prow := p.Pad%st, p.Pad/st // phase row of input row 0
		for y := 0; y < p.H; y++ {
			in := src[y*p.W : (y+1)*p.W]
			for b := 0; b < st; b++ {
				off := (a*st+b)*q.phaseP + prow*q.ws
				phase := dst[off : off+q.ws]
				d := d0s[b]
				for xx := x0s[b]; xx < p.W; xx += st {
					phase[d] = in[xx]
					d++
				}
			}
			if a++; a == st {
				a, prow = 0, prow+1
			}
		}
	}
	q.xin = xp
}

// segments lists the output-row runs covering chunk columns [j0, j0+n),
// split so that no run crosses a multiple of split (a micro-panel edge).
func (q *convChunkCtx) segments(j0, n, split int) []convSeg {
	segs := q.segScratch[:0]
	ohw := q.oh * q.ow
	for j := j0; j < j0+n; {
		i, pix := j/ohw, j%ohw
		oy, ox := pix/q.ow, pix%q.ow
		run := min(q.ow-ox, j0+n-j)
		if split > 0 {
			run = min(run, split-(j-j0)%split)
		}
		segs = append(segs, convSeg{j: j - j0, n: run, src: i*q.imageP + oy*q.ws + ox})
		j += run
	}
	q.segScratch = segs
	return segs
}

// tapOffset is the input offset of column-matrix row k = (c, r, s).
func (q *convChunkCtx) tapOffset(k int) int {
	rs := q.p.R * q.p.S
	c, t := k/rs, k%rs
	r, s := t/q.p.S, t%q.p.S
	st := q.p.Stride
	return c*q.planeP + ((r%st)*st+s%st)*q.phaseP + (r/st)*q.ws + s/st
}

// packColB writes rows [pc, pc+kb) x columns [jc, jc+nb) of the chunk's
// column matrix as NR-column micro-panels (the B operand of W*col): every
// tap row copies the same runs, shifted by the tap's offset.
func (q *convChunkCtx) packColB(pc, jc, kb, nb, nr int, dst []float32) []float32 {
	segs := q.segments(jc, nb, nr)
	runs := q.runScratch[:0]
	maxDst, maxSrc := 0, 0
	for _, sg := range segs {
		d := (sg.j/nr)*nr*kb + sg.j%nr
		runs = append(runs, int32(d), int32(sg.src), int32(sg.n))
		maxDst, maxSrc = max(maxDst, d+sg.n), max(maxSrc, sg.src+sg.n)
	}
	q.runScratch = runs
	lastOff := q.tapOffset(pc + kb - 1)
	if (kb-1)*nr+maxDst > len(dst) || lastOff+maxSrc > len(q.xin) {
		panic(fmt.Sprintf("tensor: conv packing out of range (%d > %d or %d > %d)", (kb-1)*nr+maxDst, len(dst), lastOff+maxSrc, len(q.xin)))
	}
	for kk := 0; kk < kb; kk++ {
		copyRuns(dst[kk*nr:], q.xin[q.tapOffset(pc+kk):], runs)
	}
	return dst
}

// packColA writes rows [ic, ic+mb) x columns [pc, pc+kb) of the chunk's
// column matrix as MR-row micro-panels (the A operand of col*dy^T). It fills
// each panel in storage order, MR taps per pixel, so the writes are
// sequential.
func (q *convChunkCtx) packColA(ic, pc, mb, kb, mr int, dst []float32) []float32 {
	segs := q.segments(pc, kb, 0)
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
					e[0], e[1], e[2], e[3], e[4], e[5] = x[o0+t], x[o1+t], x[o2+t], x[o3+t], x[o4+t], x[o5+t]
				}
				continue
			}
			for t := 0; t < sg.n; t++ {
				for i := 0; i < rows; i++ {
					d[t*mr+i] = q.xin[offs[i]+sg.src+t]
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
	conv2dForward(p, x, w, bias, out, accumulate, false)
}

// Conv2dForwardReLU computes out = max(conv(x, w) + bias, 0), applying the
// bias and the ReLU to each chunk while it is still in cache (inference
// with batch norm folded into the weights).
func Conv2dForwardReLU(p ConvParams, x, w, bias, out []float32) {
	conv2dForward(p, x, w, bias, out, false, true)
}

func conv2dForward(p ConvParams, x, w, bias, out []float32, accumulate, relu bool) {
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
	ctxs := make([]convChunkCtx, Workers())
	ParallelItems(nChunks, func(worker, ch int) {
		q := &ctxs[worker]
		n0 := ch * chunk
		cnt := min(chunk, p.N-n0)
		P := cnt * ohw
		q.prepare(p, x, n0, cnt, func(n int) []float32 { return sc.get(worker, 0, n) })
		opB := func(pc, jc, kb, nb int, dst []float32) []float32 { return q.packColB(pc, jc, kb, nb, kr.nr, dst) }
		if cnt == 1 {
			dst := out[n0*p.K*ohw : (n0+1)*p.K*ohw]
			gemmCore(&kr, p.K, P, crs, pw.operand(), opB, dst, P, accumulate)
			if bias != nil || relu {
				biasReLURows(dst, bias, p.K, ohw, relu)
			}
			return
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
				case relu:
					planeAffine(src, dst, 1, b, true)
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
	})
}

// biasReLURows adds bias[k] to row k of dst [rows, n] (bias may be nil)
// and applies a ReLU when relu is set.
func biasReLURows(dst, bias []float32, rows, n int, relu bool) {
	for k := 0; k < rows; k++ {
		var b float32
		if bias != nil {
			b = bias[k]
		}
		row := dst[k*n : (k+1)*n]
		planeAffine(row, row, 1, b, relu)
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
	ParallelItems(nChunks, func(worker, ch int) {
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
	// The images are cut into a fixed number of groups, each accumulating
	// its own partial sum, and the groups are handed to the workers as they
	// free up: balanced on a busy machine, yet the sums (and so the
	// training run) are the same bit for bit whoever computes which group.
	groups := min(nChunks, 4*Workers())
	partial := Buffers.Get(groups, crs*p.K)
	used := make([]bool, groups)
	sc := newConvScratch()
	defer sc.release()
	ctxs := make([]convChunkCtx, Workers())
	ParallelItems(groups, func(worker, g int) {
		acc := partial.Data[g*crs*p.K : (g+1)*crs*p.K]
		used[g] = true
		q := &ctxs[worker]
		for ch := g * nChunks / groups; ch < (g+1)*nChunks/groups; ch++ {
			n0 := ch * chunk
			cnt := min(chunk, p.N-n0)
			P := cnt * ohw
			q.prepare(p, x, n0, cnt, func(n int) []float32 { return sc.get(worker, 0, n) })
			opA := func(ic, pc, mb, kb int, dst []float32) []float32 { return q.packColA(ic, pc, mb, kb, kr.mr, dst) }
			// B = dy^T of the chunk: row = pixel column of the chunk, column = output channel
			opB := func(pc, jc, kb, nb int, dst []float32) []float32 {
				packDyT(dy, dst, p.K, ohw, n0, pc, jc, kb, nb, kr.nr)
				return dst
			}
			gemmCore(&kr, crs, p.K, P, opA, opB, acc, p.K, ch != g*nChunks/groups)
		}
	})
	workers := groups
	// dw[k][j] (+)= sum_w partial[w][j][k]
	ParallelFor(p.K, 8, func(_, lo, hi int) {
		for k := lo; k < hi; k++ {
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
	})
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

// packDyT writes the kb x nb block at (pc, jc) of dy^T for a chunk of
// images starting at n0 (rows: the chunk's pixel columns; columns: output
// channels) as NR-column micro-panels. It works in blocks of 8 pixels so
// that the reads (8 consecutive pixels of one channel) and the writes (8
// panel rows) both stay within a few cache lines.
func packDyT(dy, dst []float32, k, ohw, n0, pc, jc, kb, nb, nr int) {
	const blk = 8
	for j := pc; j < pc+kb; {
		i, pix := j/ohw, j%ohw
		run := min(ohw-pix, pc+kb-j, blk)
		row := j - pc
		for co := jc; co < jc+nb; co++ {
			cj := co - jc
			src := dy[((n0+i)*k+co)*ohw+pix:][:run]
			d := dst[(cj/nr)*nr*kb+row*nr+cj%nr:]
			for t, v := range src {
				d[t*nr] = v
			}
		}
		j += run
	}
}
