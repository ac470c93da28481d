package tensor

import "math"

// SoftmaxRows writes the softmax of each row of x [rows, d] to out
// (max-subtracted for stability). With log set it writes log-softmax. out
// may be x.
func SoftmaxRows(x, out []float32, rows, d int, log bool) {
	ParallelFor(rows, 16, func(_, lo, hi int) {
		SoftmaxRowsSerial(x[lo*d:hi*d], out[lo*d:hi*d], hi-lo, d, log)
	})
}

// SoftmaxRowsSerial is SoftmaxRows on the calling goroutine, for callers
// that already run one task per worker.
func SoftmaxRowsSerial(x, out []float32, rows, d int, log bool) {
	for r := 0; r < rows; r++ {
		src := x[r*d : (r+1)*d]
		dst := out[r*d : (r+1)*d]
		m := float32(math.Inf(-1))
		for _, v := range src {
			if v > m {
				m = v
			}
		}
		if math.IsInf(float64(m), -1) {
			// every entry -Inf: define the row as uniform zeros (softmax)
			// or -Inf (log); callers mask such rows.
			for j := range dst {
				if log {
					dst[j] = m
				} else {
					dst[j] = 0
				}
			}
			continue
		}
		var s float32
		if log {
			for _, v := range src {
				s += Exp32(v - m)
			}
			ls := m + float32(math.Log(float64(s)))
			for j, v := range src {
				dst[j] = v - ls
			}
			continue
		}
		for j, v := range src {
			e := Exp32(v - m)
			dst[j] = e
			s += e
		}
		inv := 1 / s
		for j := range dst {
			dst[j] *= inv
		}
	}
}

// SoftmaxBackwardRows writes (or adds) the gradient of the softmax input,
// y*(g - sum(y*g)) per row, given the softmax output y and the output's
// gradient g [rows, d], on the calling goroutine. dst may be g.
func SoftmaxBackwardRows(y, g, dst []float32, rows, d int, accumulate bool) {
	for r := 0; r < rows; r++ {
		yr, gr, dr := y[r*d:(r+1)*d], g[r*d:(r+1)*d], dst[r*d:(r+1)*d]
		var s float32
		for j, v := range yr {
			s += v * gr[j]
		}
		for j, v := range yr {
			val := v * (gr[j] - s)
			if accumulate {
				dr[j] += val
			} else {
				dr[j] = val
			}
		}
	}
}

// ln2hi + ln2lo is ln 2 split so that k*ln2hi is exact for the k of
// float32 exponents (Cephes' reduction).
const ln2hi, ln2lo, log2e = 0.693359375, -2.12194440e-4, 1.44269504088896341

// Cephes expf's minimax polynomial for exp on [-ln2/2, ln2/2], highest
// degree first (shared with the AVX2 GELU kernels' table).
const expC0, expC1, expC2, expC3, expC4, expC5 = 1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1

// expReduced is exp(r) for r in [-ln2/2, ln2/2].
func expReduced(r float32) float32 {
	p := float32(expC0)
	p = p*r + expC1
	p = p*r + expC2
	p = p*r + expC3
	p = p*r + expC4
	p = p*r + expC5
	return p*r*r + r + 1
}

// Exp32 is a float32 exp accurate to about 2 ulp, several times faster
// than math.Exp: a Cephes polynomial on the reduced argument, scaled by a
// power of two built directly in the float32 exponent bits.
func Exp32(x float32) float32 {
	if x < -87.3 {
		return 0
	}
	if x > 88.7 {
		return float32(math.Inf(1))
	}
	if x != x {
		return x
	}
	// exp(x) = 2^k * exp(r), r = x - k*ln2 in [-ln2/2, ln2/2]
	t := x*log2e + 0.5
	k := int32(t) // truncates toward zero: step down once for negative t
	if float32(k) > t {
		k--
	}
	kf := float32(k)
	p := expReduced(x - kf*ln2hi - kf*ln2lo)
	// k is in [-126, 128] for the inputs that reach here; 2^128 is not a
	// float32, so the top step scales twice.
	if k > 127 {
		return p * 2 * math.Float32frombits(uint32(127+127)<<23)
	}
	return p * math.Float32frombits(uint32(k+127)<<23)
}
