//go:build amd64 && !purego

package tensor

import "math"

//go:noescape
func geluAVX2(x, out *float32, n int, tab *float32)

//go:noescape
func geluBackAVX2(x, grad, dst *float32, n int, tab *float32, acc bool)

// geluTable holds the constants of the AVX2 GELU kernels, each repeated
// across an 8-float row so that the instructions can read it from memory
// (the row order is the one gelu_amd64.s documents).
var geluTable = func() (t [25][8]float32) {
	bits := math.Float32frombits
	expBias := int32(127 - 0x4B400000) // 2^k's exponent from 1.5*2^23 + k
	rows := [25]float32{
		bits(0x7fffffff), bits(0x80000000), invSqrt2, 0.3275911, 1, -0.5, -87,
		1.44269504088896341, 12582912, 0.693359375, -2.12194440e-4,
		bits(uint32(expBias)),
		1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
		1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592,
		0.5, invSqrt2Pi,
	}
	for i, v := range rows {
		for j := range t[i] {
			t[i][j] = v
		}
	}
	return t
}()

// vecGELU does the largest multiple of 8 elements of GELU with AVX2 and
// returns how many it did.
func vecGELU(x, out []float32) int {
	n := len(x) &^ 7
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = out[n-1]
	geluAVX2(&x[0], &out[0], n, &geluTable[0][0])
	return n
}

// vecGELUBack is vecGELU for GELUBackward.
func vecGELUBack(x, g, dst []float32, acc bool) int {
	n := len(x) &^ 7
	if !haveAVX2 || n == 0 {
		return 0
	}
	_, _ = g[n-1], dst[n-1]
	geluBackAVX2(&x[0], &g[0], &dst[0], n, &geluTable[0][0], acc)
	return n
}
