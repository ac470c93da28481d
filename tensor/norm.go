package tensor

import "math"

// Batch normalisation over x laid out [N, C, inner] (inner = H*W for
// images, 1 for [N, C] features): statistics per channel c over N*inner
// values. Channels are spread over the workers.

// BatchNormTrain normalises x with the batch statistics: out = (x-mean) *
// invstd * gamma + beta, and stores mean and invstd per channel for the
// backward pass. gamma and beta may be nil (no affine transform). It returns
// nothing; the (biased) batch variance is 1/invstd^2 - eps.
func BatchNormTrain(x, out []float32, n, c, inner int, gamma, beta []float32, eps float32, mean, invstd []float32) {
	checkLen("BatchNormTrain", "x", x, n*c*inner)
	checkLen("BatchNormTrain", "out", out, n*c*inner)
	m := float64(n * inner)
	ParallelFor(c, 1, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := 0; i < n; i++ {
				var ps float32
				for _, v := range x[(i*c+ch)*inner : (i*c+ch+1)*inner] {
					ps += v
				}
				s += float64(ps)
			}
			mu := s / m
			var ss float64
			fmu := float32(mu)
			for i := 0; i < n; i++ {
				var ps float32
				for _, v := range x[(i*c+ch)*inner : (i*c+ch+1)*inner] {
					d := v - fmu
					ps += d * d
				}
				ss += float64(ps)
			}
			is := float32(1 / math.Sqrt(ss/m+float64(eps)))
			mean[ch], invstd[ch] = fmu, is
			scale, shift := is, -fmu*is
			if gamma != nil {
				scale *= gamma[ch]
				shift *= gamma[ch]
			}
			if beta != nil {
				shift += beta[ch]
			}
			for i := 0; i < n; i++ {
				ScaleShift(x[(i*c+ch)*inner:(i*c+ch+1)*inner], out[(i*c+ch)*inner:(i*c+ch+1)*inner], scale, shift)
			}
		}
	})
}

// BatchNormBackward computes the gradients of BatchNormTrain: dx (replaced or
// accumulated), dgamma and dbeta (accumulated when non-nil). x is the
// forward input; mean and invstd are what BatchNormTrain stored.
func BatchNormBackward(x, dy, dx []float32, n, c, inner int, gamma, mean, invstd, dgamma, dbeta []float32, accumulate bool) {
	m := float32(n * inner)
	ParallelFor(c, 1, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, is := mean[ch], invstd[ch]
			var sdy, sdyx float64
			for i := 0; i < n; i++ {
				xs := x[(i*c+ch)*inner : (i*c+ch+1)*inner]
				ds := dy[(i*c+ch)*inner : (i*c+ch+1)*inner]
				ds = ds[:len(xs)]
				var a, b float32
				for j, v := range xs {
					a += ds[j]
					b += ds[j] * (v - mu)
				}
				sdy += float64(a)
				sdyx += float64(b)
			}
			// dgamma = sum(dy*xhat), dbeta = sum(dy)
			dg := float32(sdyx) * is
			db := float32(sdy)
			if dgamma != nil {
				dgamma[ch] += dg
			}
			if dbeta != nil {
				dbeta[ch] += db
			}
			if dx == nil {
				continue
			}
			g := float32(1)
			if gamma != nil {
				g = gamma[ch]
			}
			// dx = g*is/m * (m*dy - db - xhat*dg)
			k := g * is / m
			k1 := k * m
			k2 := -k * db
			k3 := -k * dg * is
			for i := 0; i < n; i++ {
				xs := x[(i*c+ch)*inner : (i*c+ch+1)*inner]
				ds := dy[(i*c+ch)*inner : (i*c+ch+1)*inner]
				out := dx[(i*c+ch)*inner : (i*c+ch+1)*inner]
				ds = ds[:len(xs)]
				out = out[:len(xs)]
				if accumulate {
					for j, v := range xs {
						out[j] += k1*ds[j] + k2 + k3*(v-mu)
					}
				} else {
					for j, v := range xs {
						out[j] = k1*ds[j] + k2 + k3*(v-mu)
					}
				}
			}
		}
	})
}

// ChannelAffine computes out = x*scale[c] + shift[c] over [N, C, inner]
// (batch norm in evaluation mode, folded into one scale and shift).
func ChannelAffine(x, out []float32, n, c, inner int, scale, shift []float32) {
	ParallelFor(n*c, 16, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			ch := r % c
			ScaleShift(x[r*inner:(r+1)*inner], out[r*inner:(r+1)*inner], scale[ch], shift[ch])
		}
	})
}

// LayerNormForward normalises each row of x [rows, d]: out = (x-mean)*invstd
// * gamma + beta (gamma, beta may be nil) and stores per-row mean and invstd.
func LayerNormForward(x, out []float32, rows, d int, gamma, beta []float32, eps float32, mean, invstd []float32) {
	ParallelFor(rows, 8, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			src := x[r*d : (r+1)*d]
			var s float32
			for _, v := range src {
				s += v
			}
			mu := s / float32(d)
			var ss float32
			for _, v := range src {
				t := v - mu
				ss += t * t
			}
			is := float32(1 / math.Sqrt(float64(ss/float32(d)+eps)))
			mean[r], invstd[r] = mu, is
			dst := out[r*d : (r+1)*d]
			switch {
			case gamma != nil && beta != nil:
				gamma, beta := gamma[:d], beta[:d]
				for j, v := range src {
					dst[j] = (v-mu)*is*gamma[j] + beta[j]
				}
			default:
				for j, v := range src {
					dst[j] = (v - mu) * is
				}
			}
		}
	})
}

// LayerNormBackward computes dx (replaced or accumulated) and accumulates
// dgamma, dbeta (when non-nil) for LayerNormForward.
func LayerNormBackward(x, dy, dx []float32, rows, d int, gamma, mean, invstd, dgamma, dbeta []float32, accumulate bool) {
	if dgamma != nil || dbeta != nil {
		// parameter gradients: column sums, done serially per column block
		// to avoid write races
		ParallelFor(d, 64, func(_, lo, hi int) {
			for r := 0; r < rows; r++ {
				mu, is := mean[r], invstd[r]
				xs := x[r*d+lo : r*d+hi]
				ds := dy[r*d+lo : r*d+hi]
				if dgamma != nil {
					dg := dgamma[lo:hi]
					for j, v := range xs {
						dg[j] += ds[j] * (v - mu) * is
					}
				}
				if dbeta != nil {
					dbt := dbeta[lo:hi]
					for j := range ds {
						dbt[j] += ds[j]
					}
				}
			}
		})
	}
	if dx == nil {
		return
	}
	ParallelFor(rows, 8, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			mu, is := mean[r], invstd[r]
			xs := x[r*d : (r+1)*d]
			ds := dy[r*d : (r+1)*d]
			out := dx[r*d : (r+1)*d]
			// g = dy*gamma; dx = is * (g - mean(g) - xhat*mean(g*xhat))
			var sg, sgx float32
			for j, v := range xs {
				g := ds[j]
				if gamma != nil {
					g *= gamma[j]
				}
				sg += g
				sgx += g * (v - mu) * is
			}
			sg /= float32(d)
			sgx /= float32(d)
			for j, v := range xs {
				g := ds[j]
				if gamma != nil {
					g *= gamma[j]
				}
				val := is * (g - sg - (v-mu)*is*sgx)
				if accumulate {
					out[j] += val
				} else {
					out[j] = val
				}
			}
		}
	})
}
