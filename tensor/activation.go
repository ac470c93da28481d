package tensor

import "math"

const parallelGrain = 1 << 15

// ReLU writes max(x, 0) to out (NaN stays NaN).
func ReLU(x, out []float32) {
	ParallelFor(len(x), parallelGrain, func(_, lo, hi int) {
		xs, o := x[lo:hi], out[lo:hi]
		done := vecReLU(xs, o)
		for i := done; i < len(xs); i++ {
			o[i] = reluScalar(xs[i])
		}
	})
}

// reluScalar is max(v, 0) without a branch (random signs would defeat the
// branch predictor), keeping NaN.
func reluScalar(v float32) float32 {
	b := math.Float32bits(v)
	if v != v {
		return v
	}
	return math.Float32frombits(b &^ uint32(int32(b)>>31))
}

// ReLUBackward writes (or adds) g where the ReLU output y is positive.
func ReLUBackward(y, g, dst []float32, accumulate bool) {
	ParallelFor(len(y), parallelGrain, func(_, lo, hi int) {
		ReLUBackwardSerial(y[lo:hi], g[lo:hi], dst[lo:hi], accumulate)
	})
}

// ReLUBackwardSerial is ReLUBackward on the calling goroutine.
func ReLUBackwardSerial(y, g, dst []float32, accumulate bool) {
	g, dst = g[:len(y)], dst[:len(y)]
	for i := vecReLUBack(y, g, dst, accumulate); i < len(y); i++ {
		var v float32
		if y[i] > 0 {
			v = g[i]
		}
		if accumulate {
			dst[i] += v
		} else {
			dst[i] = v
		}
	}
}

// AddTo adds src to dst elementwise.
func AddTo(dst, src []float32) {
	src = src[:len(dst)]
	ParallelFor(len(dst), parallelGrain, func(_, lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := vecAddTo(d, s); i < len(d); i++ {
			d[i] += s[i]
		}
	})
}

// ScaleShift writes x*a + b to out (serially: callers parallelise over
// channels).
func ScaleShift(x, out []float32, a, b float32) {
	out = out[:len(x)]
	for i := vecAXPB(x, out, a, b); i < len(x); i++ {
		out[i] = x[i]*a + b
	}
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
		as, bs, o := a[lo:hi], b[lo:hi], out[lo:hi]
		for i := vecAddReLU(as, bs, o); i < len(as); i++ {
			o[i] = reluScalar(as[i] + bs[i])
		}
	})
}

// EMA moves dst towards src: dst = m*dst + (1-m)*src.
func EMA(dst, src []float32, m float32) {
	src = src[:len(dst)]
	ParallelFor(len(dst), parallelGrain, func(_, lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i, v := range s {
			d[i] = m*d[i] + (1-m)*v
		}
	})
}
