package autograd

import (
	"math"

	"selfsup/tensor"
)

// CrossEntropy is the mean over rows of -log softmax(logits)[target], with
// label smoothing eps (PyTorch's F.cross_entropy(label_smoothing=eps): the
// target distribution is (1-eps)*onehot + eps/C). logits is [N, C].
func CrossEntropy(logits *Var, targets []int, eps float32) *Var {
	checkDims("CrossEntropy", "logits", logits, 2)
	n, c := logits.Value.Dim(0), logits.Value.Dim(1)
	if len(targets) != n {
		panic(opErr("CrossEntropy", "%d targets for %d rows of logits", len(targets), n))
	}
	for i, t := range targets {
		if t < 0 || t >= c {
			panic(opErr("CrossEntropy", "target %d (row %d) out of range for %d classes", t, i, c))
		}
	}
	if eps < 0 || eps > 1 {
		panic(opErr("CrossEntropy", "label smoothing %v outside [0, 1]", eps))
	}
	logp := tensor.Buffers.Get(n, c)
	tensor.SoftmaxRows(logits.Value.Data, logp.Data, n, c, true)
	var total float64
	for i, t := range targets {
		row := logp.Data[i*c : (i+1)*c]
		l := -(1 - float64(eps)) * float64(row[t])
		if eps > 0 {
			var s float64
			for _, v := range row {
				s += float64(v)
			}
			l -= float64(eps) * s / float64(c)
		}
		total += l
	}
	out := tensor.Buffers.Get()
	out.Data[0] = float32(total / float64(n))
	targets = append([]int(nil), targets...)
	res := newResult("CrossEntropy", out, []*Var{logits}, func(res *Var) func() {
		return func() {
			dst, acc := logits.gradDst()
			g := res.Grad.Data[0] / float32(n)
			off := eps / float32(c)
			for i, t := range targets {
				row := logp.Data[i*c : (i+1)*c]
				d := dst.Data[i*c : (i+1)*c]
				for j, v := range row {
					q := off
					if j == t {
						q += 1 - eps
					}
					val := g * (tensor.Exp32(v) - q)
					if acc {
						d[j] += val
					} else {
						d[j] = val
					}
				}
			}
		}
	})
	if res.backward == nil {
		tensor.Buffers.Put(logp)
	} else {
		res.save(logp)
	}
	return res
}

// MSE is the mean of (a - b)^2 over all elements.
func MSE(a, b *Var) *Var {
	checkSameShape("MSE", a, b)
	d := Sub(a, b)
	return Mean(Square(d))
}

// L2Normalize scales each row of x (last dimension) to unit Euclidean norm,
// dividing by max(norm, eps) like PyTorch's F.normalize.
func L2Normalize(x *Var, eps float32) *Var {
	d := x.Value.Dim(-1)
	rows := x.Value.Len() / d
	out := tensor.Buffers.Get(x.Value.Shape()...)
	norms := tensor.Buffers.Get(rows)
	src := x.Value.Data
	tensor.ParallelFor(rows, 64, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			row := src[r*d : (r+1)*d]
			var s float32
			for _, v := range row {
				s += v * v
			}
			nrm := float32(math.Sqrt(float64(s)))
			norms.Data[r] = nrm
			inv := 1 / max(nrm, eps)
			o := out.Data[r*d : (r+1)*d]
			for j, v := range row {
				o[j] = v * inv
			}
		}
	})
	res := newResult("L2Normalize", out, []*Var{x}, func(res *Var) func() {
		return func() {
			dst, acc := x.gradDst()
			y, g := res.Value.Data, res.Grad.Data
			tensor.ParallelFor(rows, 64, func(_, lo, hi int) {
				for r := lo; r < hi; r++ {
					nrm := norms.Data[r]
					yr, gr, dr := y[r*d:(r+1)*d], g[r*d:(r+1)*d], dst.Data[r*d:(r+1)*d]
					inv := 1 / max(nrm, eps)
					var dot float32
					if nrm > eps {
						for j, v := range yr {
							dot += v * gr[j]
						}
					}
					for j, v := range yr {
						val := (gr[j] - v*dot) * inv
						if acc {
							dr[j] += val
						} else {
							dr[j] = val
						}
					}
				}
			})
		}
	})
	if res.backward == nil {
		tensor.Buffers.Put(norms)
	} else {
		res.save(norms)
	}
	return res
}

// CosineSimilarity returns the matrix of cosine similarities between the
// rows of a [N, D] and b [M, D]: [N, M].
func CosineSimilarity(a, b *Var) *Var {
	return MatMul(L2Normalize(a, 1e-8), L2Normalize(b, 1e-8), false, true)
}
