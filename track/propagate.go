package track

import (
	"fmt"
	"math"
	"sort"

	"selfsup/tensor"
)

// Embedding holds the per-pixel embeddings of a video's frames on a
// feature map of H x W cells (frame pixels / stride).
type Embedding struct {
	// H and W are the feature map's size, D the embedding width, Stride
	// the frame pixels per cell along each side.
	H, W, D, Stride int
	// Frames[t] holds frame t's H*W rows of D values, row by row.
	Frames [][]float32
	// Distance compares rows by negative squared Euclidean distance (for
	// raw colours); otherwise by inner product (learned embeddings, which
	// are L2-normalised, where the two agree).
	Distance bool
}

// Options control label propagation.
type Options struct {
	// Temperature divides the similarities before the softmax.
	Temperature float64
	// TopK, when positive, keeps only the TopK most similar reference
	// cells of each target cell (the others get no attention).
	TopK int
	// Context is the number of preceding frames attended to (1: the
	// previous frame), whose labels are the propagated ones.
	Context int
	// First also attends to the first frame, whose labels are the true
	// ones (Vondrick et al.: a reference that never drifts).
	First bool
}

// DefaultOptions attends to the first frame and the previous one with all
// reference cells, at temperature t.
func DefaultOptions(t float64) Options {
	return Options{Temperature: t, Context: 1, First: true}
}

// check validates the options.
func (o Options) check() error {
	switch {
	case !(o.Temperature > 0) || math.IsInf(o.Temperature, 0):
		return fmt.Errorf("track: temperature %v must be positive", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("track: top-k %d must not be negative", o.TopK)
	case o.Context < 0:
		return fmt.Errorf("track: context %d must not be negative", o.Context)
	case o.Context == 0 && !o.First:
		return fmt.Errorf("track: no reference frame: attend to the first frame or at least one previous frame")
	}
	return nil
}

// references lists the frames frame t attends to: the first (with First)
// and up to Context preceding ones, without repeats, oldest first.
func (o Options) references(t int) []int {
	var refs []int
	if o.First {
		refs = append(refs, 0)
	}
	for s := max(0, t-o.Context); s < t; s++ {
		if s == 0 && o.First {
			continue
		}
		refs = append(refs, s)
	}
	return refs
}

// Propagate carries soft labels through a video: labels0 holds K values per
// cell of the first frame (H*W rows; e.g. the one-hot object ids pooled to
// the feature map); every later frame t gets, for each cell i,
//
//	labels_t[i] = sum_j A_ij labels_ref[j],  A_ij = softmax_j(sim(f_i, f_j) / T)
//
// over the cells j of its reference frames (see Options), the references'
// labels being the true ones for the first frame and the propagated ones
// otherwise. The result holds H*W*K values per frame (frame 0: labels0).
func Propagate(e *Embedding, labels0 []float32, k int, o Options) ([][]float32, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	p := e.H * e.W
	if k < 1 || len(labels0) != p*k {
		return nil, fmt.Errorf("track: %d first-frame label values for %d cells of %d labels", len(labels0), p, k)
	}
	if len(e.Frames) == 0 {
		return nil, fmt.Errorf("track: a video without frames")
	}
	for t, f := range e.Frames {
		if len(f) != p*e.D {
			return nil, fmt.Errorf("track: frame %d has %d embedding values, not %d cells of %d", t, len(f), p, e.D)
		}
	}
	out := make([][]float32, len(e.Frames))
	out[0] = append([]float32(nil), labels0...)
	var refFeat, refLab, sim []float32
	norms := make([]float32, 0)
	for t := 1; t < len(e.Frames); t++ {
		refs := o.references(t)
		m := len(refs) * p
		refFeat = grow(refFeat, m*e.D)
		refLab = grow(refLab, m*k)
		for r, s := range refs {
			copy(refFeat[r*p*e.D:], e.Frames[s])
			copy(refLab[r*p*k:], out[s])
		}
		sim = grow(sim, p*m)
		// sim = f_t refFeat^T, [P, M]
		tensor.Gemm(false, true, p, m, e.D, 1, e.Frames[t], e.D, refFeat, e.D, 0, sim, m)
		if e.Distance { // -|x - y|^2 = 2 x.y - |y|^2 - |x|^2; |x|^2 is constant along a row
			norms = grow(norms, m)
			for j := range m {
				var s float32
				for _, v := range refFeat[j*e.D : (j+1)*e.D] {
					s += v * v
				}
				norms[j] = s
			}
			for i := range p {
				row := sim[i*m : (i+1)*m]
				for j := range row {
					row[j] = 2*row[j] - norms[j]
				}
			}
		}
		attend(sim, p, m, o.Temperature, o.TopK)
		lab := make([]float32, p*k)
		tensor.Gemm(false, false, p, k, m, 1, sim, m, refLab, k, 0, lab, k)
		out[t] = lab
	}
	return out, nil
}

// attend turns each row of sim (rows of m similarities) into attention
// weights in place: softmax(sim / t) over the row's topK largest entries
// (all when topK is 0 or at least m; ties broken by position), zero
// elsewhere.
func attend(sim []float32, rows, m int, t float64, topK int) {
	inv := 1 / t
	keep := m
	if topK > 0 && topK < m {
		keep = topK
	}
	tensor.ParallelFor(rows, 16, func(_, lo, hi int) {
		var order []int
		var w []float64
		if keep < m {
			order, w = make([]int, m), make([]float64, m)
		}
		for i := lo; i < hi; i++ {
			row := sim[i*m : (i+1)*m]
			mx := float32(math.Inf(-1))
			for _, v := range row {
				mx = max(mx, v)
			}
			var sum float64
			if keep == m {
				for j, v := range row {
					e := math.Exp(float64(v-mx) * inv)
					row[j] = float32(e)
					sum += e
				}
			} else {
				for j := range order {
					order[j] = j
				}
				sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
				clear(w)
				for _, j := range order[:keep] {
					w[j] = math.Exp(float64(row[j]-mx) * inv)
					sum += w[j]
				}
				for j := range row {
					row[j] = float32(w[j])
				}
			}
			for j := range row {
				row[j] = float32(float64(row[j]) / sum)
			}
		}
	})
}

// grow returns s resized to n, reusing its storage when large enough.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
