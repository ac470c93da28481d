// Package train is the one training loop every method shares: batches from
// the loader, the method's loss, backward, the optimizer step with a
// warmup + cosine schedule, the method's after-step updates, a progress bar,
// metrics in the run directory (JSONL), checkpoints every N steps that a
// later run resumes from exactly (model, optimizer, step and data order),
// a clean stop on interrupt, and a loss-curve plot at the end.
package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"selfsup/autograd"
	"selfsup/checkpoint"
	"selfsup/data"
	"selfsup/data/loader"
	"selfsup/diag"
	"selfsup/internal/atomicfile"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/optim"
	"selfsup/plot"
	"selfsup/runlog"
)

// Config controls a training run. Zero values take the method's defaults
// (see methods.Defaults) or the documented ones.
type Config struct {
	// RunDir receives checkpoints, metrics.jsonl, config.json and plots.
	RunDir string `json:"-"`
	// Epochs of training (ignored when Steps is set).
	Epochs int `json:"epochs"`
	// Steps, when positive, is the total number of optimizer steps.
	Steps int64 `json:"steps,omitempty"`
	// BatchSize is the number of images per step (each gives several views).
	BatchSize int `json:"batch_size"`
	// Optimizer is "sgd", "lars" or "adamw".
	Optimizer string `json:"optimizer"`
	// LR is the base learning rate for a batch of 256, scaled linearly to
	// BatchSize (the rule of SimCLR, MoCo and solo-learn).
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Momentum    float64 `json:"momentum"`
	// WarmupSteps of linear warmup before the cosine decay (negative: the
	// method's default fraction of training).
	WarmupSteps int64 `json:"warmup_steps"`
	// ClipGrad clips the global gradient norm when positive.
	ClipGrad float64 `json:"clip_grad,omitempty"`
	// Beta2 is AdamW's second-moment decay (0: the method's, else 0.999).
	Beta2 float64 `json:"beta2,omitempty"`
	// CheckpointEvery saves every that many steps (0: at each epoch end);
	// a checkpoint is always saved at the end and on interrupt.
	CheckpointEvery int64 `json:"checkpoint_every"`
	// Keep is how many checkpoints stay in the run directory (0: 2).
	Keep int `json:"keep"`
	// Seed makes the run reproducible: weights, data order, augmentations.
	Seed uint64 `json:"seed"`
	// Workers for data loading (0: GOMAXPROCS).
	Workers int `json:"workers,omitempty"`
	// Data records the data spec the run trained on (for the record).
	Data string `json:"data"`
	// Progress receives the progress bar (nil: no bar).
	Progress io.Writer `json:"-"`
	// Resume continues from the newest checkpoint in RunDir.
	Resume bool `json:"-"`
	// Heldout, when set, holds images the method's pretext metric (see
	// methods.PretextEvaluator) is measured on after every epoch; at most
	// HeldoutBatches batches of it are used (0: 8).
	Heldout        data.Dataset `json:"-"`
	HeldoutBatches int          `json:"-"`
	// OnEpoch, when set, runs after every epoch (an online monitor); the
	// numbers it returns are logged with the epoch's metrics.
	OnEpoch func(epoch int, m methods.Method) (map[string]float64, error) `json:"-"`
}

// Result summarises a run.
type Result struct {
	Method        methods.Method
	Steps         int64
	Epoch         int
	FinalLoss     float64
	Wall          time.Duration
	ViewsPerSec   float64
	CheckpointDir string
	// Interrupted is set when the context was cancelled; the state at that
	// point is checkpointed.
	Interrupted bool
	// ResumedFrom is the step the run continued from (0 for a fresh run).
	ResumedFrom int64
}

// RunRecord is what a checkpoint's config holds: enough to rebuild the
// method and to continue or reproduce the run.
type RunRecord struct {
	Spec  methods.Spec `json:"spec"`
	Train Config       `json:"train"`
}

// MetricsFile and LossPlot name files in the run directory.
const (
	MetricsFile = "metrics.jsonl"
	LossPlot    = "loss.png"
	ConfigFile  = "config.json"
)

// Run trains the method described by spec on ds. Cancelling ctx stops the
// run after the current step with a checkpoint saved.
func Run(ctx context.Context, spec methods.Spec, ds data.Dataset, cfg Config) (Result, error) {
	r, err := newRun(spec, ds, cfg)
	if err != nil {
		return Result{}, err
	}
	defer r.metrics.Close()
	if err := r.loop(ctx); err != nil {
		return r.res, err
	}
	if err := r.finish(); err != nil {
		return r.res, err
	}
	if !r.res.Interrupted {
		if err := PlotLoss(cfg.RunDir); err != nil {
			return r.res, fmt.Errorf("loss plot: %w", err)
		}
	}
	return r.res, nil
}

// run is one training run's state.
type run struct {
	cfg      Config
	spec     methods.Spec
	rec      RunRecord
	m        methods.Method
	ld       *loader.Loader
	params   []*autograd.Var
	opt      optim.Optimizer
	sched    optim.WarmupCosine
	metrics  *runlog.Metrics
	bar      *runlog.Progress
	res      Result
	start    time.Time
	trained  time.Duration // wall time of the training loop (for the views/s rate)
	perEpoch int64
	total    int64
	step     int64 // optimizer steps taken
	done     int64 // steps taken by this process
	lastLoss float64
	// running sums of the current epoch's losses
	epochLoss float64
	epochN    int
}

// newRun builds the method, loader and optimizer, resumes from the run
// directory's newest checkpoint when asked, and opens the metrics file.
func newRun(spec methods.Spec, ds data.Dataset, cfg Config) (*run, error) {
	r := &run{cfg: cfg, spec: spec, start: time.Now(), lastLoss: math.NaN()}
	if cfg.RunDir == "" {
		return nil, errors.New("train: no run directory")
	}
	if err := fillDefaults(spec.Method, &r.cfg); err != nil {
		return nil, err
	}
	cfg = r.cfg
	spec, err := methods.Resolve(spec, methods.RunInfo{BatchSize: cfg.BatchSize, DataLen: ds.Len()})
	if err != nil {
		return nil, err
	}
	r.spec = spec
	m, err := methods.Build(spec, InitRand(cfg.Seed))
	if err != nil {
		return nil, err
	}
	r.m = m
	r.ld, err = loader.New(ds, loader.Config{BatchSize: cfg.BatchSize, Views: m.Views(), Shuffle: true, DropLast: true, Seed: cfg.Seed, Workers: cfg.Workers})
	if err != nil {
		return nil, fmt.Errorf("data %s: %w", ds.Name(), err)
	}
	r.perEpoch = int64(r.ld.StepsPerEpoch())
	if r.perEpoch == 0 {
		return nil, fmt.Errorf("data %s: %d images do not fill one batch of %d", ds.Name(), ds.Len(), cfg.BatchSize)
	}
	r.total = cfg.Steps
	if r.total <= 0 {
		if cfg.Epochs <= 0 {
			return nil, errors.New("train: set Epochs or Steps")
		}
		r.total = int64(cfg.Epochs) * r.perEpoch
	}
	if cfg.WarmupSteps < 0 {
		d, _ := methods.Defaults(spec.Method)
		r.cfg.WarmupSteps = int64(d.WarmupFrac * float64(r.total))
		cfg = r.cfg
	}
	r.params = trainable(m)
	if r.opt, err = newOptimizer(cfg, r.params); err != nil {
		return nil, err
	}
	lr := cfg.LR * float64(cfg.BatchSize) / 256
	r.sched = optim.WarmupCosine{Base: lr, Final: 0, Warmup: cfg.WarmupSteps, Total: r.total}
	r.rec = RunRecord{Spec: spec, Train: cfg}
	if cfg.Resume {
		if r.step, err = resume(cfg.RunDir, r.rec, m, r.opt); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return nil, err
	}
	if err := writeConfig(cfg.RunDir, r.rec); err != nil {
		return nil, err
	}
	if r.metrics, err = runlog.OpenMetrics(filepath.Join(cfg.RunDir, MetricsFile)); err != nil {
		return nil, err
	}
	r.res = Result{Method: m, ResumedFrom: r.step}
	if cfg.Progress != nil {
		r.bar = runlog.NewProgress(cfg.Progress, r.total, spec.Method, runlog.WithUnit("step"), runlog.WithStart(r.step))
	}
	return r, nil
}

// loop runs epochs until the step budget is spent or ctx is cancelled
// (then res.Interrupted is set and the error is nil).
func (r *run) loop(ctx context.Context) error {
	t0 := time.Now()
	defer func() { r.trained = time.Since(t0) }()
	r.m.SetTraining(true)
	for r.step < r.total {
		epoch := int(r.step / r.perEpoch)
		stopped, err := r.epoch(ctx, epoch)
		if err != nil || stopped {
			r.res.Interrupted = stopped
			return err
		}
		if r.step%r.perEpoch == 0 && r.epochN > 0 {
			if err := r.endEpoch(int(r.step / r.perEpoch)); err != nil {
				return err
			}
		}
	}
	return nil
}

// epoch runs the steps of one epoch (from wherever the run stands in it);
// it reports whether ctx stopped it.
func (r *run) epoch(ctx context.Context, epoch int) (stopped bool, err error) {
	it := r.ld.Resume(ctx, epoch, int(r.step%r.perEpoch))
	defer it.Close()
	for r.step < r.total && int(r.step/r.perEpoch) == epoch {
		if ctx.Err() != nil {
			return true, nil
		}
		b, err := it.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			return false, fmt.Errorf("step %d: %w", r.step+1, err)
		}
		lr := r.sched.At(r.step)
		r.opt.SetLR(lr)
		out, err := runStep(r.m, b, r.cfg, r.step, r.params, r.opt)
		r.ld.Release(b)
		if err != nil {
			return false, fmt.Errorf("step %d: %w", r.step+1, err)
		}
		r.step++
		r.done++
		r.m.AfterStep(float64(r.step) / float64(r.total))
		r.lastLoss = out.loss
		r.epochLoss += out.loss
		r.epochN++
		fields := []runlog.Field{runlog.F("loss", out.loss), runlog.F("lr", lr)}
		for _, k := range slices.Sorted(maps.Keys(out.metrics)) {
			fields = append(fields, runlog.F(k, out.metrics[k]))
		}
		if err := r.metrics.LogRecord(runlog.Record{Step: r.step, Epoch: int64(epoch), Time: time.Now(), Fields: fields}); err != nil {
			return false, err
		}
		if r.bar != nil {
			r.bar.SetFields(fields[:2]...)
			r.bar.Add(1)
		}
		if r.cfg.CheckpointEvery > 0 && r.step%r.cfg.CheckpointEvery == 0 && r.step < r.total {
			if err := r.save(); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

// endEpoch logs the epoch's mean loss (and the monitor's numbers) and saves
// the epoch checkpoint when checkpoints go by epoch.
func (r *run) endEpoch(ep int) error {
	extra := map[string]float64{"epoch_loss": r.epochLoss / float64(r.epochN)}
	if pe, ok := r.m.(methods.PretextEvaluator); ok && r.cfg.Heldout != nil {
		hm, err := heldoutMetrics(pe, r.m, r.cfg, ep)
		if err != nil {
			return fmt.Errorf("epoch %d held-out pretext metric: %w", ep, err)
		}
		for k, v := range hm {
			extra["heldout_"+k] = v
		}
	}
	if r.cfg.OnEpoch != nil {
		more, err := r.cfg.OnEpoch(ep, r.m)
		if err != nil {
			return fmt.Errorf("epoch %d monitor: %w", ep, err)
		}
		for k, v := range more {
			extra[k] = v
		}
		r.m.SetTraining(true)
	}
	var fields []runlog.Field
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		fields = append(fields, runlog.F(k, extra[k]))
	}
	if err := r.metrics.LogRecord(runlog.Record{Step: r.step, Epoch: int64(ep), Time: time.Now(), Fields: fields}); err != nil {
		return err
	}
	r.epochLoss, r.epochN = 0, 0
	if r.cfg.CheckpointEvery == 0 && r.step < r.total {
		return r.save()
	}
	return nil
}

// heldoutMetrics averages a method's pretext metrics over held-out batches
// (evaluation mode, no gradient, fixed seeds so epochs compare).
func heldoutMetrics(pe methods.PretextEvaluator, m methods.Method, cfg Config, epoch int) (map[string]float64, error) {
	nb := cfg.HeldoutBatches
	if nb <= 0 {
		nb = 8
	}
	ld, err := loader.New(cfg.Heldout, loader.Config{BatchSize: cfg.BatchSize, Views: m.Views(), Seed: cfg.Seed ^ 0x4e1d, Workers: cfg.Workers})
	if err != nil {
		return nil, err
	}
	m.SetTraining(false)
	defer m.SetTraining(true)
	it := ld.Epoch(context.Background(), 0)
	defer it.Close()
	sums := map[string]float64{}
	n := 0
	for n < nb {
		b, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		r := rand.New(rand.NewPCG(cfg.Seed^0x4e1d, uint64(n)))
		var got map[string]float64
		if err := autograd.Guard(func() error {
			autograd.NoGrad(func() { got = pe.PretextMetrics(b, r) })
			return nil
		}); err != nil {
			return nil, err
		}
		ld.Release(b)
		for k, v := range got {
			sums[k] += v
		}
		n++
	}
	for k := range sums {
		sums[k] /= float64(max(n, 1))
	}
	return sums, nil
}

// save writes a checkpoint of the current step.
func (r *run) save() error {
	ck := &checkpoint.Checkpoint{
		Arch: r.spec.Backbone.Arch, Method: r.spec.Method, Step: r.step, Epoch: int(r.step / r.perEpoch),
		Metrics: map[string]float64{"loss": r.lastLoss}, Model: nn.StateDict("", r.m), Optimizer: r.opt.State(),
	}
	if err := ck.SetConfig(r.rec); err != nil {
		return err
	}
	dir, err := checkpoint.SaveStep(r.cfg.RunDir, ck, r.cfg.Keep)
	r.res.CheckpointDir = dir
	return err
}

// finish closes the progress bar, saves the final (or interrupted) state
// and fills in the result.
func (r *run) finish() error {
	if r.bar != nil {
		r.bar.Finish()
	}
	r.res.Steps, r.res.Epoch, r.res.FinalLoss = r.step, int(r.step/r.perEpoch), r.lastLoss
	r.res.Wall = time.Since(r.start)
	if s := r.trained.Seconds(); s > 0 {
		r.res.ViewsPerSec = float64(r.done) * float64(r.cfg.BatchSize*len(r.m.Views())) / s
	}
	if r.done > 0 || r.res.Interrupted {
		return r.save()
	}
	return nil
}

// rankEvery is how often (in steps) the effective rank of the embeddings is
// logged.
const rankEvery = 25

type stepOut struct {
	loss    float64
	metrics map[string]float64
}

// runStep computes the loss, backpropagates and steps the optimizer,
// turning shape errors into errors and a non-finite loss into a clear stop.
func runStep(m methods.Method, b loader.Batch, cfg Config, step int64, params []*autograd.Var, opt optim.Optimizer) (stepOut, error) {
	var out stepOut
	err := autograd.Guard(func() error {
		r := rand.New(rand.NewPCG(cfg.Seed^0x9e3779b97f4a7c15, uint64(step)))
		o := m.Loss(b, r)
		out.loss = float64(o.Loss.Item())
		out.metrics = o.Metrics
		if o.Embedding != nil {
			if out.metrics == nil {
				out.metrics = map[string]float64{}
			}
			// collapse diagnostics: the spread every step, the effective
			// rank (an eigen-decomposition) every rankEvery steps
			var opts []diag.Option
			if step%rankEvery != 0 {
				opts = append(opts, diag.WithoutRank())
			}
			for k, v := range diag.Collapse(o.Embedding.Value, opts...) {
				out.metrics[k] = v
			}
		}
		if err := o.Loss.Backward(); err != nil {
			return err
		}
		if cfg.ClipGrad > 0 {
			if n := optim.ClipGradNorm(params, cfg.ClipGrad); math.IsNaN(n) || math.IsInf(n, 0) {
				return fmt.Errorf("gradient norm is %v; training diverged (lower the learning rate?)", n)
			}
		}
		opt.Step()
		optim.ZeroGrad(params)
		return nil
	})
	return out, err
}

func trainable(m nn.Module) []*autograd.Var {
	var out []*autograd.Var
	for _, p := range nn.Parameters(m) {
		if p.RequiresGrad() {
			out = append(out, p)
		}
	}
	return out
}

// fillDefaults applies the method's recommended optimisation settings to
// unset fields and checks the rest.
func fillDefaults(method string, cfg *Config) error {
	d, err := methods.Defaults(method)
	if err != nil {
		return err
	}
	if cfg.Optimizer == "" {
		cfg.Optimizer = d.Optimizer
	}
	if cfg.LR == 0 {
		cfg.LR = d.LR
	}
	if cfg.WeightDecay == 0 {
		cfg.WeightDecay = d.WeightDecay
	}
	if cfg.Momentum == 0 {
		cfg.Momentum = d.Momentum
	}
	if cfg.ClipGrad == 0 {
		cfg.ClipGrad = d.ClipGrad
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = d.Beta2
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 256
	}
	if cfg.BatchSize < 2 {
		return fmt.Errorf("train: batch size %d is too small", cfg.BatchSize)
	}
	if cfg.Beta2 < 0 || cfg.Beta2 >= 1 {
		return fmt.Errorf("train: AdamW beta2 %v is outside [0, 1)", cfg.Beta2)
	}
	if cfg.LR < 0 || cfg.WeightDecay < 0 || cfg.Momentum < 0 || cfg.Momentum >= 1 {
		return fmt.Errorf("train: bad optimisation settings lr=%v weight_decay=%v momentum=%v", cfg.LR, cfg.WeightDecay, cfg.Momentum)
	}
	return nil
}

func newOptimizer(cfg Config, params []*autograd.Var) (optim.Optimizer, error) {
	switch cfg.Optimizer {
	case "sgd":
		return optim.NewSGD(params, optim.SGDConfig{LR: cfg.LR, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay}), nil
	case "lars":
		return optim.NewLARS(params, optim.LARSConfig{LR: cfg.LR, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay, Eta: 0.02, ExcludeBiasAndNorm: true}), nil
	case "adamw":
		return optim.NewAdamW(params, optim.AdamWConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay, Beta2: cfg.Beta2}), nil
	}
	return nil, fmt.Errorf("unknown optimizer %q (sgd, lars or adamw)", cfg.Optimizer)
}

// resume loads the newest checkpoint of runDir into m and opt after
// checking it belongs to the same method and architecture, and returns its
// step.
func resume(runDir string, rec RunRecord, m methods.Method, opt optim.Optimizer) (int64, error) {
	dir, err := checkpoint.LatestIn(runDir)
	if err != nil {
		return 0, fmt.Errorf("resume %s: %w", runDir, err)
	}
	ck, err := checkpoint.Load(dir)
	if err != nil {
		return 0, fmt.Errorf("resume: %w", err)
	}
	var old RunRecord
	if err := ck.DecodeConfig(&old); err != nil {
		return 0, fmt.Errorf("resume %s: %w", dir, err)
	}
	if old.Spec.Method != rec.Spec.Method || old.Spec.Backbone != rec.Spec.Backbone {
		return 0, fmt.Errorf("resume %s: the checkpoint is %s on %s (%d channels, %d px), the run asks for %s on %s (%d channels, %d px)",
			dir, old.Spec.Method, old.Spec.Backbone.Arch, old.Spec.Backbone.InChannels, old.Spec.Backbone.ImageSize,
			rec.Spec.Method, rec.Spec.Backbone.Arch, rec.Spec.Backbone.InChannels, rec.Spec.Backbone.ImageSize)
	}
	if err := ck.ApplyTo(nn.StateDict("", m), rec.Spec.Backbone.Arch, true); err != nil {
		return 0, fmt.Errorf("resume %s: %w", dir, err)
	}
	if err := opt.LoadState(ck.Optimizer); err != nil {
		return 0, fmt.Errorf("resume %s: %w", dir, err)
	}
	return ck.Step, nil
}

func writeConfig(runDir string, rec RunRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(runDir, ConfigFile), append(b, '\n'), 0o644)
}

// PlotLoss draws the loss curve of a run directory's metrics to loss.png.
func PlotLoss(runDir string) error {
	recs, err := runlog.ReadMetrics(filepath.Join(runDir, MetricsFile))
	if err != nil {
		return err
	}
	xs, ys := runlog.Series(recs, "loss")
	if len(xs) == 0 {
		return nil
	}
	lp := &plot.LinePlot{Title: "training loss", XLabel: "step", YLabel: "loss",
		Series: []plot.Series{{Name: "loss", X: xs, Y: ys, Smooth: smoothing(len(xs))}}}
	return lp.SavePNG(filepath.Join(runDir, LossPlot), 800, 500)
}

func smoothing(n int) float64 {
	if n < 50 {
		return 0
	}
	return 0.9
}

// InitRand is the random stream a run with seed draws its initial weights
// from. Random-init baselines draw from it too, so that they hold exactly
// the weights the run with the same seed starts from.
func InitRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5e1f)) }
