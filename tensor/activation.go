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

const invSqrt2 = 0.70710678118654752440
const invSqrt2Pi = 0.39894228040143267794

// GELU writes x*Phi(x) (exact erf form) to out.
func GELU(x, out []float32) {
	ParallelFor(len(x), parallelGrain, func(_, lo, hi int) {
		xs, o := x[lo:hi], out[lo:hi]
		for i := vecGELU(xs, o); i < len(xs); i++ {
			cdf, _ := normalCDF(xs[i])
			o[i] = xs[i] * cdf
		}
	})
}

// GELUBackward writes (or adds) g * GELU'(x).
func GELUBackward(x, g, dst []float32, accumulate bool) {
	ParallelFor(len(x), parallelGrain, func(_, lo, hi int) {
		xs, d, gs := x[lo:hi], dst[lo:hi], g[lo:hi]
		for i := vecGELUBack(xs, gs, d, accumulate); i < len(xs); i++ {
			v := xs[i]
			cdf, e := normalCDF(v)
			val := gs[i] * (cdf + v*invSqrt2Pi*e)
			if accumulate {
				d[i] += val
			} else {
				d[i] = val
			}
		}
	})
}

// Abramowitz & Stegun 7.1.26: erf(x) = 1 - t(a1 + t(a2 + ...)) exp(-x^2)
// with t = 1/(1 + p x), x >= 0, absolute error below 1.5e-7 (shared with the
// AVX2 GELU kernels' table).
const erfP, erfA1, erfA2, erfA3, erfA4, erfA5 = 0.3275911, 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429

// expMagic is 1.5*2^23: adding it to a float32 of magnitude below 2^22
// rounds it to an integer held in the low mantissa bits, so the sum's bits
// minus expMagic's bits are that integer.
const expMagic, expMagicBits = 12582912, 0x4B400000

// expLowest is where expNonPositive clamps: exp(-87) = 1.6e-38, the end of
// the normal float32 range.
const expLowest = -87

// normalCDF returns the standard normal CDF Phi(v) = (1 + erf(v/sqrt2))/2,
// within about 1e-7 (absolute: GELU adds it to 1, so erf's relative accuracy
// near 0 does not matter here), and exp(-v^2/2), which the erf form needs and
// the GELU derivative reuses. Branch-free but for a clamp the data rarely
// reaches: GELU's inputs have random signs, and mispredicted branches cost
// more than the arithmetic.
func normalCDF(v float32) (cdf, e float32) {
	a := math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) // |v|
	u := a * invSqrt2
	e = expNonPositive(-0.5 * v * v)
	t := 1 / (1 + erfP*u)
	p := float32(erfA5)
	p = p*t + erfA4
	p = p*t + erfA3
	p = p*t + erfA2
	p = p*t + erfA1
	y := 1 - p*t*e // erf(|v|/sqrt2)
	erf := math.Float32frombits(math.Float32bits(y) | math.Float32bits(v)&(1<<31))
	return 0.5 + 0.5*erf, e
}

// expNonPositive is Exp32 for x <= 0 without branches on the data: x is
// clamped at expLowest, k = round(x/ln2) comes from adding expMagic, and 2^k
// is built in the exponent bits.
func expNonPositive(x float32) float32 {
	if x < expLowest {
		x = expLowest
	}
	// the explicit conversions round each step to float32 (no fusing), which
	// the magic-number rounding depends on
	s := float32(float32(x*log2e) + expMagic)
	k := int32(math.Float32bits(s)) - expMagicBits
	kf := s - expMagic
	return expReduced(x-kf*ln2hi-kf*ln2lo) * math.Float32frombits(uint32(k+127)<<23)
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
