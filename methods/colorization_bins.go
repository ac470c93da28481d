package methods

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"selfsup/color"
	"selfsup/tensor"
)

// The label side of colorization: the quantised ab space, the soft-encoded
// targets, the class-rebalancing weights and the annealed-mean decoding of
// Zhang, Isola and Efros (2016), section 2.1-2.3.

// gamutSteps is the side of the dense RGB grid whose Lab colours decide
// which ab bins are in gamut (65^3 colours, every 1/64 including 0 and 1;
// denser grids find no further bin at bin size 10).
const gamutSteps = 65

var (
	gamutMu    sync.Mutex
	gamutCache = map[float64][]float32{}
)

// gamutBins returns the centres (a, b) of the ab bins of the given size that
// some sRGB colour falls into (nearest centre, centres at multiples of
// binSize), as a [Q, 2] tensor sorted by a, then b. At bin size 10 there
// are 261: the paper's 313 come from its own gamut file, which holds bins
// of its convex hull that no sRGB colour reaches.
func gamutBins(binSize float64) *tensor.Tensor {
	gamutMu.Lock()
	defer gamutMu.Unlock()
	if c, ok := gamutCache[binSize]; ok {
		return tensor.FromData(append([]float32(nil), c...), len(c)/2, 2)
	}
	seen := map[[2]int]bool{}
	for ri := range gamutSteps {
		for gi := range gamutSteps {
			for bi := range gamutSteps {
				s := float64(gamutSteps - 1)
				_, a, b := color.RGBToLab64(float64(ri)/s, float64(gi)/s, float64(bi)/s)
				seen[[2]int{int(math.Round(a / binSize)), int(math.Round(b / binSize))}] = true
			}
		}
	}
	keys := make([][2]int, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	c := make([]float32, 0, 2*len(keys))
	for _, k := range keys {
		c = append(c, float32(float64(k[0])*binSize), float32(float64(k[1])*binSize))
	}
	gamutCache[binSize] = c
	return tensor.FromData(append([]float32(nil), c...), len(keys), 2)
}

// softEncode finds, for each ab row of ab ([P*2] values), the k nearest bin
// centres of bins [Q, 2] and their Gaussian weights exp(-d^2 / (2 sigma^2)),
// normalised to sum to 1: the paper's soft encoding (k = 5, sigma = 5).
// idx and w receive k entries per row, nearest first; nearest[p] is the
// closest bin (the hard label q*). The rows are split over the workers.
func softEncode(ab []float32, bins *tensor.Tensor, k int, sigma float64, idx []int32, w []float32, nearest []int32) {
	q := bins.Dim(0)
	c := bins.Data
	p := len(ab) / 2
	inv := float32(1 / (2 * sigma * sigma))
	tensor.ParallelFor(p, 256, func(_, lo, hi int) {
		var bestD [16]float32
		var bestI [16]int32
		for r := lo; r < hi; r++ {
			a, b := ab[2*r], ab[2*r+1]
			n := 0 // insertion into the k best, nearest first
			for j := range q {
				da, db := c[2*j]-a, c[2*j+1]-b
				d := da*da + db*db
				if n == k && d >= bestD[k-1] {
					continue
				}
				pos := min(n, k-1)
				for pos > 0 && bestD[pos-1] > d {
					bestD[pos], bestI[pos] = bestD[pos-1], bestI[pos-1]
					pos--
				}
				bestD[pos], bestI[pos] = d, int32(j)
				n = min(n+1, k)
			}
			var s float32
			for i := range k {
				e := tensor.Exp32(-(bestD[i] - bestD[0]) * inv) // relative to the nearest: no underflow
				w[r*k+i], idx[r*k+i] = e, bestI[i]
				s += e
			}
			for i := range k {
				w[r*k+i] /= s
			}
			nearest[r] = bestI[0]
		}
	})
}

// maxSoftK bounds the soft-encoding neighbours (softEncode's stack arrays).
const maxSoftK = 16

// smoothingKernel returns the [Q, Q] Gaussian kernel exp(-|c_i - c_j|^2 /
// (2 sigma^2)) between bin centres (sigma in ab units) that smooths the
// empirical colour distribution; sigma 0 gives the identity. Smoothing with
// it and renormalising is a Gaussian filter of the ab histogram restricted
// to the in-gamut bins.
func smoothingKernel(bins *tensor.Tensor, sigma float64) []float64 {
	q := bins.Dim(0)
	c := bins.Data
	k := make([]float64, q*q)
	for i := range q {
		if sigma == 0 {
			k[i*q+i] = 1
			continue
		}
		for j := range q {
			da, db := float64(c[2*i]-c[2*j]), float64(c[2*i+1]-c[2*j+1])
			k[i*q+j] = math.Exp(-(da*da + db*db) / (2 * sigma * sigma))
		}
	}
	return k
}

// classWeights returns the paper's class-rebalancing weights (equation 4)
// from the empirical bin distribution prior [Q] (any non-negative scale):
// smooth it with the kernel (smoothingKernel), mix it with the uniform
// distribution, w ∝ ((1-lambda) p~ + lambda/Q)^-1, and normalise so that
// the expected weight under p~ is 1. dst receives Q weights.
func classWeights(dst []float32, prior []float32, kernel []float64, lambda float64) error {
	q := len(prior)
	var total float64
	for _, v := range prior {
		total += float64(v)
	}
	if !(total > 0) {
		return fmt.Errorf("colorization: the colour prior is empty (no pixel counted yet)")
	}
	smooth := make([]float64, q)
	var ssum float64
	for i := range q {
		var s float64
		for j, v := range prior {
			s += kernel[i*q+j] * float64(v) / total
		}
		smooth[i] = s
		ssum += s
	}
	var expect float64
	w := make([]float64, q)
	for i := range q {
		smooth[i] /= ssum
		w[i] = 1 / ((1-lambda)*smooth[i] + lambda/float64(q))
		expect += smooth[i] * w[i]
	}
	for i := range q {
		dst[i] = float32(w[i] / expect)
	}
	return nil
}

// softTargets writes the weighted soft targets T [P, Q] of the rebalanced
// cross-entropy: T[p, idx] = w[nearest[p]] * softWeight / P, so that
// -sum(T * log_softmax(logits)) is the paper's equation 2 averaged over
// pixels. weights nil means no rebalancing (all 1).
func softTargets(t *tensor.Tensor, idx []int32, sw []float32, nearest []int32, weights []float32, k int) {
	p, q := t.Dim(0), t.Dim(1)
	clear(t.Data)
	inv := 1 / float32(p)
	for r := range p {
		v := inv
		if weights != nil {
			v *= weights[nearest[r]]
		}
		row := t.Data[r*q : (r+1)*q]
		for i := range k {
			row[idx[r*k+i]] += v * sw[r*k+i]
		}
	}
}

// cellMeans writes the mean a and b of each grid cell of a Lab batch lab
// [N, 3, H, W] into ab as rows (n, y, x) of two values: the targets at the
// network's output resolution (grid x grid; H and W divisible by grid).
func cellMeans(ab []float32, lab *tensor.Tensor, grid int) {
	n, h, w := lab.Dim(0), lab.Dim(2), lab.Dim(3)
	ch, cw := h/grid, w/grid
	plane := h * w
	inv := 1 / float32(ch*cw)
	for img := range n {
		A := lab.Data[(3*img+1)*plane : (3*img+2)*plane]
		B := lab.Data[(3*img+2)*plane : (3*img+3)*plane]
		for gy := range grid {
			for gx := range grid {
				var sa, sb float32
				for y := gy * ch; y < (gy+1)*ch; y++ {
					for x := gx * cw; x < (gx+1)*cw; x++ {
						sa += A[y*w+x]
						sb += B[y*w+x]
					}
				}
				r := (img*grid+gy)*grid + gx
				ab[2*r], ab[2*r+1] = sa*inv, sb*inv
			}
		}
	}
}

// colorRowArgmax returns the index of the largest value of each row of x [P, Q].
func colorRowArgmax(x *tensor.Tensor, dst []int32) {
	q := x.Dim(1)
	for r := range x.Dim(0) {
		row := x.Data[r*q : (r+1)*q]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		dst[r] = int32(best)
	}
}

// colorABError is the mean Euclidean distance between predicted and target ab
// rows (two values per row); a nil pred stands for grey (ab = 0) everywhere.
func colorABError(pred, target []float32) float64 {
	var s float64
	for r := 0; r < len(target); r += 2 {
		da, db := float64(target[r]), float64(target[r+1])
		if pred != nil {
			da, db = float64(pred[r])-da, float64(pred[r+1])-db
		}
		s += math.Sqrt(da*da + db*db)
	}
	return s / float64(len(target)/2)
}
