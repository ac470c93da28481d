package tensor

import (
	"fmt"
	"sync"
)

// SGEMM: C = alpha*op(A)*op(B) + beta*C on row-major matrices, where op(X) is
// X or its transpose. The driver follows the BLIS blocking: a KC x NC panel of
// op(B) and an MC x KC block of op(A) are packed into micro-panels that the
// micro-kernel streams through, computing an MR x NR tile of C in registers.
// The micro-kernel is chosen at start-up from the CPU's features (AVX-512,
// AVX2, or portable Go); see kernels_amd64.go.

// gemmKernel describes one micro-kernel and the blocking that suits it.
type gemmKernel struct {
	name       string
	mr, nr     int
	kc, mc, nc int
	// fn computes the MR x NR tile sum_k a[k*mr+i]*b[k*nr+j] and stores it to
	// c (row stride ldc elements), adding the old value of c when load is true.
	fn func(k int, a, b, c *float32, ldc int, load bool)
}

// active is the kernel the public entry points use.
var active = pickKernel()

// KernelName names the SGEMM micro-kernel in use ("avx512", "avx2" or "go").
func KernelName() string { return active.name }

// useKernel switches kernels (tests compare all paths). It returns the
// previous one's name, or an error when the CPU lacks the named kernel.
func useKernel(name string) (string, error) {
	for _, k := range availableKernels() {
		if k.name == name {
			prev := active.name
			active = k
			return prev, nil
		}
	}
	return "", fmt.Errorf("tensor: kernel %q is not available on this CPU", name)
}

// portableKernel is the pure-Go micro-kernel, used where no assembly path
// applies and as the reference in tests.
var portableKernel = gemmKernel{name: "go", mr: 4, nr: 16, kc: 256, mc: 128, nc: 512, fn: goMicroKernel}

func goMicroKernel(k int, a, b, c *float32, ldc int, load bool) {
	const mr, nr = 4, 16
	as := unsafeSlice(a, k*mr)
	bs := unsafeSlice(b, k*nr)
	var acc [mr * nr]float32
	for p := 0; p < k; p++ {
		ap := as[p*mr : p*mr+mr : p*mr+mr]
		bp := bs[p*nr : p*nr+nr : p*nr+nr]
		for i := 0; i < mr; i++ {
			ai := ap[i]
			row := acc[i*nr : i*nr+nr : i*nr+nr]
			for j := range row {
				row[j] += ai * bp[j]
			}
		}
	}
	cs := unsafeSlice(c, (mr-1)*ldc+nr)
	for i := 0; i < mr; i++ {
		row := cs[i*ldc : i*ldc+nr : i*ldc+nr]
		if load {
			for j := range row {
				row[j] += acc[i*nr+j]
			}
		} else {
			copy(row, acc[i*nr:i*nr+nr])
		}
	}
}

// gemmScratch holds one goroutine's packing buffers.
type gemmScratch struct {
	packA, packB []float32
	tile         []float32
}

var scratchPool = sync.Pool{New: func() any { return new(gemmScratch) }}

func (s *gemmScratch) fit(kr *gemmKernel) {
	if n := kr.mc * kr.kc; len(s.packA) < n {
		s.packA = make([]float32, n)
	}
	if n := kr.kc * roundUp(kr.nc, kr.nr); len(s.packB) < n {
		s.packB = make([]float32, n)
	}
	if n := kr.mr * kr.nr; len(s.tile) < n {
		s.tile = make([]float32, n)
	}
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// checkGemm panics with a message naming the bad argument when the slices
// cannot hold the matrices described: a kernel must never read out of range.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	need := func(name string, s []float32, rows, cols, ld int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols {
			panic(fmt.Sprintf("tensor.Gemm: %s leading dimension %d < %d columns", name, ld, cols))
		}
		if len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("tensor.Gemm: %s has %d elements, needs %d (%dx%d, ld %d)", name, len(s), (rows-1)*ld+cols, rows, cols, ld))
		}
	}
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("tensor.Gemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	if transA {
		need("A", a, k, m, lda)
	} else {
		need("A", a, m, k, lda)
	}
	if transB {
		need("B", b, n, k, ldb)
	} else {
		need("B", b, k, n, ldb)
	}
	need("C", c, m, n, ldc)
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C with op(A) m x k, op(B) k x n
// and C m x n, all row-major with the given leading dimensions. The work is
// split across the worker pool along the larger of m and n.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	kr := active
	flops := 2 * m * n * k
	if flops < 1<<20 || Workers() == 1 {
		gemmSerial(&kr, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if n >= m && m*k >= 1<<18 {
		// Split the columns; op(A) is packed once, by all workers, and
		// shared (otherwise every worker would pack all of it).
		if beta != 0 && beta != 1 {
			scaleMatrix(c, m, n, ldc, beta)
			beta = 1
		}
		pa := newPrepackedA(&kr, transA, m, k, alpha, a, lda)
		defer pa.release()
		units := (n + kr.nr - 1) / kr.nr
		ParallelFor(units, 1, func(_, lo, hi int) {
			j0, j1 := lo*kr.nr, min(hi*kr.nr, n)
			opB := func(pc, jc, kb, nb int, dst []float32) []float32 {
				packB(dst, b, ldb, transB, pc, j0+jc, kb, nb, kr.nr)
				return dst
			}
			gemmCore(&kr, m, j1-j0, k, pa.operand(), opB, c[j0:], ldc, beta == 1)
		})
		return
	}
	if n >= m {
		units := (n + kr.nr - 1) / kr.nr
		ParallelFor(units, 1, func(_, lo, hi int) {
			j0, j1 := lo*kr.nr, min(hi*kr.nr, n)
			bOff := j0
			if transB {
				bOff = j0 * ldb
			}
			gemmSerial(&kr, transA, transB, m, j1-j0, k, alpha, a, lda, b[bOff:], ldb, beta, c[j0:], ldc)
		})
		return
	}
	units := (m + kr.mr - 1) / kr.mr
	ParallelFor(units, 1, func(_, lo, hi int) {
		i0, i1 := lo*kr.mr, min(hi*kr.mr, m)
		aOff := i0 * lda
		if transA {
			aOff = i0
		}
		gemmSerial(&kr, transA, transB, i1-i0, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[i0*ldc:], ldc)
	})
}

// GemmSerial is Gemm on the calling goroutine only, for use inside work that
// is already spread over the workers (per-image convolution chunks).
func GemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	kr := active
	gemmSerial(&kr, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gemmSerial(kr *gemmKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(c, m, n, ldc, beta)
		return
	}
	if beta != 0 && beta != 1 {
		scaleMatrix(c, m, n, ldc, beta)
		beta = 1
	}
	opA := func(ic, pc, mb, kb int, dst []float32) []float32 {
		packA(dst, a, lda, transA, ic, pc, mb, kb, kr.mr, alpha)
		return dst
	}
	opB := func(pc, jc, kb, nb int, dst []float32) []float32 {
		packB(dst, b, ldb, transB, pc, jc, kb, nb, kr.nr)
		return dst
	}
	gemmCore(kr, m, n, k, opA, opB, c, ldc, beta == 1)
}

// operandA returns the packed MR-row micro-panels of the mb x kb block of
// op(A) at (ic, pc), writing them into scratch when it has to pack (a
// prepacked operand returns its own storage instead).
type operandA func(ic, pc, mb, kb int, scratch []float32) []float32

// operandB returns the packed NR-column micro-panels of the kb x nb block of
// op(B) at (pc, jc).
type operandB func(pc, jc, kb, nb int, scratch []float32) []float32

// gemmCore is the blocked loop nest shared by plain GEMM and the
// convolutions (whose operands are packed straight from images):
// C (+)= A*B with C m x n. With load false the first k block overwrites C.
func gemmCore(kr *gemmKernel, m, n, k int, opA operandA, opB operandB, c []float32, ldc int, load bool) {
	s := scratchPool.Get().(*gemmScratch)
	s.fit(kr)
	for jc := 0; jc < n; jc += kr.nc {
		nb := min(kr.nc, n-jc)
		for pc := 0; pc < k; pc += kr.kc {
			kb := min(kr.kc, k-pc)
			bPack := opB(pc, jc, kb, nb, s.packB)
			ld := pc > 0 || load
			for ic := 0; ic < m; ic += kr.mc {
				mb := min(kr.mc, m-ic)
				aPack := opA(ic, pc, mb, kb, s.packA)
				macroKernel(kr, aPack, bPack, mb, nb, kb, c[ic*ldc+jc:], ldc, ld, s.tile)
			}
		}
	}
	scratchPool.Put(s)
}

// macroKernel runs the micro-kernel over every MR x NR tile of an mb x nb
// block of C from packed panels; edge tiles go through tile.
func macroKernel(kr *gemmKernel, aPack, bPack []float32, mb, nb, kb int, c []float32, ldc int, load bool, tile []float32) {
	mr, nr := kr.mr, kr.nr
	for jr := 0; jr < nb; jr += nr {
		nrr := min(nr, nb-jr)
		bp := &bPack[jr*kb]
		for ir := 0; ir < mb; ir += mr {
			mrr := min(mr, mb-ir)
			ap := &aPack[ir*kb]
			ci := ir*ldc + jr
			if mrr == mr && nrr == nr {
				kr.fn(kb, ap, bp, &c[ci], ldc, load)
				continue
			}
			kr.fn(kb, ap, bp, &tile[0], nr, false)
			for i := 0; i < mrr; i++ {
				row := c[ci+i*ldc : ci+i*ldc+nrr]
				t := tile[i*nr : i*nr+nrr]
				if load {
					for j := range row {
						row[j] += t[j]
					}
				} else {
					copy(row, t)
				}
			}
		}
	}
}

// prepackedA is op(A) packed once for every (ic, pc) block, for operands
// reused by many GEMMs (convolution weights across image chunks). It is
// read-only after construction and safe to share between goroutines.
type prepackedA struct {
	kr     *gemmKernel
	blocks [][]float32 // [pc block][ic block]: index pcIdx*nIC + icIdx
	nIC    int
	buf    *Tensor
}

func newPrepackedA(kr *gemmKernel, transA bool, m, k int, alpha float32, a []float32, lda int) *prepackedA {
	nIC := (m + kr.mc - 1) / kr.mc
	nPC := (k + kr.kc - 1) / kr.kc
	total := 0
	for pc := 0; pc < k; pc += kr.kc {
		kb := min(kr.kc, k-pc)
		total += roundUp(m, kr.mr) * kb
	}
	p := &prepackedA{kr: kr, nIC: nIC, blocks: make([][]float32, nPC*nIC), buf: Buffers.Get(total)}
	off := 0
	for pi, pc := 0, 0; pc < k; pi, pc = pi+1, pc+kr.kc {
		kb := min(kr.kc, k-pc)
		for ii, ic := 0, 0; ic < m; ii, ic = ii+1, ic+kr.mc {
			sz := roundUp(min(kr.mc, m-ic), kr.mr) * kb
			p.blocks[pi*nIC+ii] = p.buf.Data[off : off+sz]
			off += sz
		}
	}
	ParallelItems(len(p.blocks), func(_, b int) {
		pc, ic := (b/nIC)*kr.kc, (b%nIC)*kr.mc
		packA(p.blocks[b], a, lda, transA, ic, pc, min(kr.mc, m-ic), min(kr.kc, k-pc), kr.mr, alpha)
	})
	return p
}

func (p *prepackedA) operand() operandA {
	return func(ic, pc, _, _ int, _ []float32) []float32 {
		return p.blocks[(pc/p.kr.kc)*p.nIC+ic/p.kr.mc]
	}
}

func (p *prepackedA) release() { Buffers.Put(p.buf) }

func scaleMatrix(c []float32, m, n, ldc int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		if beta == 1 {
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// packA packs the mb x kb block of op(A) at (ic, pc) into MR-row micro-panels:
// panel p holds rows p*MR.. as kb groups of MR values (k-major), scaled by
// alpha, zero-padded past mb.
func packA(dst, a []float32, lda int, trans bool, ic, pc, mb, kb, mr int, alpha float32) {
	for ir := 0; ir < mb; ir += mr {
		panel := dst[ir*kb : ir*kb+mr*kb]
		rows := min(mr, mb-ir)
		if !trans && mr == 6 && rows == 6 && kb > 0 {
			packA6(panel, a, lda, ic+ir, pc, kb, alpha)
			continue
		}
		if trans {
			// A^T's rows are A's columns: row p of A holds the panel's
			// entries at depth p side by side, so read and write in order.
			for p := 0; p < kb; p++ {
				src := a[(pc+p)*lda+ic+ir : (pc+p)*lda+ic+ir+rows]
				dst := panel[p*mr : p*mr+rows]
				for r, v := range src {
					dst[r] = alpha * v
				}
			}
		} else {
			for r := 0; r < rows; r++ {
				i := ic + ir + r
				src := a[i*lda+pc : i*lda+pc+kb]
				if alpha == 1 {
					for p, v := range src {
						panel[p*mr+r] = v
					}
				} else {
					for p, v := range src {
						panel[p*mr+r] = alpha * v
					}
				}
			}
		}
		for r := rows; r < mr; r++ {
			for p := 0; p < kb; p++ {
				panel[p*mr+r] = 0
			}
		}
	}
}

// packA6 interleaves six rows of A into one micro-panel in storage order
// (sequential writes, six sequential reads).
func packA6(panel, a []float32, lda, i0, pc, kb int, alpha float32) {
	r0 := a[i0*lda+pc : i0*lda+pc+kb]
	r1 := a[(i0+1)*lda+pc : (i0+1)*lda+pc+kb]
	r2 := a[(i0+2)*lda+pc : (i0+2)*lda+pc+kb]
	r3 := a[(i0+3)*lda+pc : (i0+3)*lda+pc+kb]
	r4 := a[(i0+4)*lda+pc : (i0+4)*lda+pc+kb]
	r5 := a[(i0+5)*lda+pc : (i0+5)*lda+pc+kb]
	r1, r2, r3, r4, r5 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)], r4[:len(r0)], r5[:len(r0)]
	out := panel[:6*kb]
	rest := out
	for p, v := range r0 {
		if len(rest) < 6 {
			break
		}
		d := rest[:6:6]
		rest = rest[6:]
		d[0], d[1], d[2], d[3], d[4], d[5] = v, r1[p], r2[p], r3[p], r4[p], r5[p]
	}
	if alpha != 1 {
		for i := range out {
			out[i] *= alpha
		}
	}
}

// packB packs the kb x nb block of op(B) at (pc, jc) into NR-column
// micro-panels (kb groups of NR values), zero-padded past nb.
func packB(dst, b []float32, ldb int, trans bool, pc, jc, kb, nb, nr int) {
	for jr := 0; jr < nb; jr += nr {
		panel := dst[jr*kb : jr*kb+nr*kb]
		cols := min(nr, nb-jr)
		if !trans {
			for p := 0; p < kb; p++ {
				row := b[(pc+p)*ldb+jc+jr:]
				out := panel[p*nr : p*nr+nr]
				copy(out[:cols], row[:cols])
				clear(out[cols:])
			}
			continue
		}
		for c := 0; c < cols; c++ {
			src := b[(jc+jr+c)*ldb+pc : (jc+jr+c)*ldb+pc+kb]
			for p, v := range src {
				panel[p*nr+c] = v
			}
		}
		for c := cols; c < nr; c++ {
			for p := 0; p < kb; p++ {
				panel[p*nr+c] = 0
			}
		}
	}
}
