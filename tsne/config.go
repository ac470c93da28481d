package tsne

import (
	"fmt"
	"math"
)

// Method selects how the gradient of the KL divergence is computed.
type Method int

const (
	// Auto uses Exact up to ExactMaxN points and BarnesHut above. The zero
	// value.
	Auto Method = iota
	// Exact uses dense affinities and the exact O(N^2) gradient.
	Exact
	// BarnesHut uses the sparse affinities of the 3*perplexity nearest
	// neighbours and a quad-tree for the repulsive forces.
	BarnesHut
)

// String names the method.
func (m Method) String() string {
	switch m {
	case Auto:
		return "auto"
	case Exact:
		return "exact"
	case BarnesHut:
		return "barnes-hut"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// Init selects the layout the optimisation starts from.
type Init int

const (
	// InitRandom draws every coordinate from N(0, 1e-4^2), the original
	// recipe. The zero value.
	InitRandom Init = iota
	// InitPCA starts from the first two principal components scaled to a
	// standard deviation of 1e-4 (openTSNE's default), which keeps more
	// of the global arrangement of the clusters.
	InitPCA
)

// String names the initialisation.
func (i Init) String() string {
	switch i {
	case InitRandom:
		return "random"
	case InitPCA:
		return "pca"
	}
	return fmt.Sprintf("Init(%d)", int(i))
}

// Defaults of the reference implementations.
const (
	DefaultPerplexity        = 30
	DefaultIterations        = 1000
	DefaultExaggeration      = 12
	DefaultExaggerationIters = 250
	DefaultTheta             = 0.5
	DefaultPCADims           = 50
	DefaultProgressEvery     = 50
	// ExactMaxN is the largest N that Auto embeds with the exact
	// gradient; its dense affinities take 4*N^2 bytes (100 MB at 5000).
	ExactMaxN = 5000
)

// Optimiser constants of bhtsne and scikit-learn.
const (
	initialMomentum = 0.5
	finalMomentum   = 0.8
	minGain         = 0.01
	initStd         = 1e-4
)

// Config sets up an embedding. Zero fields take the documented defaults, so
// Config{} is the standard recipe.
type Config struct {
	// Perplexity is the effective number of neighbours each point's
	// Gaussian covers (default 30). It must be at least 1 and below
	// (N-1)/3, since Barnes-Hut keeps 3*perplexity neighbours per point.
	Perplexity float64
	// Iterations of gradient descent (default 1000).
	Iterations int
	// LearningRate of gradient descent; 0 picks max(N/Exaggeration/4, 50),
	// scikit-learn's "auto" rule (Belkina et al. 2019, divided by 4
	// because the gradient here keeps the factor 4 of the paper, which
	// bhtsne and openTSNE drop). For N up to 2400 it is 50, which equals
	// bhtsne's and openTSNE's 200 in their convention.
	LearningRate float64
	// Exaggeration multiplies the affinities during the first
	// ExaggerationIters iterations (default 12), so that clusters form
	// before they settle; 1 turns it off.
	Exaggeration float64
	// ExaggerationIters is the length of the early-exaggeration phase
	// (default 250); the momentum switches from 0.5 to 0.8 at its end.
	ExaggerationIters int
	// Method picks the exact or the Barnes-Hut gradient (default Auto).
	Method Method
	// Theta is the Barnes-Hut opening angle (default 0.5): a quad-tree
	// cell of width w at distance d from a point acts as one body when
	// w/d < Theta. Smaller is more accurate and slower.
	Theta float64
	// PCADims is the number of principal components the input is reduced
	// to when it is wider (default 50); negative keeps the input as is.
	PCADims int
	// Init is the starting layout (default InitRandom).
	Init Init
	// Seed drives the random initial layout and the randomised PCA; the
	// same seed and input give the same embedding.
	Seed uint64
	// Progress, when set, is called every ProgressEvery iterations and
	// after the last one with the KL divergence at that point.
	Progress func(Progress)
	// ProgressEvery is the interval of Progress calls (default 50).
	ProgressEvery int
}

// Progress reports the state of the optimisation.
type Progress struct {
	// Iteration is the number of iterations done.
	Iteration int
	// Iterations is the total the run will do.
	Iterations int
	// KL is the KL divergence between the (unexaggerated) input affinities
	// and the embedding's; under Barnes-Hut it is an estimate over the
	// neighbour graph with the tree's normalisation.
	KL float64
	// Exaggerated reports that early exaggeration is still on.
	Exaggerated bool
}

// Validate reports whether Embed would accept cfg for n points, without
// embedding anything: a command can check its flags (the perplexity limit
// above all) before spending time on feature extraction.
func (c Config) Validate(n int) error {
	_, err := c.withDefaults(n)
	return err
}

// withDefaults fills in zero fields and checks the config against n points.
func (c Config) withDefaults(n int) (Config, error) {
	if c.Perplexity == 0 {
		c.Perplexity = DefaultPerplexity
	}
	if c.Iterations == 0 {
		c.Iterations = DefaultIterations
	}
	if c.Exaggeration == 0 {
		c.Exaggeration = DefaultExaggeration
	}
	if c.ExaggerationIters == 0 {
		c.ExaggerationIters = DefaultExaggerationIters
	}
	if c.Theta == 0 {
		c.Theta = DefaultTheta
	}
	if c.PCADims == 0 {
		c.PCADims = DefaultPCADims
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = DefaultProgressEvery
	}
	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("tsne: "+format, args...)
	}
	switch {
	case !finite(c.Perplexity) || c.Perplexity < 1:
		return bad("perplexity is %v, want a number >= 1", c.Perplexity)
	case c.Iterations < 0:
		return bad("iterations is %d, want a positive number", c.Iterations)
	case !finite(c.LearningRate) || c.LearningRate < 0:
		return bad("learning rate is %v, want a positive number (or 0 for the automatic one)", c.LearningRate)
	case !finite(c.Exaggeration) || c.Exaggeration < 1:
		return bad("exaggeration is %v, want a number >= 1 (1 turns it off)", c.Exaggeration)
	case c.ExaggerationIters < 0:
		return bad("exaggeration iterations is %d, want a positive number", c.ExaggerationIters)
	case !finite(c.Theta) || c.Theta < 0:
		return bad("theta is %v, want a positive number", c.Theta)
	case c.Method < Auto || c.Method > BarnesHut:
		return bad("unknown method %v", c.Method)
	case c.Init < InitRandom || c.Init > InitPCA:
		return bad("unknown initialisation %v", c.Init)
	case c.ProgressEvery < 0:
		return bad("progress interval is %d, want a positive number", c.ProgressEvery)
	}
	if n < 5 {
		return bad("%d points are too few to embed (need at least 5)", n)
	}
	// Barnes-Hut keeps floor(3*perplexity) neighbours, and the binary
	// search needs more candidates than the perplexity it aims at.
	if 3*c.Perplexity >= float64(n-1) {
		return bad("perplexity %v is too high for %d points: it must be below (N-1)/3 = %.4g (3*perplexity neighbours per point)",
			c.Perplexity, n, float64(n-1)/3)
	}
	if c.Method == Auto {
		c.Method = Exact
		if n > ExactMaxN {
			c.Method = BarnesHut
		}
	}
	if c.LearningRate == 0 {
		c.LearningRate = math.Max(float64(n)/c.Exaggeration/4, 50)
	}
	return c, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
