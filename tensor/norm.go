package tensor

import "math"

// Batch normalisation over x laid out [N, C, inner] (inner = H*W for
// images, 1 for [N, C] features): statistics per channel c over N*inner
// values. Channels are spread over the workers.

// BatchNormTrain normalises x with the batch statistics: out = (x-mean) *
// invstd * gamma + beta, followed by a ReLU when relu is set, and stores
// mean and invstd per channel for the backward pass. gamma and beta may be
// nil (no affine transform). The (biased) batch variance is
// 1/invstd^2 - eps.
func BatchNormTrain(x, out []float32, n, c, inner int, gamma, beta []float32, eps float32, mean, invstd []float32, relu bool) {
	checkLen("BatchNormTrain", "x", x, n*c*inner)
	checkLen("BatchNormTrain", "out", out, n*c*inner)
	m := float64(n * inner)
	ParallelFor(c, 1, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := 0; i < n; i++ {
				s += float64(planeSum(x[(i*c+ch)*inner : (i*c+ch+1)*inner]))
			}
			fmu := float32(s / m)
			var ss float64
			for i := 0; i < n; i++ {
				ss += float64(planeSumSqDev(x[(i*c+ch)*inner:(i*c+ch+1)*inner], fmu))
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
				planeAffine(x[(i*c+ch)*inner:(i*c+ch+1)*inner], out[(i*c+ch)*inner:(i*c+ch+1)*inner], scale, shift, relu)
			}
		}
	})
}

// BatchNormBackward computes the gradients of BatchNormTrain: dx (replaced or
// accumulated), dgamma and dbeta (accumulated when non-nil). x is the
// forward input; mean and invstd are what BatchNormTrain stored. When the
// forward applied a ReLU, reluOut is its output (the gradient is masked by
// reluOut > 0 first); otherwise nil.
func BatchNormBackward(x, dy, dx []float32, n, c, inner int, gamma, mean, invstd, dgamma, dbeta []float32, accumulate bool, reluOut []float32) {
	m := float32(n * inner)
	var scratch []*Tensor
	if reluOut != nil {
		scratch = make([]*Tensor, Workers())
		defer func() {
			for _, t := range scratch {
				Buffers.Put(t)
			}
		}()
	}
	ParallelFor(c, 1, func(worker int, lo, hi int) {
		var mask []float32
		if reluOut != nil {
			if scratch[worker] == nil {
				scratch[worker] = Buffers.Get(inner)
			}
			mask = scratch[worker].Data
		}
		// grad returns plane i's output gradient, masked by the ReLU.
		grad := func(i, ch int) []float32 {
			g := dy[(i*c+ch)*inner : (i*c+ch+1)*inner]
			if mask == nil {
				return g
			}
			ReLUBackwardSerial(reluOut[(i*c+ch)*inner:(i*c+ch+1)*inner], g, mask, false)
			return mask
		}
		for ch := lo; ch < hi; ch++ {
			mu, is := mean[ch], invstd[ch]
			var sdy, sdyx float64
			for i := 0; i < n; i++ {
				a, b := planeDotDev(grad(i, ch), x[(i*c+ch)*inner:(i*c+ch+1)*inner], mu)
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
			// dx = g*is/m * (m*dy - db - xhat*dg) = k1*dy + k3*x + cst
			k := g * is / m
			k1 := k * m
			k3 := -k * dg * is
			cst := -k*db - k3*mu
			for i := 0; i < n; i++ {
				planeBNBack(grad(i, ch), x[(i*c+ch)*inner:(i*c+ch+1)*inner], dx[(i*c+ch)*inner:(i*c+ch+1)*inner], k1, k3, cst, accumulate)
			}
		}
	})
}

// ChannelAffine computes out = x*scale[c] + shift[c] over [N, C, inner]
// (batch norm in evaluation mode, folded into one scale and shift),
// followed by a ReLU when relu is set.
func ChannelAffine(x, out []float32, n, c, inner int, scale, shift []float32, relu bool) {
	ParallelFor(n*c, 16, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			ch := r % c
			planeAffine(x[r*inner:(r+1)*inner], out[r*inner:(r+1)*inner], scale[ch], shift[ch], relu)
		}
	})
}

// The plane helpers run the vector kernel over the largest multiple of its
// width and finish in Go.

func planeSum(x []float32) float32 {
	s, done := vecSum(x)
	for _, v := range x[done:] {
		s += v
	}
	return s
}

func planeSumSqDev(x []float32, mu float32) float32 {
	s, done := vecSumSqDev(x, mu)
	for _, v := range x[done:] {
		d := v - mu
		s += d * d
	}
	return s
}

func planeDotDev(dy, x []float32, mu float32) (sdy, sdyx float32) {
	sdy, sdyx, done := vecDotDev(dy, x, mu)
	dy = dy[:len(x)]
	for j := done; j < len(x); j++ {
		sdy += dy[j]
		sdyx += dy[j] * (x[j] - mu)
	}
	return sdy, sdyx
}

func planeBNBack(dy, x, dx []float32, k1, k3, c float32, acc bool) {
	done := vecBNBack(dy, x, dx, k1, k3, c, acc)
	dy, dx = dy[:len(x)], dx[:len(x)]
	for j := done; j < len(x); j++ {
		v := k1*dy[j] + k3*x[j] + c
		if acc {
			dx[j] += v
		} else {
			dx[j] = v
		}
	}
}

func planeAffine(x, out []float32, a, b float32, relu bool) {
	out = out[:len(x)]
	if !relu {
		ScaleShift(x, out, a, b)
		return
	}
	for j := vecAXPBReLU(x, out, a, b); j < len(x); j++ {
		out[j] = reluScalar(x[j]*a + b)
	}
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
