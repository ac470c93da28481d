package tsne

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/tensor"
)

// Result is a 2-D embedding with the settings that produced it.
type Result struct {
	// Y holds the embedding, one [x, y] row per input row, centred on
	// the origin.
	Y *tensor.Tensor
	// KL is the KL divergence at the last iteration (see Progress.KL).
	KL float64
	// Method is the gradient actually used (never Auto).
	Method Method
	// LearningRate is the learning rate actually used.
	LearningRate float64
	// Perplexity is the perplexity the affinities were calibrated to.
	Perplexity float64
	// Iterations is the number of iterations run.
	Iterations int
	// InputDims is the width of the data the affinities were computed on:
	// the number of principal components, or the input width without
	// PCA.
	InputDims int
}

// Coords returns the two coordinates of every point as float64 slices, the
// form plot.ScatterPlot takes.
func (r *Result) Coords() (x, y []float64) {
	n := r.Y.Dim(0)
	x, y = make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		x[i], y[i] = float64(r.Y.Data[2*i]), float64(r.Y.Data[2*i+1])
	}
	return x, y
}

// objective computes the gradient of the KL divergence for a layout.
type objective interface {
	gradient(y, grad []float64, exag float64, wantKL bool) float64
}

// Embed computes a 2-D t-SNE embedding of the rows of x ([N, D], finite)
// with the settings of cfg (zero fields take the defaults; see Config). It
// checks ctx between iterations and returns ctx's error when it is
// cancelled. A perplexity too high for N, or other bad settings, is an
// error naming the limit.
func Embed(ctx context.Context, x *tensor.Tensor, cfg Config) (*Result, error) {
	n, d, err := checkInput("tsne.Embed", x)
	if err != nil {
		return nil, err
	}
	if cfg, err = cfg.withDefaults(n); err != nil {
		return nil, err
	}
	input, dims := x.Data, d
	if cfg.PCADims > 0 && d > cfg.PCADims {
		dims = min(cfg.PCADims, n)
		if input, err = pca(x.Data, n, d, dims); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var obj objective
	if cfg.Method == Exact {
		obj = newExactObjective(denseAffinities(input, n, dims, cfg.Perplexity), n)
	} else {
		p, err := sparseAffinities(input, n, dims, cfg.Perplexity)
		if err != nil {
			return nil, err
		}
		obj = newBHObjective(p, n, cfg.Theta)
	}

	y, err := initialLayout(input, n, dims, dims != d, cfg)
	if err != nil {
		return nil, err
	}
	kl, err := optimize(ctx, obj, y, n, cfg)
	if err != nil {
		return nil, err
	}
	out := tensor.New(n, 2)
	for i, v := range y {
		out.Data[i] = float32(v)
	}
	return &Result{Y: out, KL: kl, Method: cfg.Method, LearningRate: cfg.LearningRate,
		Perplexity: cfg.Perplexity, Iterations: cfg.Iterations, InputDims: dims}, nil
}

// initialLayout returns the starting layout (x, y interleaved). For InitPCA,
// input already holding principal components (reduced) gives them directly.
func initialLayout(input []float32, n, dims int, reduced bool, cfg Config) ([]float64, error) {
	y := make([]float64, 2*n)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x75e3))
	if cfg.Init == InitRandom || dims < 2 {
		for i := range y {
			y[i] = initStd * rng.NormFloat64()
		}
		if cfg.Init == InitRandom {
			return y, nil
		}
	}
	var pcs []float32 // [n, 2] or, when reduced, [n, dims]
	stride := 2
	switch {
	case reduced:
		pcs, stride = input, dims
	case dims >= 2:
		var err error
		if pcs, err = pca(input, n, dims, 2); err != nil {
			return nil, err
		}
	default: // one input dimension: it is its own first component
		pcs, stride = input, 1
	}
	cols := min(2, stride)
	sd := 0.0
	for i := 0; i < n; i++ {
		sd += float64(pcs[i*stride]) * float64(pcs[i*stride])
	}
	sd = math.Sqrt(sd / float64(n))
	if sd == 0 {
		sd = 1
	}
	for i := 0; i < n; i++ {
		for c := 0; c < cols; c++ {
			y[2*i+c] = initStd * float64(pcs[i*stride+c]) / sd
		}
	}
	centre(y, n)
	return y, nil
}

// optimize runs gradient descent with momentum and delta-bar-delta gains on
// the layout y and returns the KL divergence at the last iteration.
func optimize(ctx context.Context, obj objective, y []float64, n int, cfg Config) (float64, error) {
	grad := make([]float64, 2*n)
	update := make([]float64, 2*n)
	gains := make([]float64, 2*n)
	for i := range gains {
		gains[i] = 1
	}
	kl := math.NaN()
	for it := 0; it < cfg.Iterations; it++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		exag, momentum := cfg.Exaggeration, initialMomentum
		if it >= cfg.ExaggerationIters {
			exag, momentum = 1, finalMomentum
		}
		done := it + 1
		report := done == cfg.Iterations || (cfg.Progress != nil && done%cfg.ProgressEvery == 0)
		v := obj.gradient(y, grad, exag, report)
		if report {
			kl = v
		}
		for c, g := range grad {
			// Delta-bar-delta: grow the gain while the step keeps going
			// against the gradient, shrink it when the gradient turns.
			if update[c]*g < 0 {
				gains[c] += 0.2
			} else {
				gains[c] = math.Max(gains[c]*0.8, minGain)
			}
			update[c] = momentum*update[c] - cfg.LearningRate*gains[c]*g
			y[c] += update[c]
		}
		centre(y, n)
		if report {
			if !finite(kl) || !allFinite(y) {
				return 0, fmt.Errorf("tsne: the optimisation diverged by iteration %d (learning rate %v too high?)", done, cfg.LearningRate)
			}
			if cfg.Progress != nil {
				cfg.Progress(Progress{Iteration: done, Iterations: cfg.Iterations, KL: kl, Exaggerated: it < cfg.ExaggerationIters})
			}
		}
	}
	return kl, nil
}

// centre moves the layout's mean to the origin.
func centre(y []float64, n int) {
	var mx, my float64
	for i := 0; i < n; i++ {
		mx += y[2*i]
		my += y[2*i+1]
	}
	mx /= float64(n)
	my /= float64(n)
	for i := 0; i < n; i++ {
		y[2*i] -= mx
		y[2*i+1] -= my
	}
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if !finite(x) {
			return false
		}
	}
	return true
}
