package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"selfsup/tensor"
)

// Optimizer selects how TrainLinear fits the probe.
type Optimizer int

const (
	// LBFGSOptimizer fits on the full training set with L-BFGS: exact and
	// fast while N*D fits comfortably in memory (MNIST-sized problems). The
	// zero value.
	LBFGSOptimizer Optimizer = iota
	// SGDOptimizer fits with mini-batch SGD, momentum and a cosine learning
	// rate schedule, for training sets too large for full-batch passes.
	SGDOptimizer
)

// String names the optimiser.
func (o Optimizer) String() string {
	switch o {
	case LBFGSOptimizer:
		return "lbfgs"
	case SGDOptimizer:
		return "sgd"
	}
	return fmt.Sprintf("Optimizer(%d)", int(o))
}

// DefaultWeightDecayGrid is the grid searched when
// LinearConfig.SelectWeightDecay is set and no grid is given, in the spirit
// of the SimCLR and BYOL linear-evaluation protocols.
var DefaultWeightDecayGrid = []float64{0, 1e-6, 1e-5, 1e-4, 1e-3}

// LinearConfig sets up TrainLinear and LinearProbe. Zero fields take the
// documented defaults, so LinearConfig{} is full-batch L-BFGS without
// weight decay.
type LinearConfig struct {
	// Optimizer is LBFGSOptimizer (the zero value) or SGDOptimizer.
	Optimizer Optimizer
	// WeightDecay is the L2 coefficient wd of the objective
	// mean cross-entropy + (wd/2)||W||^2 (bias not decayed). Default 0.
	WeightDecay float64

	// MaxIterations bounds the L-BFGS iterations (default 500).
	MaxIterations int
	// History is the number of L-BFGS correction pairs (default 20).
	History int
	// GradTol and FuncTol are the L-BFGS stopping tolerances (defaults
	// 1e-5 and 1e-9; see LBFGSConfig).
	GradTol, FuncTol float64

	// Epochs is the number of SGD passes over the data (default 100).
	Epochs int
	// BatchSize is the SGD mini-batch size (default 256).
	BatchSize int
	// LearningRate is the SGD peak learning rate, decayed to 0 by a cosine
	// schedule over all steps (default 0.1).
	LearningRate float64
	// Momentum is the SGD momentum (default 0.9; negative for none).
	Momentum float64
	// Seed seeds the SGD shuffling and the validation split.
	Seed uint64

	// SelectWeightDecay picks WeightDecay from WeightDecayGrid by top-1
	// accuracy on a held-out part of the training features (ties go to the
	// lower validation loss), then refits on all of them. Off by default.
	SelectWeightDecay bool
	// WeightDecayGrid is the candidate list (default
	// DefaultWeightDecayGrid).
	WeightDecayGrid []float64
	// ValidationFraction is the share of training rows held out for the
	// selection (default 0.1).
	ValidationFraction float64

	// StdEpsilon is passed to FitStandardizer (default DefaultStdEpsilon).
	StdEpsilon float64
	// Progress, when set, is called after every L-BFGS iteration with its
	// number and the training objective, or after every SGD epoch with its
	// number and the mean cross-entropy over the epoch's mini-batches.
	Progress func(step int, loss float64)
}

func (c LinearConfig) withDefaults() LinearConfig {
	if c.MaxIterations == 0 {
		c.MaxIterations = 500
	}
	if c.History == 0 {
		c.History = 20
	}
	if c.GradTol == 0 {
		c.GradTol = 1e-5
	}
	if c.FuncTol == 0 {
		c.FuncTol = 1e-9
	}
	if c.Epochs == 0 {
		c.Epochs = 100
	}
	if c.BatchSize == 0 {
		c.BatchSize = 256
	}
	if c.LearningRate == 0 {
		c.LearningRate = 0.1
	}
	switch {
	case c.Momentum == 0:
		c.Momentum = 0.9
	case c.Momentum < 0:
		c.Momentum = 0
	}
	if c.WeightDecayGrid == nil {
		c.WeightDecayGrid = DefaultWeightDecayGrid
	}
	if c.ValidationFraction == 0 {
		c.ValidationFraction = 0.1
	}
	return c
}

func (c LinearConfig) check(fn string) error {
	bad := func(v float64) bool { return !(v >= 0) || math.IsInf(v, 0) }
	switch {
	case c.Optimizer != LBFGSOptimizer && c.Optimizer != SGDOptimizer:
		return fmt.Errorf("%s: unknown optimizer %v", fn, c.Optimizer)
	case bad(c.WeightDecay):
		return fmt.Errorf("%s: weight decay is %v, want a finite number >= 0", fn, c.WeightDecay)
	case c.MaxIterations < 1 || c.History < 1 || c.Epochs < 1 || c.BatchSize < 1:
		return fmt.Errorf("%s: MaxIterations %d, History %d, Epochs %d and BatchSize %d must be positive",
			fn, c.MaxIterations, c.History, c.Epochs, c.BatchSize)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("%s: learning rate is %v, want a positive finite number", fn, c.LearningRate)
	case !(c.Momentum < 1):
		return fmt.Errorf("%s: momentum is %v, want less than 1", fn, c.Momentum)
	case c.SelectWeightDecay && len(c.WeightDecayGrid) == 0:
		return fmt.Errorf("%s: the weight-decay grid is empty", fn)
	case c.SelectWeightDecay && !(c.ValidationFraction > 0 && c.ValidationFraction < 1):
		return fmt.Errorf("%s: validation fraction is %v, want a value in (0, 1)", fn, c.ValidationFraction)
	}
	for _, wd := range c.WeightDecayGrid {
		if c.SelectWeightDecay && bad(wd) {
			return fmt.Errorf("%s: weight-decay grid entry %v is not a finite number >= 0", fn, wd)
		}
	}
	return nil
}

// LinearFit describes how a probe was fitted.
type LinearFit struct {
	// Optimizer is the optimiser used.
	Optimizer Optimizer
	// WeightDecay is the decay of the final fit (the selected one when
	// SelectWeightDecay was set).
	WeightDecay float64
	// Loss is the final training objective: mean cross-entropy plus
	// (WeightDecay/2)||W||^2 on the standardised training features.
	Loss float64
	// Iterations counts L-BFGS iterations or SGD steps; Evaluations counts
	// full objective evaluations (L-BFGS only).
	Iterations, Evaluations int
	// Status says why the fit stopped (an LBFGSStatus text, or "completed
	// N epochs" for SGD). Converged reports, for L-BFGS, whether it met its
	// tolerances rather than a budget; SGD has no tolerance and always
	// reports true. Without weight decay on separable data the weights grow
	// without bound, so L-BFGS stops on FuncTol with a tiny loss or at the
	// iteration limit.
	Status    string
	Converged bool
	// Trials holds the weight-decay selection, one entry per grid value,
	// when SelectWeightDecay was set.
	Trials []WeightDecayTrial
}

// WeightDecayTrial is one candidate of the weight-decay selection, scored on
// the held-out part of the training features.
type WeightDecayTrial struct {
	WeightDecay    float64
	ValidationTop1 float64
	ValidationLoss float64
}

// ProbeResult is the outcome of LinearProbe.
type ProbeResult struct {
	// Classifier is the trained probe.
	Classifier *LinearClassifier
	// Fit describes the training.
	Fit *LinearFit
	// Test is the evaluation on the test features.
	Test *Evaluation
}

// LinearProbe trains a linear classifier on the training features (see
// TrainLinear) and evaluates it on the test features: the standard linear
// evaluation of a frozen representation.
func LinearProbe(train *tensor.Tensor, trainLabels []int, test *tensor.Tensor, testLabels []int, numClasses int, cfg LinearConfig) (*ProbeResult, error) {
	const fn = "eval.LinearProbe"
	nt, dt, err := checkFeatures(fn, "test features", test)
	if err != nil {
		return nil, err
	}
	if err := checkLabels(fn, "test labels", testLabels, nt, numClasses); err != nil {
		return nil, err
	}
	if train != nil && train.Dims() == 2 && train.Dim(1) != dt {
		return nil, fmt.Errorf("%s: train features have %d columns, test features %d", fn, train.Dim(1), dt)
	}
	lc, fit, err := trainLinear(fn, train, trainLabels, numClasses, cfg)
	if err != nil {
		return nil, err
	}
	ev, err := lc.Evaluate(test, testLabels)
	if err != nil {
		return nil, err
	}
	return &ProbeResult{Classifier: lc, Fit: fit, Test: ev}, nil
}

// TrainLinear fits multinomial logistic regression to the rows of x ([N, D])
// with labels in [0, numClasses): features are standardised with statistics
// of x, then mean cross-entropy + (wd/2)||W||^2 is minimised from zero
// weights by cfg.Optimizer. x is not modified; L-BFGS holds two
// standardised copies of it (row-major and chunk-transposed, for fast
// GEMMs), SGD standardises each mini-batch as it gathers it.
func TrainLinear(x *tensor.Tensor, labels []int, numClasses int, cfg LinearConfig) (*LinearClassifier, *LinearFit, error) {
	return trainLinear("eval.TrainLinear", x, labels, numClasses, cfg)
}

func trainLinear(fn string, x *tensor.Tensor, labels []int, numClasses int, cfg LinearConfig) (*LinearClassifier, *LinearFit, error) {
	n, _, err := checkFeatures(fn, "train features", x)
	if err != nil {
		return nil, nil, err
	}
	if err := checkLabels(fn, "train labels", labels, n, numClasses); err != nil {
		return nil, nil, err
	}
	cfg = cfg.withDefaults()
	if err := cfg.check(fn); err != nil {
		return nil, nil, err
	}
	if !cfg.SelectWeightDecay {
		return fitLinear(fn, x, labels, numClasses, cfg.WeightDecay, cfg)
	}
	if n < 2 {
		return nil, nil, fmt.Errorf("%s: weight-decay selection needs at least 2 training rows, got %d", fn, n)
	}
	trials, best, err := selectWeightDecay(fn, x, labels, numClasses, cfg)
	if err != nil {
		return nil, nil, err
	}
	lc, fit, err := fitLinear(fn, x, labels, numClasses, best, cfg)
	if err != nil {
		return nil, nil, err
	}
	fit.Trials = trials
	return lc, fit, nil
}

// selectWeightDecay fits one probe per grid value on a random
// (1 - ValidationFraction) of the rows and scores it on the rest.
func selectWeightDecay(fn string, x *tensor.Tensor, labels []int, numClasses int, cfg LinearConfig) ([]WeightDecayTrial, float64, error) {
	n, d := x.Dim(0), x.Dim(1)
	nVal := min(max(int(math.Round(cfg.ValidationFraction*float64(n))), 1), n-1)
	perm := rand.New(rand.NewPCG(cfg.Seed, 0x5eed_d5c4)).Perm(n)
	valIdx, trIdx := perm[:nVal], perm[nVal:]
	sort.Ints(valIdx)
	sort.Ints(trIdx)
	gather := func(idx []int) (*tensor.Tensor, []int) {
		t := tensor.New(len(idx), d)
		y := make([]int, len(idx))
		for r, i := range idx {
			copy(t.Data[r*d:(r+1)*d], x.Data[i*d:(i+1)*d])
			y[r] = labels[i]
		}
		return t, y
	}
	xTr, yTr := gather(trIdx)
	xVal, yVal := gather(valIdx)
	inner := cfg
	inner.Progress = nil
	trials := make([]WeightDecayTrial, 0, len(cfg.WeightDecayGrid))
	best := -1
	for _, wd := range cfg.WeightDecayGrid {
		lc, _, err := fitLinear(fn, xTr, yTr, numClasses, wd, inner)
		if err != nil {
			return nil, 0, err
		}
		ev, err := lc.Evaluate(xVal, yVal)
		if err != nil {
			return nil, 0, err
		}
		loss, err := lc.Loss(xVal, yVal)
		if err != nil {
			return nil, 0, err
		}
		trials = append(trials, WeightDecayTrial{WeightDecay: wd, ValidationTop1: ev.Top1, ValidationLoss: loss})
		t := trials[len(trials)-1]
		if best < 0 || t.ValidationTop1 > trials[best].ValidationTop1 ||
			(t.ValidationTop1 == trials[best].ValidationTop1 && t.ValidationLoss < trials[best].ValidationLoss) {
			best = len(trials) - 1
		}
	}
	return trials, trials[best].WeightDecay, nil
}

// fitLinear standardises and fits with one weight decay.
func fitLinear(fn string, x *tensor.Tensor, labels []int, numClasses int, wd float64, cfg LinearConfig) (*LinearClassifier, *LinearFit, error) {
	st, err := FitStandardizer(x, cfg.StdEpsilon)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", fn, err)
	}
	d := x.Dim(1)
	lc := &LinearClassifier{W: tensor.New(numClasses, d), B: tensor.New(numClasses), Mean: st.Mean, Std: st.Std}
	fit := &LinearFit{Optimizer: cfg.Optimizer, WeightDecay: wd}
	if cfg.Optimizer == SGDOptimizer {
		fitSGD(x, labels, st, lc, wd, cfg, fit)
		loss, err := lc.Loss(x, labels)
		if err != nil {
			return nil, nil, err
		}
		reg := 0.0
		for _, v := range lc.W.Data {
			reg += float64(v) * float64(v)
		}
		fit.Loss = loss + 0.5*wd*reg
		return lc, fit, nil
	}
	xs := x.Clone() // standardised rows; the objective adds a transposed copy
	st.apply(xs.Data)
	prob := newSoftmaxProblem(xs.Data, labels, d, numClasses, wd)
	lcfg := LBFGSConfig{History: cfg.History, MaxIterations: cfg.MaxIterations, GradTol: cfg.GradTol, FuncTol: cfg.FuncTol}
	if cfg.Progress != nil {
		lcfg.Progress = func(it int, f, _ float64) { cfg.Progress(it, f) }
	}
	res, err := LBFGS(prob.objective, make([]float64, numClasses*(d+1)), lcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", fn, err)
	}
	cd := numClasses * d
	for i, v := range res.X[:cd] {
		lc.W.Data[i] = float32(v)
	}
	for i, v := range res.X[cd:] {
		lc.B.Data[i] = float32(v)
	}
	fit.Loss, fit.Iterations, fit.Evaluations = res.F, res.Iterations, res.Evaluations
	fit.Status, fit.Converged = res.Status.String(), res.Status.Converged()
	return lc, fit, nil
}

// fitSGD runs mini-batch SGD with momentum (PyTorch's formulation: v = mu v
// + g, w -= lr v) and a cosine learning-rate decay to zero, writing the
// weights into lc.
func fitSGD(x *tensor.Tensor, labels []int, st *Standardizer, lc *LinearClassifier, wd float64, cfg LinearConfig, fit *LinearFit) {
	n, d := x.Dim(0), x.Dim(1)
	c := lc.NumClasses()
	bs := min(cfg.BatchSize, n)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x56d_5eed))
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	xb := make([]float32, bs*d)
	yb := make([]int, bs)
	batch := newDesignMatrix(xb, bs, d)
	full := batch.rows
	w, b := lc.W.Data, lc.B.Data
	vw, vb := make([]float32, c*d), make([]float32, c)
	gw, gb := make([]float32, c*d), make([]float64, c)
	work := newSoftmaxWork(d, c)
	inv := st.inverse()
	perEpoch := (n + bs - 1) / bs
	total := cfg.Epochs * perEpoch
	mu := float32(cfg.Momentum)
	step := 0
	for ep := 0; ep < cfg.Epochs; ep++ {
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		epochLoss := 0.0
		for s0 := 0; s0 < n; s0 += bs {
			m := min(bs, n-s0)
			for r, i := range perm[s0 : s0+m] {
				copy(xb[r*d:(r+1)*d], x.Data[i*d:(i+1)*d])
				yb[r] = labels[i]
			}
			standardizeRows(xb[:m*d], st.Mean.Data, inv)
			batch.n = m
			if m < bs {
				batch.setRows(max(1, (m+tensor.Workers()-1)/tensor.Workers()))
			} else {
				batch.setRows(full)
			}
			epochLoss += work.run(batch, yb[:m], w, b, gw, gb)
			lr := float32(cfg.LearningRate * 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(total))))
			invM := float32(1 / float64(m))
			decay := float32(wd)
			for i := range w {
				vw[i] = mu*vw[i] + gw[i]*invM + decay*w[i]
				w[i] -= lr * vw[i]
			}
			for j := range b {
				vb[j] = mu*vb[j] + float32(gb[j])*invM
				b[j] -= lr * vb[j]
			}
			step++
		}
		if cfg.Progress != nil {
			cfg.Progress(ep+1, epochLoss/float64(n))
		}
	}
	fit.Iterations = step
	fit.Status = fmt.Sprintf("completed %d epochs", cfg.Epochs)
	fit.Converged = true
}
