package eval

import (
	"math"
	"math/rand/v2"

	"selfsup/tensor"
)

// randMatrix returns an [n, d] tensor of standard normal values.
func randMatrix(rng *rand.Rand, n, d int) *tensor.Tensor {
	t := tensor.New(n, d)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64())
	}
	return t
}

// blobs draws n rows in d dimensions from c isotropic Gaussians with
// standard deviation sigma around random centres at distance about sep from
// the origin; labels cycle through the classes.
func blobs(rng *rand.Rand, n, d, c int, sep, sigma float64, centres [][]float64) (*tensor.Tensor, []int, [][]float64) {
	if centres == nil {
		centres = make([][]float64, c)
		for k := range centres {
			centres[k] = make([]float64, d)
			norm := 0.0
			for j := range centres[k] {
				centres[k][j] = rng.NormFloat64()
				norm += centres[k][j] * centres[k][j]
			}
			for j := range centres[k] {
				centres[k][j] *= sep / math.Sqrt(norm)
			}
		}
	}
	x := tensor.New(n, d)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		k := i % c
		y[i] = k
		for j := 0; j < d; j++ {
			x.Data[i*d+j] = float32(centres[k][j] + sigma*rng.NormFloat64())
		}
	}
	return x, y, centres
}

// rows builds an [n, d] tensor from literal rows.
func rows(r ...[]float32) *tensor.Tensor {
	d := len(r[0])
	t := tensor.New(len(r), d)
	for i, row := range r {
		copy(t.Data[i*d:], row)
	}
	return t
}

// unit returns the 2-D unit vector at the given angle in degrees.
func unit(deg float64) []float32 {
	a := deg * math.Pi / 180
	return []float32{float32(math.Cos(a)), float32(math.Sin(a))}
}
