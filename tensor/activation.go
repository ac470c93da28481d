package tensor

import "math"

const parallelGrain = 1 << 15

// ReLU writes max(x, 0) to out.
func ReLU(x, out []float32) {
	ParallelFor(len(x), parallelGrain, func(_, lo, hi int) {
		o := out[lo:hi]
		for i, v := range x[lo:hi] {
			if v > 0 {
				o[i] = v
			} else {
				o[i] = 0
			}
		}
	})
}

// ReLUBackward writes (or adds) g where the ReLU output y is positive.
func ReLUBackward(y, g, dst []float32, accumulate bool) {
	ParallelFor(len(y), parallelGrain, func(_, lo, hi int) {
		d := dst[lo:hi]
		gs := g[lo:hi]
		if accumulate {
			for i, v := range y[lo:hi] {
				if v > 0 {
					d[i] += gs[i]
				}
			}
			return
		}
		for i, v := range y[lo:hi] {
			if v > 0 {
				d[i] = gs[i]
			} else {
				d[i] = 0
			}
		}
	})
}

// Erf32 approximates the error function to about 1e-7 absolute error
// (Abramowitz & Stegun 7.1.26 refined; float32 precision).
func Erf32(x float32) float32 {
	return float32(math.Erf(float64(x)))
}

const invSqrt2 = 0.70710678118654752440
const invSqrt2Pi = 0.39894228040143267794

// GELU writes x*Phi(x) (exact erf form) to out.
func GELU(x, out []float32) {
	ParallelFor(len(x), parallelGrain, func(_, lo, hi int) {
		o := out[lo:hi]
		for i, v := range x[lo:hi] {
			o[i] = 0.5 * v * (1 + Erf32(v*invSqrt2))
		}
	})
}

// GELUBackward writes (or adds) g * GELU'(x).
func GELUBackward(x, g, dst []float32, accumulate bool) {
	ParallelFor(len(x), parallelGrain, func(_, lo, hi int) {
		d := dst[lo:hi]
		gs := g[lo:hi]
		for i, v := range x[lo:hi] {
			cdf := 0.5 * (1 + Erf32(v*invSqrt2))
			pdf := invSqrt2Pi * Exp32(-0.5*v*v)
			val := gs[i] * (cdf + v*pdf)
			if accumulate {
				d[i] += val
			} else {
				d[i] = val
			}
		}
	})
}

// AddReLU writes max(a+b, 0) to out.
func AddReLU(a, b, out []float32) {
	ParallelFor(len(a), parallelGrain, func(_, lo, hi int) {
		o := out[lo:hi]
		bs := b[lo:hi]
		for i, v := range a[lo:hi] {
			s := v + bs[i]
			if s > 0 {
				o[i] = s
			} else {
				o[i] = 0
			}
		}
	})
}
