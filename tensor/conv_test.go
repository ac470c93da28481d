package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConv is the float64 direct convolution the kernels are checked against.
func naiveConv(p ConvParams, x, w, bias []float32) []float64 {
	oh, ow := p.Out()
	out := make([]float64, p.N*p.K*oh*ow)
	for n := 0; n < p.N; n++ {
		for k := 0; k < p.K; k++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s float64
					if bias != nil {
						s = float64(bias[k])
					}
					for c := 0; c < p.C; c++ {
						for r := 0; r < p.R; r++ {
							for q := 0; q < p.S; q++ {
								iy, ix := oy*p.Stride+r-p.Pad, ox*p.Stride+q-p.Pad
								if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
									continue
								}
								s += float64(x[((n*p.C+c)*p.H+iy)*p.W+ix]) * float64(w[((k*p.C+c)*p.R+r)*p.S+q])
							}
						}
					}
					out[((n*p.K+k)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
	return out
}

// naiveConvGrads returns dx, dw, dbias of sum(out * dy) by the same loops.
func naiveConvGrads(p ConvParams, x, w, dy []float32) (dx, dw, db []float64) {
	oh, ow := p.Out()
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	db = make([]float64, p.K)
	for n := 0; n < p.N; n++ {
		for k := 0; k < p.K; k++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					g := float64(dy[((n*p.K+k)*oh+oy)*ow+ox])
					db[k] += g
					for c := 0; c < p.C; c++ {
						for r := 0; r < p.R; r++ {
							for q := 0; q < p.S; q++ {
								iy, ix := oy*p.Stride+r-p.Pad, ox*p.Stride+q-p.Pad
								if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
									continue
								}
								xi := ((n*p.C+c)*p.H+iy)*p.W + ix
								wi := ((k*p.C+c)*p.R+r)*p.S + q
								dx[xi] += g * float64(w[wi])
								dw[wi] += g * float64(x[xi])
							}
						}
					}
				}
			}
		}
	}
	return
}

func assertClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > tol*(1+math.Abs(w)) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], w)
		}
	}
}

var convCases = []ConvParams{
	{N: 2, C: 3, H: 7, W: 7, K: 5, R: 3, S: 3, Stride: 1, Pad: 1},
	{N: 3, C: 4, H: 8, W: 8, K: 6, R: 3, S: 3, Stride: 2, Pad: 1},
	{N: 5, C: 4, H: 5, W: 6, K: 7, R: 1, S: 1, Stride: 1, Pad: 0},
	{N: 4, C: 6, H: 6, W: 6, K: 8, R: 1, S: 1, Stride: 2, Pad: 0},
	{N: 1, C: 2, H: 9, W: 5, K: 3, R: 3, S: 3, Stride: 1, Pad: 0},
	{N: 7, C: 3, H: 4, W: 4, K: 70, R: 3, S: 3, Stride: 1, Pad: 1},
	{N: 2, C: 3, H: 11, W: 11, K: 4, R: 5, S: 5, Stride: 3, Pad: 2},
	{N: 2, C: 3, H: 12, W: 12, K: 8, R: 4, S: 4, Stride: 4, Pad: 0},
	{N: 3, C: 2, H: 6, W: 6, K: 3, R: 2, S: 3, Stride: 1, Pad: 0},
	{N: 2, C: 2, H: 5, W: 5, K: 3, R: 1, S: 1, Stride: 1, Pad: 1},
}

func TestConv2dMatchesDirectConvolution(t *testing.T) {
	for _, kn := range []string{"avx512", "avx2", "go"} {
		for i, p := range convCases {
			t.Run(fmt.Sprintf("%s/case%d", kn, i), func(t *testing.T) {
				withKernel(t, kn, func() {
					r := rand.New(rand.NewPCG(uint64(i), 9))
					oh, ow := p.Out()
					x := randSlice(r, p.N*p.C*p.H*p.W)
					w := randSlice(r, p.K*p.C*p.R*p.S)
					b := randSlice(r, p.K)
					dy := randSlice(r, p.N*p.K*oh*ow)
					tol := 1e-4

					out := make([]float32, p.N*p.K*oh*ow)
					Conv2dForward(p, x, w, b, out, false)
					want := naiveConv(p, x, w, b)
					assertClose(t, "forward", out, want, tol)
					Conv2dForward(p, x, w, b, out, true)
					for j := range want {
						want[j] *= 2
					}
					assertClose(t, "forward accumulate", out, want, tol)

					wdx, wdw, wdb := naiveConvGrads(p, x, w, dy)
					dx := randSlice(r, len(x))
					Conv2dBackwardData(p, dy, w, dx, false)
					assertClose(t, "dx", dx, wdx, tol)
					Conv2dBackwardData(p, dy, w, dx, true)
					for j := range wdx {
						wdx[j] *= 2
					}
					assertClose(t, "dx accumulate", dx, wdx, tol)

					dw := randSlice(r, len(w))
					db := randSlice(r, p.K)
					Conv2dBackwardWeight(p, x, dy, dw, db, false)
					assertClose(t, "dw", dw, wdw, tol)
					assertClose(t, "dbias", db, wdb, tol)
					Conv2dBackwardWeight(p, x, dy, dw, db, true)
					for j := range wdw {
						wdw[j] *= 2
					}
					assertClose(t, "dw accumulate", dw, wdw, tol)
				})
			})
		}
	}
}

func BenchmarkConv3x3(b *testing.B) {
	// DESIGN.md's reference shape: 128x64x16x16, 64->64, fwd+bwd.
	p := ConvParams{N: 128, C: 64, H: 16, W: 16, K: 64, R: 3, S: 3, Stride: 1, Pad: 1}
	r := rand.New(rand.NewPCG(1, 1))
	oh, ow := p.Out()
	x := randSlice(r, p.N*p.C*p.H*p.W)
	w := randSlice(r, p.K*p.C*9)
	out := make([]float32, p.N*p.K*oh*ow)
	dx := make([]float32, len(x))
	dw := make([]float32, len(w))
	flops := 3 * 2 * float64(p.N*p.K*oh*ow*p.C*9)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Conv2dForward(p, x, w, nil, out, false)
		Conv2dBackwardData(p, out, w, dx, false)
		Conv2dBackwardWeight(p, x, out, dw, nil, false)
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
