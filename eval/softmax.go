package eval

import (
	"math"

	"selfsup/tensor"
)

// softmaxChunk is the most rows one GEMM of the softmax objective covers:
// 1024 rows of a 256-wide feature matrix (1 MiB, twice) stay in cache
// between the logits GEMM and the gradient GEMM that reads them again.
const softmaxChunk = 1024

// designMatrix holds standardised feature rows in the two layouts the
// softmax objective's GEMMs want. With C (the number of classes) small, the
// fast GEMM shapes are those with C as the row count and an untransposed
// right operand: logits^T = W X_c^T needs each chunk transposed ([D, m]),
// the gradient P^T X_c needs it as rows ([m, D]). Keeping both costs one
// extra copy of the features and runs the objective several times faster
// than a GEMM with C columns.
type designMatrix struct {
	n, d int
	rows int       // rows per chunk
	x    []float32 // [n, D] row-major
	xt   []float32 // chunk ch (rows r0..r1) transposed to [D, r1-r0] at offset r0*D
}

// newDesignMatrix wraps x ([n, D], already standardised; not copied) and
// builds the transposed chunks, sized so every worker gets work.
func newDesignMatrix(x []float32, n, d int) *designMatrix {
	rows := min(softmaxChunk, max(1, (n+tensor.Workers()-1)/tensor.Workers()))
	dm := &designMatrix{n: n, d: d, x: x, xt: make([]float32, n*d)}
	dm.setRows(rows)
	return dm
}

// setRows rebuilds the transposed chunks for a chunk size (and for new
// contents of x, as each SGD mini-batch brings).
func (dm *designMatrix) setRows(rows int) {
	dm.rows = rows
	chunks := (dm.n + rows - 1) / rows
	tensor.ParallelFor(chunks, 1, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			r0, r1 := ch*rows, min((ch+1)*rows, dm.n)
			transposeBlock(dm.xt[r0*dm.d:r1*dm.d], dm.x[r0*dm.d:r1*dm.d], r1-r0, dm.d)
		}
	})
}

// transposeBlock writes the transpose of src ([m, d]) into dst ([d, m]),
// tile by tile so that neither side strides through memory a row at a time.
func transposeBlock(dst, src []float32, m, d int) {
	const t = 32
	for i0 := 0; i0 < m; i0 += t {
		i1 := min(i0+t, m)
		for j0 := 0; j0 < d; j0 += t {
			j1 := min(j0+t, d)
			for i := i0; i < i1; i++ {
				row := src[i*d : (i+1)*d]
				for j := j0; j < j1; j++ {
					dst[j*m+i] = row[j]
				}
			}
		}
	}
}

// softmaxWork computes the unregularised sums behind the multinomial
// logistic loss,
//
//	loss = sum_i [logsumexp(z_i) - z_i[y_i]],  z_i = W x_i + b,
//	G    = sum_i (p_i - e_{y_i}) x_i^T          ([C, D]),
//	g_b  = sum_i (p_i - e_{y_i})                ([C]),
//
// with p_i = softmax(z_i). The chunks of a designMatrix are spread over the
// worker pool; each worker computes a chunk's logits as a [C, m] block with
// one GEMM, turns them into p - e_y in place with a max-shifted
// (overflow-free) log-softmax, and adds the chunk's gradient with a second
// GEMM into its own partial sum. No [N, C] matrix is ever held.
type softmaxWork struct {
	d, c   int
	logits [][]float32 // per worker [C*softmaxChunk]
	mx     [][]float32 // per worker [softmaxChunk]
	sum    [][]float64 // per worker [softmaxChunk]
	gw     [][]float32 // per worker [C*D]
	gb     [][]float64 // per worker [C]
	loss   []float64   // per worker
	used   []bool      // per worker: took part in the last run
}

func newSoftmaxWork(d, c int) *softmaxWork {
	w := tensor.Workers()
	s := &softmaxWork{d: d, c: c, logits: make([][]float32, w), mx: make([][]float32, w), sum: make([][]float64, w),
		gw: make([][]float32, w), gb: make([][]float64, w), loss: make([]float64, w), used: make([]bool, w)}
	for i := 0; i < w; i++ {
		s.logits[i] = make([]float32, c*softmaxChunk)
		s.mx[i] = make([]float32, softmaxChunk)
		s.sum[i] = make([]float64, softmaxChunk)
		s.gw[i] = make([]float32, c*d)
		s.gb[i] = make([]float64, c)
	}
	return s
}

// run evaluates the sums above for the rows of dm with labels y, at
// weights w ([C, D]) and bias b ([C]). It writes G into gw and g_b into gb
// and returns the summed loss.
func (s *softmaxWork) run(dm *designMatrix, y []int, w, b []float32, gw []float32, gb []float64) float64 {
	d, c, rows := s.d, s.c, dm.rows
	chunks := (dm.n + rows - 1) / rows
	clear(s.used)
	tensor.ParallelFor(chunks, 1, func(wk, lo, hi int) {
		s.used[wk] = true
		z, pgw, pgb := s.logits[wk], s.gw[wk], s.gb[wk]
		clear(pgw)
		clear(pgb)
		loss := 0.0
		for ch := lo; ch < hi; ch++ {
			r0, r1 := ch*rows, min((ch+1)*rows, dm.n)
			m := r1 - r0
			tensor.GemmSerial(false, false, c, m, d, 1, w, d, dm.xt[r0*d:r1*d], m, 0, z, m)
			loss += softmaxColumns(z[:c*m], m, b, y[r0:r1], pgb, s.mx[wk], s.sum[wk])
			tensor.GemmSerial(false, false, c, d, m, 1, z, m, dm.x[r0*d:r1*d], d, 1, pgw, d)
		}
		s.loss[wk] = loss
	})
	clear(gw)
	clear(gb)
	total := 0.0
	for wk, used := range s.used {
		if !used {
			continue
		}
		total += s.loss[wk]
		for j, v := range s.gw[wk] {
			gw[j] += v
		}
		for j, v := range s.gb[wk] {
			gb[j] += v
		}
	}
	return total
}

// softmaxColumns takes a [C, m] block of logits (column r belongs to row r
// of the chunk, labelled y[r]), adds the bias, replaces each column with
// softmax(z) - e_y, adds the block's row sums to gb and returns the summed
// cross-entropy. mx and sum are scratch of at least m entries. The loops
// run along the m columns so that they stream through memory.
func softmaxColumns(z []float32, m int, b []float32, y []int, gb []float64, mx []float32, sum []float64) float64 {
	c := len(b)
	mx, sum = mx[:m], sum[:m]
	for r := range mx {
		mx[r] = float32(math.Inf(-1))
	}
	for j := 0; j < c; j++ {
		row, bj := z[j*m:(j+1)*m], b[j]
		for r := range row {
			v := row[r] + bj
			row[r] = v
			mx[r] = max(mx[r], v)
		}
	}
	loss := 0.0
	for r, k := range y {
		loss -= float64(z[k*m+r] - mx[r])
	}
	clear(sum)
	for j := 0; j < c; j++ {
		row := z[j*m : (j+1)*m]
		for r, v := range row {
			e := math.Exp(float64(v - mx[r]))
			row[r] = float32(e)
			sum[r] += e
		}
	}
	for r, v := range sum {
		loss += math.Log(v)
		sum[r] = 1 / v
	}
	for j := 0; j < c; j++ {
		row := z[j*m : (j+1)*m]
		acc := 0.0
		for r, v := range row {
			p := float64(v) * sum[r]
			row[r] = float32(p)
			acc += p
		}
		gb[j] += acc
	}
	for r, k := range y {
		z[k*m+r]--
		gb[k]--
	}
	return loss
}

// softmaxProblem is the regularised objective over a full standardised
// training set, in the float64 parameter layout LBFGS works on: W row-major
// ([C*D]) followed by b ([C]). Its value is
//
//	L(W, b) = (1/N) sum_i CE_i + (wd/2) ||W||^2
//
// (the bias is not decayed), and its gradient (G/N + wd W, g_b/N).
type softmaxProblem struct {
	dm   *designMatrix
	y    []int
	d, c int
	wd   float64
	work *softmaxWork
	w, b []float32
	gw   []float32
	gb   []float64
}

// newSoftmaxProblem wraps standardised rows x ([len(y), d], not copied).
func newSoftmaxProblem(x []float32, y []int, d, c int, wd float64) *softmaxProblem {
	return &softmaxProblem{dm: newDesignMatrix(x, len(y), d), y: y, d: d, c: c, wd: wd, work: newSoftmaxWork(d, c),
		w: make([]float32, c*d), b: make([]float32, c), gw: make([]float32, c*d), gb: make([]float64, c)}
}

// objective implements Objective.
func (p *softmaxProblem) objective(params, grad []float64) float64 {
	cd := p.c * p.d
	for i, v := range params[:cd] {
		p.w[i] = float32(v)
	}
	for i, v := range params[cd:] {
		p.b[i] = float32(v)
	}
	sum := p.work.run(p.dm, p.y, p.w, p.b, p.gw, p.gb)
	invN := 1 / float64(len(p.y))
	loss := sum * invN
	reg := 0.0
	for i, v := range params[:cd] {
		reg += v * v
		grad[i] = float64(p.gw[i])*invN + p.wd*v
	}
	for j, v := range p.gb {
		grad[cd+j] = v * invN
	}
	return loss + 0.5*p.wd*reg
}
