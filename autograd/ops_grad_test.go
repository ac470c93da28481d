package autograd_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/autograd"
)

// gradCases is the table of every op checked by TestGradients: shapes are
// deliberately odd and straddle the GEMM micro-tiles (6x64 AVX-512, 6x16
// AVX2, 4x16 portable) and the parallel split thresholds.
func gradCases() []gradCase {
	var cs []gradCase
	for _, group := range [][]gradCase{
		binaryCases(), unaryCases(), reduceCases(), linearCases(), matmulCases(),
		shapeCases(), convCases(), normCases(), poolCases(), activationCases(),
		softmaxCases(), attentionCases(), lossCases(), graphCases(), parallelCases(),
	} {
		cs = append(cs, group...)
	}
	return cs
}

// binaryCases covers Add, Sub, Mul, Div over broadcasting shape pairs.
func binaryCases() []gradCase {
	type op struct {
		name string
		f    func(a, b *autograd.Var) *autograd.Var
		g    func(x, y float64) float64
	}
	ops := []op{
		{"Add", autograd.Add, func(x, y float64) float64 { return x + y }},
		{"Sub", autograd.Sub, func(x, y float64) float64 { return x - y }},
		{"Mul", autograd.Mul, func(x, y float64) float64 { return x * y }},
		{"Div", autograd.Div, func(x, y float64) float64 { return x / y }},
	}
	pairs := [][2][]int{
		{{7, 13}, {7, 13}},
		{{5, 1, 3}, {4, 1}},          // both sides broadcast
		{{}, {3, 5}},                 // scalar on the left
		{{2, 3, 4}, {3, 1}},          // trailing broadcast
		{{1, 6}, {5, 1}},             // outer product shape
		{{2, 5, 3, 3}, {1, 5, 1, 1}}, // per-channel over NCHW
		{{6}, {4, 6}},                // bias over rows
		{{4, 6}, {1}},                // scalar-like on the right
		{{3, 1, 5}, {3, 1, 5}},       // size-1 dimension in both
		{{2, 1, 7, 1}, {1, 3, 1, 2}}, // alternating broadcast
	}
	var cs []gradCase
	for _, o := range ops {
		for _, p := range pairs {
			a, b := P(p[0]...), P(p[1]...)
			if o.name == "Div" {
				b = b.with(awayFromZero(0.5, 1.5))
			}
			cs = append(cs, gradCase{
				name:  fmt.Sprintf("%s/%v,%v", o.name, p[0], p[1]),
				in:    []gradInput{a, b},
				build: func(v []*autograd.Var) *autograd.Var { return o.f(v[0], v[1]) },
				twin:  func(x []*nd) *nd { return tBinary(x[0], x[1], o.g) },
			})
		}
		// one operand constant: only the other receives a gradient
		cs = append(cs, gradCase{
			name:  o.name + "/const-right",
			in:    []gradInput{P(3, 7), C(7).with(awayFromZero(0.5, 1.5))},
			build: func(v []*autograd.Var) *autograd.Var { return o.f(v[0], v[1]) },
			twin:  func(x []*nd) *nd { return tBinary(x[0], x[1], o.g) },
		}, gradCase{
			name:  o.name + "/const-left",
			in:    []gradInput{C(3, 1), P(3, 7).with(awayFromZero(0.5, 1.5))},
			build: func(v []*autograd.Var) *autograd.Var { return o.f(v[0], v[1]) },
			twin:  func(x []*nd) *nd { return tBinary(x[0], x[1], o.g) },
		})
	}
	return cs
}

// unaryCases covers the elementwise maps built on autograd's unary helper.
func unaryCases() []gradCase {
	type op struct {
		name string
		f    func(a *autograd.Var) *autograd.Var
		g    func(x float64) float64
		draw drawFn
	}
	ops := []op{
		{"Scale", func(a *autograd.Var) *autograd.Var { return autograd.Scale(a, -2.5) }, func(x float64) float64 { return -2.5 * x }, nil},
		{"AddScalar", func(a *autograd.Var) *autograd.Var { return autograd.AddScalar(a, 0.75) }, func(x float64) float64 { return x + 0.75 }, nil},
		{"Neg", autograd.Neg, func(x float64) float64 { return -x }, nil},
		{"Exp", autograd.Exp, math.Exp, uniform(-3, 3)},
		{"Log", autograd.Log, math.Log, uniform(0.2, 3)},
		{"Sqrt", autograd.Sqrt, math.Sqrt, uniform(0.2, 3)},
		{"Square", autograd.Square, func(x float64) float64 { return x * x }, uniform(-2, 2)},
		{"Abs", autograd.Abs, math.Abs, awayFromZero(0.05, 1)},
	}
	var cs []gradCase
	for _, o := range ops {
		for _, shape := range [][]int{{3, 17}, {}, {2, 3, 5, 7}} {
			cs = append(cs, gradCase{
				name:  fmt.Sprintf("%s/%v", o.name, shape),
				in:    []gradInput{P(shape...).with(o.draw)},
				build: func(v []*autograd.Var) *autograd.Var { return o.f(v[0]) },
				twin:  func(x []*nd) *nd { return tMap(x[0], o.g) },
			})
		}
	}
	// large enough for the parallel split of the elementwise loops
	cs = append(cs, gradCase{
		name:  "Exp/large",
		in:    []gradInput{P(70001).with(uniform(-2, 2))},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.Exp(v[0]) },
		twin:  func(x []*nd) *nd { return tMap(x[0], math.Exp) },
	})
	return cs
}

// reduceCases covers Sum, Mean, SumAxis and MeanAxis.
func reduceCases() []gradCase {
	cs := []gradCase{
		{
			name:  "Sum/[4,7]",
			in:    []gradInput{P(4, 7)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Sum(v[0]) },
			twin:  func(x []*nd) *nd { return tSum(x[0]) },
		},
		{
			name:  "Sum/[3,5,2,3]",
			in:    []gradInput{P(3, 5, 2, 3)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Sum(v[0]) },
			twin:  func(x []*nd) *nd { return tSum(x[0]) },
		},
		{
			name:  "Mean/[5,9]",
			in:    []gradInput{P(5, 9)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Mean(v[0]) },
			twin:  func(x []*nd) *nd { return tScale(tSum(x[0]), 1.0/45) },
		},
	}
	shape := []int{3, 4, 5}
	for _, axis := range []int{0, 1, 2, -1, -3} {
		for _, keep := range []bool{false, true} {
			n := float64(shape[(axis+3)%3])
			cs = append(cs, gradCase{
				name:  fmt.Sprintf("SumAxis/axis%d/keep=%v", axis, keep),
				in:    []gradInput{P(shape...)},
				build: func(v []*autograd.Var) *autograd.Var { return autograd.SumAxis(v[0], axis, keep) },
				twin:  func(x []*nd) *nd { return tSumAxis(x[0], axis, keep) },
			}, gradCase{
				name:  fmt.Sprintf("MeanAxis/axis%d/keep=%v", axis, keep),
				in:    []gradInput{P(shape...)},
				build: func(v []*autograd.Var) *autograd.Var { return autograd.MeanAxis(v[0], axis, keep) },
				twin:  func(x []*nd) *nd { return tScale(tSumAxis(x[0], axis, keep), 1/n) },
			})
		}
	}
	return cs
}

// linearCases covers Linear with and without bias, 2-D and 3-D input, a
// constant input, and a size large enough for the parallel GEMM.
func linearCases() []gradCase {
	withBias := func(v []*autograd.Var) *autograd.Var { return autograd.Linear(v[0], v[1], v[2]) }
	noBias := func(v []*autograd.Var) *autograd.Var { return autograd.Linear(v[0], v[1], nil) }
	twinBias := func(x []*nd) *nd { return tLinear(x[0], x[1], x[2]) }
	twinNoBias := func(x []*nd) *nd { return tLinear(x[0], x[1], nil) }
	return []gradCase{
		{name: "Linear/7x33->130/bias", in: []gradInput{P(7, 33), P(130, 33), P(130)}, build: withBias, twin: twinBias},
		{name: "Linear/7x33->130/nobias", in: []gradInput{P(7, 33), P(130, 33)}, build: noBias, twin: twinNoBias},
		{name: "Linear/1x5->1/bias", in: []gradInput{P(1, 5), P(1, 5), P(1)}, build: withBias, twin: twinBias},
		{name: "Linear/3d/2x5x9->11/bias", in: []gradInput{P(2, 5, 9), P(11, 9), P(11)}, build: withBias, twin: twinBias},
		{name: "Linear/3d/3x7x17->65/nobias", in: []gradInput{P(3, 7, 17), P(65, 17)}, build: noBias, twin: twinNoBias},
		{name: "Linear/const-input", in: []gradInput{C(13, 19), P(67, 19), P(67)}, build: withBias, twin: twinBias},
		{name: "Linear/const-weight", in: []gradInput{P(6, 16), C(64, 16), P(64)}, build: withBias, twin: twinBias},
		// 2*37*131*129 > 2^20 flops: the parallel GEMM path, forward and backward
		{name: "Linear/parallel/37x129->131", in: []gradInput{P(37, 129), P(131, 129), P(131)}, build: withBias, twin: twinBias, fwdTol: 3e-5, maxFD: 48},
	}
}

// matmulCases covers MatMul 2-D and batched 3-D with every transpose
// combination, plus random shapes.
func matmulCases() []gradCase {
	var cs []gradCase
	// stored shape of an operand whose op() is rows x cols
	stored := func(batch, rows, cols int, trans bool) []int {
		if trans {
			rows, cols = cols, rows
		}
		if batch > 0 {
			return []int{batch, rows, cols}
		}
		return []int{rows, cols}
	}
	add := func(name string, batch, m, k, n int, ta, tb bool, aConst bool) {
		a := P(stored(batch, m, k, ta)...)
		if aConst {
			a.constant = true
		}
		cs = append(cs, gradCase{
			name:  name,
			in:    []gradInput{a, P(stored(batch, k, n, tb)...)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.MatMul(v[0], v[1], ta, tb) },
			twin:  func(x []*nd) *nd { return tMatMul(x[0], x[1], ta, tb) },
			maxFD: 96,
		})
	}
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			add(fmt.Sprintf("MatMul/2d/13x67x5/tA=%v,tB=%v", ta, tb), 0, 13, 67, 5, ta, tb, false)
			add(fmt.Sprintf("MatMul/3d/3x7x19x65/tA=%v,tB=%v", ta, tb), 3, 7, 19, 65, ta, tb, false)
		}
	}
	add("MatMul/3d/batch1", 1, 5, 4, 3, false, true, false)
	add("MatMul/2d/const-a", 0, 6, 9, 17, true, false, true)
	add("MatMul/2d/1x1x1", 0, 1, 1, 1, false, false, false)
	// 2*70*129*65 > 2^20: the parallel GEMM split along m
	add("MatMul/2d/parallel/70x129x65", 0, 70, 129, 65, false, false, false)
	r := rand.New(rand.NewPCG(2024, 7))
	for i := 0; i < 6; i++ {
		m, k, n := 1+r.IntN(70), 1+r.IntN(70), 1+r.IntN(70)
		batch := 0
		if i%2 == 1 {
			batch = 1 + r.IntN(4)
		}
		ta, tb := r.IntN(2) == 1, r.IntN(2) == 1
		add(fmt.Sprintf("MatMul/random%d/b%d/%dx%dx%d/tA=%v,tB=%v", i, batch, m, k, n, ta, tb), batch, m, k, n, ta, tb, false)
	}
	return cs
}

// attentionCases covers the fused multi-head attention: one and several
// heads, one token, enough heads and images for the parallel split, and a
// second use of qkv so that the backward pass accumulates.
func attentionCases() []gradCase {
	var cs []gradCase
	for _, c := range []struct{ b, t, d, heads int }{
		{2, 5, 12, 3}, {1, 17, 16, 2}, {3, 1, 4, 1}, {4, 13, 24, 4},
	} {
		cs = append(cs, gradCase{
			name:  fmt.Sprintf("Attention/b%d/t%d/d%d/h%d", c.b, c.t, c.d, c.heads),
			in:    []gradInput{P(c.b, c.t, 3*c.d)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Attention(v[0], c.heads) },
			twin:  func(x []*nd) *nd { return tAttention(x[0], c.heads) },
			maxFD: 96,
		})
	}
	cs = append(cs, gradCase{
		name: "Attention/accumulate",
		in:   []gradInput{P(2, 6, 3*8)},
		build: func(v []*autograd.Var) *autograd.Var {
			return autograd.Add(autograd.Attention(v[0], 2), autograd.Narrow(v[0], 2, 8, 8))
		},
		twin: func(x []*nd) *nd {
			return tBinary(tAttention(x[0], 2), tNarrow(x[0], 2, 8, 8), func(a, b float64) float64 { return a + b })
		},
		maxFD: 96,
	})
	return cs
}

// shapeCases covers the shape and indexing ops.
func shapeCases() []gradCase {
	idxTok := [][]int{{0, 7, 3, 4}, {5, 1, 2, 6}, {7, 6, 0, 1}}
	return []gradCase{
		{
			name:  "Reshape/[3,4,5]->[5,-1]",
			in:    []gradInput{P(3, 4, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Reshape(v[0], 5, -1) },
			twin:  func(x []*nd) *nd { return tReshape(x[0], 5, 12) },
		},
		{
			// a view of an intermediate: the gradient must reach the leaf
			name: "Reshape/of-intermediate",
			in:   []gradInput{P(2, 3, 4)},
			build: func(v []*autograd.Var) *autograd.Var {
				return autograd.Tanh(autograd.Reshape(autograd.Exp(v[0]), 4, 6))
			},
			twin: func(x []*nd) *nd { return tMap(tReshape(tMap(x[0], math.Exp), 4, 6), math.Tanh) },
		},
		{
			name:  "Flatten/[3,2,5,7]",
			in:    []gradInput{P(3, 2, 5, 7)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Flatten(v[0]) },
			twin:  func(x []*nd) *nd { return tReshape(x[0], 3, 70) },
		},
		{
			name:  "Permute/[2,3,4,5]/(2,0,3,1)",
			in:    []gradInput{P(2, 3, 4, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Permute(v[0], 2, 0, 3, 1) },
			twin:  func(x []*nd) *nd { return tPermute(x[0], 2, 0, 3, 1) },
		},
		{
			name:  "Permute/[3,7]/(1,0)",
			in:    []gradInput{P(3, 7)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Permute(v[0], 1, 0) },
			twin:  func(x []*nd) *nd { return tPermute(x[0], 1, 0) },
		},
		{
			name:  "Permute/identity",
			in:    []gradInput{P(2, 3, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Permute(v[0], 0, 1, 2) },
			twin:  func(x []*nd) *nd { return tPermute(x[0], 0, 1, 2) },
		},
		{
			name:  "Transpose/[3,4,5]",
			in:    []gradInput{P(3, 4, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Transpose(v[0]) },
			twin:  func(x []*nd) *nd { return tTranspose(x[0]) },
		},
		{
			name:  "Transpose/[1,9]",
			in:    []gradInput{P(1, 9)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Transpose(v[0]) },
			twin:  func(x []*nd) *nd { return tTranspose(x[0]) },
		},
		{
			name:  "Concat/axis1",
			in:    []gradInput{P(2, 3, 4), P(2, 1, 4), C(2, 5, 4)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Concat(1, v[0], v[1], v[2]) },
			twin:  func(x []*nd) *nd { return tConcat(1, x[0], x[1], x[2]) },
		},
		{
			name:  "Concat/axis0",
			in:    []gradInput{P(3, 5), P(1, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Concat(0, v[0], v[1]) },
			twin:  func(x []*nd) *nd { return tConcat(0, x[0], x[1]) },
		},
		{
			name:  "Concat/axis-1",
			in:    []gradInput{P(2, 3, 2), P(2, 3, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Concat(-1, v[0], v[1]) },
			twin:  func(x []*nd) *nd { return tConcat(2, x[0], x[1]) },
		},
		{
			name:  "Concat/same-var-twice",
			in:    []gradInput{P(2, 3)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Concat(0, v[0], v[0]) },
			twin:  func(x []*nd) *nd { return tConcat(0, x[0], x[0]) },
		},
		{
			name:  "Narrow/axis1",
			in:    []gradInput{P(4, 9, 3)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Narrow(v[0], 1, 2, 5) },
			twin:  func(x []*nd) *nd { return tNarrow(x[0], 1, 2, 5) },
		},
		{
			name:  "Narrow/axis-1",
			in:    []gradInput{P(3, 11)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Narrow(v[0], -1, 10, 1) },
			twin:  func(x []*nd) *nd { return tNarrow(x[0], 1, 10, 1) },
		},
		{
			// the pieces are reassembled in another order, so a gradient
			// routed to the wrong piece fails
			name: "Split/axis1",
			in:   []gradInput{P(4, 9, 3)},
			build: func(v []*autograd.Var) *autograd.Var {
				s := autograd.Split(v[0], 1, 2, 3, 4)
				return autograd.Concat(1, s[2], s[0], s[1])
			},
			twin: func(x []*nd) *nd {
				return tConcat(1, tNarrow(x[0], 1, 5, 4), tNarrow(x[0], 1, 0, 2), tNarrow(x[0], 1, 2, 3))
			},
		},
		{
			name: "Split/axis0/scaled",
			in:   []gradInput{P(5, 3)},
			build: func(v []*autograd.Var) *autograd.Var {
				s := autograd.Split(v[0], 0, 2, 3)
				return autograd.Concat(0, autograd.Scale(s[1], 3), s[0])
			},
			twin: func(x []*nd) *nd { return tConcat(0, tScale(tNarrow(x[0], 0, 2, 3), 3), tNarrow(x[0], 0, 0, 2)) },
		},
		{
			name:  "IndexSelect/repeated",
			in:    []gradInput{P(6, 4, 3)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.IndexSelect(v[0], []int{5, 0, 0, 3, 5, 5, 1}) },
			twin:  func(x []*nd) *nd { return tIndexSelect(x[0], []int{5, 0, 0, 3, 5, 5, 1}) },
		},
		{
			name:  "IndexSelect/1d",
			in:    []gradInput{P(5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.IndexSelect(v[0], []int{4, 4, 0}) },
			twin:  func(x []*nd) *nd { return tIndexSelect(x[0], []int{4, 4, 0}) },
		},
		{
			name:  "IndexSelect/2d",
			in:    []gradInput{P(9, 7)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.IndexSelect(v[0], []int{8, 2}) },
			twin:  func(x []*nd) *nd { return tIndexSelect(x[0], []int{8, 2}) },
		},
		{
			name:  "GatherTokens/[3,8,5]/k4",
			in:    []gradInput{P(3, 8, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.GatherTokens(v[0], idxTok) },
			twin:  func(x []*nd) *nd { return tGather(x[0], idxTok) },
		},
		{
			name:  "GatherTokens/repeated",
			in:    []gradInput{P(2, 3, 4)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.GatherTokens(v[0], [][]int{{1, 1}, {2, 0}}) },
			twin:  func(x []*nd) *nd { return tGather(x[0], [][]int{{1, 1}, {2, 0}}) },
		},
		{
			name:  "ScatterTokens/[3,8,5]/k4",
			in:    []gradInput{P(3, 8, 5), P(3, 4, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.ScatterTokens(v[0], v[1], idxTok) },
			twin:  func(x []*nd) *nd { return tScatter(x[0], x[1], idxTok) },
		},
		{
			name: "ScatterTokens/const-base",
			in:   []gradInput{C(2, 5, 3), P(2, 2, 3)},
			build: func(v []*autograd.Var) *autograd.Var {
				return autograd.ScatterTokens(v[0], v[1], [][]int{{4, 0}, {2, 3}})
			},
			twin: func(x []*nd) *nd { return tScatter(x[0], x[1], [][]int{{4, 0}, {2, 3}}) },
		},
		{
			// MAE's round trip: keep some tokens, transform them, put them back
			name: "GatherScatter/roundtrip",
			in:   []gradInput{P(3, 8, 5)},
			build: func(v []*autograd.Var) *autograd.Var {
				return autograd.ScatterTokens(v[0], autograd.Tanh(autograd.GatherTokens(v[0], idxTok)), idxTok)
			},
			twin: func(x []*nd) *nd { return tScatter(x[0], tMap(tGather(x[0], idxTok), math.Tanh), idxTok) },
		},
	}
}

// convCases covers Conv2d: strides 1/2/3, padding 0/1/2, 1x1, 3x3, 5x5 and
// non-square kernels, non-square inputs, odd channel counts, with and
// without bias, and both backward-data paths (flipped-kernel convolution and
// col2im).
func convCases() []gradCase {
	type cc struct {
		x, w        []int
		stride, pad int
		bias        bool
		constX      bool
	}
	list := []cc{
		{[]int{2, 3, 9, 11}, []int{70, 3, 3, 3}, 1, 1, true, false}, // 70 output channels
		{[]int{5, 4, 7, 6}, []int{6, 4, 1, 1}, 1, 0, false, false},  // pointwise, multi-image chunks
		{[]int{1, 5, 6, 7}, []int{3, 5, 1, 1}, 1, 0, true, false},   // pointwise, one image
		{[]int{2, 3, 11, 9}, []int{5, 3, 5, 5}, 2, 2, true, false},  // 5x5 stride 2
		{[]int{1, 5, 10, 13}, []int{7, 5, 3, 3}, 3, 0, true, false}, // stride 3
		{[]int{3, 2, 8, 8}, []int{4, 2, 3, 3}, 2, 1, false, false},  // stride 2, no bias
		{[]int{2, 3, 6, 7}, []int{4, 3, 1, 1}, 2, 1, true, false},   // 1x1 with stride and padding
		{[]int{2, 3, 7, 9}, []int{5, 3, 3, 1}, 1, 1, true, false},   // non-square kernel
		{[]int{4, 3, 5, 5}, []int{3, 3, 5, 5}, 1, 2, true, false},   // 5x5 "same"
		{[]int{2, 1, 6, 6}, []int{3, 1, 3, 3}, 1, 0, false, false},  // one input channel
		{[]int{2, 3, 5, 6}, []int{5, 3, 3, 3}, 1, 2, true, false},   // padding = kernel-1
		{[]int{1, 2, 4, 5}, []int{3, 2, 1, 1}, 1, 1, false, false},  // 1x1 padded, stride 1
		{[]int{3, 3, 9, 7}, []int{9, 3, 3, 3}, 1, 1, true, true},    // first layer: constant images
		{[]int{1, 7, 3, 3}, []int{2, 7, 3, 3}, 1, 0, true, false},   // 1x1 output
	}
	var cs []gradCase
	for _, c := range list {
		in := []gradInput{P(c.x...), P(c.w...)}
		if c.constX {
			in[0].constant = true
		}
		if c.bias {
			in = append(in, P(c.w[0]))
		}
		cs = append(cs, gradCase{
			name: fmt.Sprintf("Conv2d/x%v/w%v/s%d/p%d/bias=%v", c.x, c.w, c.stride, c.pad, c.bias),
			in:   in,
			build: func(v []*autograd.Var) *autograd.Var {
				var b *autograd.Var
				if c.bias {
					b = v[2]
				}
				return autograd.Conv2d(v[0], v[1], b, c.stride, c.pad)
			},
			twin: func(x []*nd) *nd {
				var b *nd
				if c.bias {
					b = x[2]
				}
				return tConv2d(x[0], x[1], b, c.stride, c.pad)
			},
			maxFD: 48,
		})
	}
	// the fused convolution + bias + ReLU of inference paths
	for _, c := range []cc{list[0], list[1], list[3], list[5]} {
		in := []gradInput{P(c.x...), P(c.w...), P(c.w[0])}
		cs = append(cs, gradCase{
			name:  fmt.Sprintf("Conv2dReLU/x%v/w%v/s%d/p%d", c.x, c.w, c.stride, c.pad),
			in:    in,
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Conv2dReLU(v[0], v[1], v[2], c.stride, c.pad) },
			twin: func(x []*nd) *nd {
				return tMap(tConv2d(x[0], x[1], x[2], c.stride, c.pad), func(v float64) float64 { return math.Max(v, 0) })
			},
			maxFD: 48,
		})
	}
	return cs
}

// normCases covers BatchNorm (training and evaluation, with and without
// affine parameters, [N, C] and [N, C, H, W]) and LayerNorm.
func normCases() []gradCase {
	var cs []gradCase
	type bn struct {
		x        []int
		affine   int // 0 none, 1 gamma only, 2 gamma and beta
		training bool
		eps      float32
		state    bool
		relu     bool // BatchNormReLU
	}
	list := []bn{
		{[]int{4, 5, 3, 3}, 2, true, 1e-3, true, true},
		{[]int{9, 7}, 0, true, 1e-5, false, true},
		{[]int{4, 5, 3, 3}, 2, false, 1e-3, true, true},
		{[]int{4, 5, 3, 3}, 2, true, 1e-3, true, false},
		{[]int{4, 5, 3, 3}, 0, true, 1e-5, false, false},
		{[]int{3, 2, 5, 1}, 1, true, 1e-5, true, false},
		{[]int{9, 7}, 2, true, 1e-3, true, false},
		{[]int{2, 7}, 0, true, 1e-5, false, false},
		{[]int{4, 5, 3, 3}, 2, false, 1e-3, true, false},
		{[]int{4, 5, 3, 3}, 0, false, 1e-5, true, false},
		{[]int{9, 7}, 2, false, 1e-3, true, false},
		{[]int{9, 7}, 1, false, 1e-5, true, false},
	}
	for _, b := range list {
		// With two values per channel every normalised value is about +-1
		// whatever x is, so the true gradient is tiny (it flows through eps
		// only) and float32 cancellation noise is large relative to it; the
		// per-element check still applies.
		normTol := 0.0
		if b.training && numel(b.x)/b.x[1] == 2 {
			normTol = 1e-3
		}
		c := b.x[1]
		in := []gradInput{P(b.x...).with(uniform(-2, 2))}
		if b.affine >= 1 {
			in = append(in, P(c).with(uniform(0.5, 1.5)))
		}
		if b.affine == 2 {
			in = append(in, P(c))
		}
		nParams := len(in)
		in = append(in, C(c), C(c).with(uniform(0.3, 2))) // running mean, running variance
		mode := "eval"
		if b.training {
			mode = "train"
		}
		cs = append(cs, gradCase{
			name: fmt.Sprintf("BatchNorm/%s/x%v/affine%d/state=%v/relu=%v", mode, b.x, b.affine, b.state, b.relu),
			in:   in,
			build: func(v []*autograd.Var) *autograd.Var {
				var g, be *autograd.Var
				if b.affine >= 1 {
					g = v[1]
				}
				if b.affine == 2 {
					be = v[2]
				}
				var st *autograd.BatchNormState
				if b.state {
					st = &autograd.BatchNormState{RunningMean: v[nParams].Value, RunningVar: v[nParams+1].Value, Momentum: 0.1, Eps: b.eps}
				}
				if b.relu {
					return autograd.BatchNormReLU(v[0], g, be, st, b.training)
				}
				return autograd.BatchNorm(v[0], g, be, st, b.training)
			},
			twin: func(x []*nd) *nd {
				var g, be *nd
				if b.affine >= 1 {
					g = x[1]
				}
				if b.affine == 2 {
					be = x[2]
				}
				var y *nd
				if b.training {
					y = tBatchNormTrain(x[0], g, be, float64(b.eps))
				} else {
					y = tBatchNorm(x[0], g, be, x[nParams].d, x[nParams+1].d, float64(b.eps))
				}
				if b.relu {
					y = tMap(y, func(v float64) float64 { return math.Max(v, 0) })
				}
				return y
			},
			fwdTol:  3e-5,
			gradTol: 2e-4,
			normTol: normTol,
		})
	}
	cs = append(cs,
		gradCase{
			name:   "LayerNorm/affine/[5,3,17]",
			in:     []gradInput{P(5, 3, 17).with(uniform(-2, 2)), P(17).with(uniform(0.5, 1.5)), P(17)},
			build:  func(v []*autograd.Var) *autograd.Var { return autograd.LayerNorm(v[0], v[1], v[2], 1e-5) },
			twin:   func(x []*nd) *nd { return tLayerNorm(x[0], x[1], x[2], 1e-5) },
			fwdTol: 3e-5, gradTol: 2e-4,
		},
		gradCase{
			name:   "LayerNorm/plain/[7,33]",
			in:     []gradInput{P(7, 33).with(uniform(-2, 2))},
			build:  func(v []*autograd.Var) *autograd.Var { return autograd.LayerNorm(v[0], nil, nil, 1e-3) },
			twin:   func(x []*nd) *nd { return tLayerNorm(x[0], nil, nil, 1e-3) },
			fwdTol: 3e-5, gradTol: 2e-4,
		},
		gradCase{
			// wide rows: the parameter-gradient column sums split over workers
			name:   "LayerNorm/affine/[6,130]",
			in:     []gradInput{P(6, 130).with(uniform(-2, 2)), P(130).with(uniform(0.5, 1.5)), P(130)},
			build:  func(v []*autograd.Var) *autograd.Var { return autograd.LayerNorm(v[0], v[1], v[2], 1e-5) },
			twin:   func(x []*nd) *nd { return tLayerNorm(x[0], x[1], x[2], 1e-5) },
			fwdTol: 3e-5, gradTol: 2e-4, maxFD: 96,
		},
		gradCase{
			name:   "LayerNorm/const-input",
			in:     []gradInput{C(4, 9), P(9).with(uniform(0.5, 1.5)), P(9)},
			build:  func(v []*autograd.Var) *autograd.Var { return autograd.LayerNorm(v[0], v[1], v[2], 1e-5) },
			twin:   func(x []*nd) *nd { return tLayerNorm(x[0], x[1], x[2], 1e-5) },
			fwdTol: 3e-5, gradTol: 2e-4,
		},
	)
	return cs
}

// poolCases covers MaxPool2d (distinct inputs, no ties), AvgPool2d (with
// padding, counted as zeros) and GlobalAvgPool.
func poolCases() []gradCase {
	type pc struct {
		x                   []int
		kernel, stride, pad int
	}
	list := []pc{
		{[]int{2, 3, 9, 7}, 3, 2, 1},
		{[]int{1, 2, 8, 8}, 2, 2, 0},
		{[]int{2, 1, 5, 6}, 3, 1, 0},
		{[]int{1, 3, 7, 7}, 3, 1, 1},
		{[]int{2, 2, 10, 9}, 5, 3, 2},
	}
	var cs []gradCase
	for _, p := range list {
		cs = append(cs, gradCase{
			name:  fmt.Sprintf("MaxPool2d/x%v/k%d/s%d/p%d", p.x, p.kernel, p.stride, p.pad),
			in:    []gradInput{P(p.x...).with(distinct())},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.MaxPool2d(v[0], p.kernel, p.stride, p.pad) },
			twin:  func(x []*nd) *nd { return tPool2d(x[0], p.kernel, p.stride, p.pad, true) },
		}, gradCase{
			name:  fmt.Sprintf("AvgPool2d/x%v/k%d/s%d/p%d", p.x, p.kernel, p.stride, p.pad),
			in:    []gradInput{P(p.x...)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.AvgPool2d(v[0], p.kernel, p.stride, p.pad) },
			twin:  func(x []*nd) *nd { return tPool2d(x[0], p.kernel, p.stride, p.pad, false) },
		})
	}
	cs = append(cs, gradCase{
		name:  "GlobalAvgPool/[3,5,4,7]",
		in:    []gradInput{P(3, 5, 4, 7)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.GlobalAvgPool(v[0]) },
		twin:  func(x []*nd) *nd { return tGlobalAvgPool(x[0]) },
	}, gradCase{
		name:  "GlobalAvgPool/[70,1,1,3]",
		in:    []gradInput{P(70, 1, 1, 3)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.GlobalAvgPool(v[0]) },
		twin:  func(x []*nd) *nd { return tGlobalAvgPool(x[0]) },
	})
	return cs
}

// activationCases covers ReLU, GELU, Sigmoid, Tanh, LeakyReLU and Dropout.
func activationCases() []gradCase {
	type op struct {
		name string
		f    func(a *autograd.Var) *autograd.Var
		g    func(x float64) float64
		draw drawFn
	}
	leaky := func(x float64) float64 {
		if x > 0 {
			return x
		}
		return 0.1 * x
	}
	ops := []op{
		{"ReLU", autograd.ReLU, func(x float64) float64 { return math.Max(x, 0) }, awayFromZero(0.05, 2)},
		{"GELU", autograd.GELU, gelu64, uniform(-4, 4)},
		{"Sigmoid", autograd.Sigmoid, sigmoid64, uniform(-5, 5)},
		{"Tanh", autograd.Tanh, math.Tanh, uniform(-3, 3)},
		{"LeakyReLU", func(a *autograd.Var) *autograd.Var { return autograd.LeakyReLU(a, 0.1) }, leaky, awayFromZero(0.05, 2)},
	}
	var cs []gradCase
	for _, o := range ops {
		for _, shape := range [][]int{{5, 13}, {2, 3, 4, 5}} {
			cs = append(cs, gradCase{
				name:  fmt.Sprintf("%s/%v", o.name, shape),
				in:    []gradInput{P(shape...).with(o.draw)},
				build: func(v []*autograd.Var) *autograd.Var { return o.f(v[0]) },
				twin:  func(x []*nd) *nd { return tMap(x[0], o.g) },
			})
		}
		// large enough for the parallel split of the activation kernels
		cs = append(cs, gradCase{
			name:  o.name + "/large",
			in:    []gradInput{P(70001).with(o.draw)},
			build: func(v []*autograd.Var) *autograd.Var { return o.f(v[0]) },
			twin:  func(x []*nd) *nd { return tMap(x[0], o.g) },
		})
	}
	// Dropout: the mask comes from a fixed random stream, replayed by the twin
	const p = 0.3
	newRnd := func() func() float32 {
		r := rand.New(rand.NewPCG(11, 13))
		return r.Float32
	}
	cs = append(cs, gradCase{
		name:  "Dropout/p0.3/train",
		in:    []gradInput{P(7, 11)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.Dropout(v[0], p, true, newRnd()) },
		twin: func(x []*nd) *nd {
			rnd := newRnd()
			return tMap(x[0], func(v float64) float64 {
				if rnd() < p {
					return 0
				}
				return v / (1 - float64(float32(p)))
			})
		},
	}, gradCase{
		name:  "Dropout/eval-identity",
		in:    []gradInput{P(4, 5)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.Dropout(v[0], p, false, newRnd()) },
		twin:  func(x []*nd) *nd { return x[0].clone() },
	}, gradCase{
		name:  "Dropout/p0-identity",
		in:    []gradInput{P(4, 5)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.Dropout(v[0], 0, true, newRnd()) },
		twin:  func(x []*nd) *nd { return x[0].clone() },
	})
	return cs
}

// softmaxCases covers Softmax and LogSoftmax, including rows with -Inf
// entries and a row of only -Inf.
func softmaxCases() []gradCase {
	sm := func(v []*autograd.Var) *autograd.Var { return autograd.Softmax(v[0]) }
	lsm := func(v []*autograd.Var) *autograd.Var { return autograd.LogSoftmax(v[0]) }
	// [4,6] with -Inf at row 0 col 2, row 1 cols 0 and 5, and all of row 3
	negInf := withNegInf(2, 6, 11, 18, 19, 20, 21, 22, 23)
	return []gradCase{
		{name: "Softmax/[5,13]", in: []gradInput{P(5, 13).with(uniform(-3, 3))}, build: sm, twin: func(x []*nd) *nd { return tSoftmax(x[0], false) }},
		{name: "Softmax/[3,4,7]", in: []gradInput{P(3, 4, 7).with(uniform(-3, 3))}, build: sm, twin: func(x []*nd) *nd { return tSoftmax(x[0], false) }},
		{name: "Softmax/[2,1]", in: []gradInput{P(2, 1)}, build: sm, twin: func(x []*nd) *nd { return tSoftmax(x[0], false) }},
		{name: "Softmax/-Inf", in: []gradInput{P(4, 6).with(negInf)}, build: sm, twin: func(x []*nd) *nd { return tSoftmax(x[0], false) }},
		{name: "LogSoftmax/[5,13]", in: []gradInput{P(5, 13).with(uniform(-3, 3))}, build: lsm, twin: func(x []*nd) *nd { return tSoftmax(x[0], true) }},
		{name: "LogSoftmax/[3,4,7]", in: []gradInput{P(3, 4, 7).with(uniform(-3, 3))}, build: lsm, twin: func(x []*nd) *nd { return tSoftmax(x[0], true) }},
		{name: "LogSoftmax/large-logits", in: []gradInput{P(3, 9).with(uniform(-60, 60))}, build: lsm, twin: func(x []*nd) *nd { return tSoftmax(x[0], true) }},
		{name: "LogSoftmax/-Inf/forward", in: []gradInput{P(4, 6).with(negInf)}, build: lsm, twin: func(x []*nd) *nd { return tSoftmax(x[0], true) }, fwdOnly: true},
	}
}

// lossCases covers CrossEntropy (label smoothing 0 and 0.1), MSE,
// L2Normalize and CosineSimilarity.
func lossCases() []gradCase {
	targets := []int{3, 0, 9, 9, 5, 1, 7}
	var cs []gradCase
	for _, eps := range []float32{0, 0.1} {
		cs = append(cs, gradCase{
			name:  fmt.Sprintf("CrossEntropy/[7,10]/smooth%v", eps),
			in:    []gradInput{P(7, 10).with(uniform(-3, 3))},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.CrossEntropy(v[0], targets, eps) },
			twin:  func(x []*nd) *nd { return tCrossEntropy(x[0], targets, float64(eps)) },
		})
	}
	cs = append(cs, gradCase{
		name:  "CrossEntropy/[1,2]",
		in:    []gradInput{P(1, 2)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.CrossEntropy(v[0], []int{1}, 0) },
		twin:  func(x []*nd) *nd { return tCrossEntropy(x[0], []int{1}, 0) },
	}, gradCase{
		name:  "MSE/[5,7]",
		in:    []gradInput{P(5, 7), P(5, 7)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.MSE(v[0], v[1]) },
		twin: func(x []*nd) *nd {
			return tScale(tSum(tBinary(x[0], x[1], func(a, b float64) float64 { return (a - b) * (a - b) })), 1.0/35)
		},
	}, gradCase{
		name:  "MSE/const-target",
		in:    []gradInput{P(3, 2, 5), C(3, 2, 5)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.MSE(v[0], v[1]) },
		twin: func(x []*nd) *nd {
			return tScale(tSum(tBinary(x[0], x[1], func(a, b float64) float64 { return (a - b) * (a - b) })), 1.0/30)
		},
	}, gradCase{
		name:  "L2Normalize/[6,9]",
		in:    []gradInput{P(6, 9)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.L2Normalize(v[0], 1e-12) },
		twin:  func(x []*nd) *nd { return tL2Normalize(x[0], 1e-12) },
	}, gradCase{
		name:  "L2Normalize/[2,3,5]",
		in:    []gradInput{P(2, 3, 5)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.L2Normalize(v[0], 1e-12) },
		twin:  func(x []*nd) *nd { return tL2Normalize(x[0], 1e-12) },
	}, gradCase{
		// rows alternate between norms well above and well below eps = 1,
		// so both branches of max(norm, eps) are differentiated
		name: "L2Normalize/eps-branch",
		in: []gradInput{P(6, 4).with(func(r *rand.Rand, n int) []float32 {
			s := uniform(-1, 1)(r, n)
			for i := range s {
				if (i/4)%2 == 0 {
					s[i] = s[i]*0.2 + sign32(s[i])*0.05 // norm < 0.5
				} else {
					s[i] = s[i]*2 + sign32(s[i])*1.2 // norm > 2.4
				}
			}
			return s
		})},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.L2Normalize(v[0], 1) },
		twin:  func(x []*nd) *nd { return tL2Normalize(x[0], 1) },
	}, gradCase{
		name:  "CosineSimilarity/[5,8]x[7,8]",
		in:    []gradInput{P(5, 8), P(7, 8)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.CosineSimilarity(v[0], v[1]) },
		twin:  func(x []*nd) *nd { return tCosine(x[0], x[1]) },
	}, gradCase{
		name:  "CosineSimilarity/self",
		in:    []gradInput{P(6, 11)},
		build: func(v []*autograd.Var) *autograd.Var { return autograd.CosineSimilarity(v[0], v[0]) },
		twin:  func(x []*nd) *nd { return tCosine(x[0], x[0]) },
	})
	return cs
}

func sign32(x float32) float32 {
	if x < 0 {
		return -1
	}
	return 1
}

// graphCases checks gradient accumulation through the graph: a leaf or an
// intermediate used more than once, residual connections, and a small
// network end to end.
func graphCases() []gradCase {
	sq := func(x float64) float64 { return x * x }
	return []gradCase{
		{
			name:  "Graph/x*x",
			in:    []gradInput{P(4, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Mul(v[0], v[0]) },
			twin:  func(x []*nd) *nd { return tMap(x[0], sq) },
		},
		{
			name:  "Graph/x+x",
			in:    []gradInput{P(4, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Add(v[0], v[0]) },
			twin:  func(x []*nd) *nd { return tScale(x[0], 2) },
		},
		{
			name:  "Graph/x/x-x",
			in:    []gradInput{P(3, 3).with(awayFromZero(0.5, 1.5))},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Sub(autograd.Div(v[0], v[0]), v[0]) },
			twin:  func(x []*nd) *nd { return tMap(x[0], func(a float64) float64 { return 1 - a }) },
		},
		{
			// an intermediate with two consumers
			name: "Graph/diamond",
			in:   []gradInput{P(3, 7)},
			build: func(v []*autograd.Var) *autograd.Var {
				h := autograd.Exp(v[0])
				return autograd.Mul(h, autograd.Tanh(h))
			},
			twin: func(x []*nd) *nd {
				return tMap(x[0], func(a float64) float64 { return math.Exp(a) * math.Tanh(math.Exp(a)) })
			},
		},
		{
			// x + W2 relu(W1 x + b1): a residual block
			name: "Graph/residual",
			in:   []gradInput{P(5, 9), P(13, 9), P(13), P(9, 13)},
			build: func(v []*autograd.Var) *autograd.Var {
				h := autograd.GELU(autograd.Linear(v[0], v[1], v[2]))
				return autograd.Add(v[0], autograd.Linear(h, v[3], nil))
			},
			twin: func(x []*nd) *nd {
				h := tMap(tLinear(x[0], x[1], x[2]), gelu64)
				return tBinary(x[0], tLinear(h, x[3], nil), func(a, b float64) float64 { return a + b })
			},
		},
		{
			// the same weight applied twice (weight sharing)
			name: "Graph/shared-weight",
			in:   []gradInput{P(4, 6), P(6, 6)},
			build: func(v []*autograd.Var) *autograd.Var {
				return autograd.Linear(autograd.Tanh(autograd.Linear(v[0], v[1], nil)), v[1], nil)
			},
			twin: func(x []*nd) *nd { return tLinear(tMap(tLinear(x[0], x[1], nil), math.Tanh), x[1], nil) },
		},
		{
			// conv -> batch norm -> relu -> pool -> linear -> cross entropy
			name: "Graph/convnet",
			in: []gradInput{
				C(3, 2, 6, 5), P(4, 2, 3, 3), P(4).with(uniform(0.5, 1.5)), P(4), P(3, 4), P(3),
			},
			build: func(v []*autograd.Var) *autograd.Var {
				h := autograd.Conv2d(v[0], v[1], nil, 1, 1)
				h = autograd.Tanh(autograd.BatchNorm(h, v[2], v[3], nil, true))
				return autograd.CrossEntropy(autograd.Linear(autograd.GlobalAvgPool(h), v[4], v[5]), []int{2, 0, 1}, 0.1)
			},
			twin: func(x []*nd) *nd {
				h := tConv2d(x[0], x[1], nil, 1, 1)
				h = tMap(tBatchNormTrain(h, x[2], x[3], 1e-5), math.Tanh)
				return tCrossEntropy(tLinear(tGlobalAvgPool(h), x[4], x[5]), []int{2, 0, 1}, 0.1)
			},
			gradTol: 2e-4,
		},
		{
			// transformer-style: layer norm -> attention scores -> softmax -> values
			name: "Graph/attention",
			in:   []gradInput{P(2, 5, 8), P(8).with(uniform(0.5, 1.5)), P(8)},
			build: func(v []*autograd.Var) *autograd.Var {
				h := autograd.LayerNorm(v[0], v[1], v[2], 1e-5)
				att := autograd.Softmax(autograd.Scale(autograd.MatMul(h, h, false, true), 0.35))
				return autograd.MatMul(att, h, false, false)
			},
			twin: func(x []*nd) *nd {
				h := tLayerNorm(x[0], x[1], x[2], 1e-5)
				att := tSoftmax(tScale(tMatMul(h, h, false, true), 0.35), false)
				return tMatMul(att, h, false, false)
			},
			gradTol: 2e-4,
		},
	}
}

// parallelCases use sizes past the grain of each kernel's ParallelFor, so
// the work is split over several workers (TestMain makes at least four).
func parallelCases() []gradCase {
	return []gradCase{
		{
			// bias gradient column sums: 256 columns per worker
			name:  "Parallel/Linear/3x10->520/bias",
			in:    []gradInput{P(3, 10), P(520, 10), P(520)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Linear(v[0], v[1], v[2]) },
			twin:  func(x []*nd) *nd { return tLinear(x[0], x[1], x[2]) },
		},
		{
			name:   "Parallel/LayerNorm/[6,3,17]",
			in:     []gradInput{P(6, 3, 17).with(uniform(-2, 2)), P(17).with(uniform(0.5, 1.5)), P(17)},
			build:  func(v []*autograd.Var) *autograd.Var { return autograd.LayerNorm(v[0], v[1], v[2], 1e-5) },
			twin:   func(x []*nd) *nd { return tLayerNorm(x[0], x[1], x[2], 1e-5) },
			fwdTol: 3e-5, gradTol: 2e-4,
		},
		{
			name:  "Parallel/Softmax/[40,7]",
			in:    []gradInput{P(40, 7).with(uniform(-3, 3))},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Softmax(v[0]) },
			twin:  func(x []*nd) *nd { return tSoftmax(x[0], false) },
		},
		{
			name:  "Parallel/LogSoftmax/[5,8,3]",
			in:    []gradInput{P(5, 8, 3).with(uniform(-3, 3))},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.LogSoftmax(v[0]) },
			twin:  func(x []*nd) *nd { return tSoftmax(x[0], true) },
		},
		{
			name:  "Parallel/L2Normalize/[130,3]",
			in:    []gradInput{P(130, 3)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.L2Normalize(v[0], 1e-12) },
			twin:  func(x []*nd) *nd { return tL2Normalize(x[0], 1e-12) },
		},
		{
			name:  "Parallel/GlobalAvgPool/[70,2,1,3]",
			in:    []gradInput{P(70, 2, 1, 3)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.GlobalAvgPool(v[0]) },
			twin:  func(x []*nd) *nd { return tGlobalAvgPool(x[0]) },
		},
		{
			name:  "Parallel/MaxPool2d/[4,3,9,7]",
			in:    []gradInput{P(4, 3, 9, 7).with(distinct())},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.MaxPool2d(v[0], 3, 2, 1) },
			twin:  func(x []*nd) *nd { return tPool2d(x[0], 3, 2, 1, true) },
		},
		{
			name:  "Parallel/AvgPool2d/[4,3,9,7]",
			in:    []gradInput{P(4, 3, 9, 7)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.AvgPool2d(v[0], 3, 2, 1) },
			twin:  func(x []*nd) *nd { return tPool2d(x[0], 3, 2, 1, false) },
		},
		{
			// evaluation-mode channel affine: 16 planes per worker
			name: "Parallel/BatchNorm/eval/[8,5,2,2]",
			in:   []gradInput{P(8, 5, 2, 2).with(uniform(-2, 2)), P(5).with(uniform(0.5, 1.5)), P(5), C(5), C(5).with(uniform(0.3, 2))},
			build: func(v []*autograd.Var) *autograd.Var {
				st := &autograd.BatchNormState{RunningMean: v[3].Value, RunningVar: v[4].Value, Momentum: 0.1, Eps: 1e-5}
				return autograd.BatchNorm(v[0], v[1], v[2], st, false)
			},
			twin:   func(x []*nd) *nd { return tBatchNorm(x[0], x[1], x[2], x[3].d, x[4].d, 1e-5) },
			fwdTol: 3e-5, gradTol: 2e-4,
		},
		{
			// many images: several multi-image chunks per worker
			name:  "Parallel/Conv2d/x[17,2,5,5]/w[3,2,3,3]/s1/p1",
			in:    []gradInput{P(17, 2, 5, 5), P(3, 2, 3, 3), P(3)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Conv2d(v[0], v[1], v[2], 1, 1) },
			twin:  func(x []*nd) *nd { return tConv2d(x[0], x[1], x[2], 1, 1) },
			maxFD: 48,
		},
		{
			name:  "Parallel/Conv2d/x[13,3,6,5]/w[4,3,3,3]/s2/p1",
			in:    []gradInput{P(13, 3, 6, 5), P(4, 3, 3, 3)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.Conv2d(v[0], v[1], nil, 2, 1) },
			twin:  func(x []*nd) *nd { return tConv2d(x[0], x[1], nil, 2, 1) },
			maxFD: 48,
		},
		{
			name:  "Parallel/MatMul/3d/9x4x5x6",
			in:    []gradInput{P(9, 4, 5), P(9, 6, 5)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.MatMul(v[0], v[1], false, true) },
			twin:  func(x []*nd) *nd { return tMatMul(x[0], x[1], false, true) },
			maxFD: 96,
		},
	}
}
