package methods

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/tensor"
)

// The colour classes of video colorization: the ab values of the target
// frame, averaged over each cell of the feature map, quantised to the
// nearest of Q centres, which are either k-means clusters of ab (Vondrick et
// al. 2018 use 16, clustered once on training videos) or the in-gamut ab
// bins of image colorization (gamutBins).

// kmeansIterations bounds Lloyd's iterations when fitting colour centres.
const kmeansIterations = 30

// fitColorCenters clusters ab rows (two values each) into the k rows of
// centers [k, 2] with k-means: k-means++ seeding from r, then Lloyd's
// iterations until no point changes cluster. A cluster that loses all its
// points keeps its centre.
func fitColorCenters(centers *tensor.Tensor, ab []float32, r *rand.Rand) error {
	k := centers.Dim(0)
	p := len(ab) / 2
	if p < k {
		return fmt.Errorf("video-color: %d colour samples cannot seed %d colour clusters", p, k)
	}
	c := centers.Data
	// k-means++: the first centre uniformly, each next one with probability
	// proportional to the squared distance to the nearest centre so far
	d2 := make([]float64, p)
	first := r.IntN(p)
	c[0], c[1] = ab[2*first], ab[2*first+1]
	for i := range d2 {
		d2[i] = math.Inf(1)
	}
	for j := 1; j < k; j++ {
		var total float64
		for i := range p {
			da, db := float64(ab[2*i]-c[2*j-2]), float64(ab[2*i+1]-c[2*j-1])
			d2[i] = min(d2[i], da*da+db*db)
			total += d2[i]
		}
		pick := 0
		if total > 0 {
			u := r.Float64() * total
			for pick = 0; pick < p-1; pick++ {
				u -= d2[pick]
				if u < 0 {
					break
				}
			}
		} else {
			pick = r.IntN(p)
		}
		c[2*j], c[2*j+1] = ab[2*pick], ab[2*pick+1]
	}
	assign := make([]int32, p)
	for i := range assign {
		assign[i] = -1
	}
	sums := make([]float64, 3*k)
	for range kmeansIterations {
		changed := false
		for i := range p {
			q := nearestColor(c, ab[2*i], ab[2*i+1])
			if q != assign[i] {
				assign[i], changed = q, true
			}
		}
		if !changed {
			break
		}
		clear(sums)
		for i, q := range assign {
			sums[3*q] += float64(ab[2*i])
			sums[3*q+1] += float64(ab[2*i+1])
			sums[3*q+2]++
		}
		for q := range k {
			if n := sums[3*q+2]; n > 0 {
				c[2*q], c[2*q+1] = float32(sums[3*q]/n), float32(sums[3*q+1]/n)
			}
		}
	}
	return nil
}

// nearestColor returns the index of the centre (rows of two values in c)
// nearest to (a, b); ties go to the lower index.
func nearestColor(c []float32, a, b float32) int32 {
	best, bestD := int32(0), float32(math.Inf(1))
	for q := 0; q < len(c); q += 2 {
		da, db := c[q]-a, c[q+1]-b
		if d := da*da + db*db; d < bestD {
			best, bestD = int32(q/2), d
		}
	}
	return best
}

// quantizeColors writes the nearest centre of every ab row into dst.
func quantizeColors(dst []int32, centers *tensor.Tensor, ab []float32) {
	c := centers.Data
	tensor.ParallelFor(len(dst), 1024, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = nearestColor(c, ab[2*i], ab[2*i+1])
		}
	})
}

// oneHotRows writes one-hot rows of q classes for cls into dst (len(cls)*q
// values), scaled by v.
func oneHotRows(dst []float32, cls []int32, q int, v float32) {
	clear(dst)
	for i, j := range cls {
		dst[i*q+int(j)] = v
	}
}
