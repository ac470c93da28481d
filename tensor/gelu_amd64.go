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
	expBias := int32(127 - expMagicBits) // 2^k's exponent bits from expMagic + k
	rows := [25]float32{
		bits(0x7fffffff), bits(0x80000000), invSqrt2, erfP, 1, -0.5, expLowest,
		log2e, expMagic, ln2hi, ln2lo, bits(uint32(expBias)),
		expC0, expC1, expC2, expC3, expC4, expC5,
		erfA5, erfA4, erfA3, erfA2, erfA1,
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
