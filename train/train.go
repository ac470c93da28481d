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
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"selfsup/autograd"
	"selfsup/checkpoint"
	"selfsup/data"
	"selfsup/data/loader"
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
	start := time.Now()
	if cfg.RunDir == "" {
		return Result{}, errors.New("train: no run directory")
	}
	if err := fillDefaults(spec.Method, &cfg); err != nil {
		return Result{}, err
	}
	m, err := methods.Build(spec, rand.New(rand.NewPCG(cfg.Seed, 0x5e1f)))
	if err != nil {
		return Result{}, err
	}
	ld, err := loader.New(ds, loader.Config{BatchSize: cfg.BatchSize, Views: m.Views(), Shuffle: true, DropLast: true, Seed: cfg.Seed, Workers: cfg.Workers})
	if err != nil {
		return Result{}, fmt.Errorf("data %s: %w", ds.Name(), err)
	}
	perEpoch := int64(ld.StepsPerEpoch())
	if perEpoch == 0 {
		return Result{}, fmt.Errorf("data %s: %d images do not fill one batch of %d", ds.Name(), ds.Len(), cfg.BatchSize)
	}
	total := cfg.Steps
	if total <= 0 {
		if cfg.Epochs <= 0 {
			return Result{}, errors.New("train: set Epochs or Steps")
		}
		total = int64(cfg.Epochs) * perEpoch
	}
	if cfg.WarmupSteps < 0 {
		d, _ := methods.Defaults(spec.Method)
		cfg.WarmupSteps = int64(d.WarmupFrac * float64(total))
	}
	params := trainable(m)
	opt, err := newOptimizer(cfg, params)
	if err != nil {
		return Result{}, err
	}
	lr := cfg.LR * float64(cfg.BatchSize) / 256
	sched := optim.WarmupCosine{Base: lr, Final: 0, Warmup: cfg.WarmupSteps, Total: total}

	rec := RunRecord{Spec: spec, Train: cfg}
	step := int64(0)
	if cfg.Resume {
		if step, err = resume(cfg.RunDir, rec, m, opt); err != nil {
			return Result{}, err
		}
	}
	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return Result{}, err
	}
	if err := writeConfig(cfg.RunDir, rec); err != nil {
		return Result{}, err
	}
	metrics, err := runlog.OpenMetrics(filepath.Join(cfg.RunDir, MetricsFile))
	if err != nil {
		return Result{}, err
	}
	defer metrics.Close()

	res := Result{Method: m, ResumedFrom: step}
	var bar *runlog.Progress
	if cfg.Progress != nil {
		bar = runlog.NewProgress(cfg.Progress, total, spec.Method, runlog.WithUnit("step"), runlog.WithStart(step))
	}
	lastCheckpoint := ""
	save := func(epoch int, loss float64) error {
		ck := &checkpoint.Checkpoint{
			Arch: spec.Backbone.Arch, Method: spec.Method, Step: step, Epoch: epoch,
			Metrics: map[string]float64{"loss": loss}, Model: nn.StateDict("", m), Optimizer: opt.State(),
		}
		if err := ck.SetConfig(rec); err != nil {
			return err
		}
		dir, err := checkpoint.SaveStep(cfg.RunDir, ck, cfg.Keep)
		lastCheckpoint = dir
		return err
	}

	views := len(m.Views())
	m.SetTraining(true)
	lastLoss := math.NaN()
	epochLoss, epochN := 0.0, 0
	stepsDone := int64(0)
	trainStart := time.Now()
	for step < total {
		epoch := int(step / perEpoch)
		it := ld.Resume(ctx, epoch, int(step%perEpoch))
		for step < total && int(step/perEpoch) == epoch {
			if ctx.Err() != nil {
				it.Close()
				res.Interrupted = true
				return finish(res, step, epoch, lastLoss, start, trainStart, stepsDone, cfg, views, save, bar, &lastCheckpoint)
			}
			b, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				it.Close()
				if ctx.Err() != nil {
					res.Interrupted = true
					return finish(res, step, epoch, lastLoss, start, trainStart, stepsDone, cfg, views, save, bar, &lastCheckpoint)
				}
				return res, fmt.Errorf("step %d: %w", step+1, err)
			}
			cur := sched.At(step)
			opt.SetLR(cur)
			out, err := runStep(m, b, cfg, step, params, opt)
			ld.Release(b)
			if err != nil {
				it.Close()
				return res, fmt.Errorf("step %d: %w", step+1, err)
			}
			step++
			stepsDone++
			m.AfterStep(float64(step) / float64(total))
			lastLoss = out.loss
			epochLoss += out.loss
			epochN++
			fields := []runlog.Field{runlog.F("loss", out.loss), runlog.F("lr", cur)}
			for _, k := range sortedKeys(out.metrics) {
				fields = append(fields, runlog.F(k, out.metrics[k]))
			}
			if err := metrics.LogRecord(runlog.Record{Step: step, Epoch: int64(epoch), Time: time.Now(), Fields: fields}); err != nil {
				it.Close()
				return res, err
			}
			if bar != nil {
				bar.SetFields(fields[:2]...)
				bar.Add(1)
			}
			if cfg.CheckpointEvery > 0 && step%cfg.CheckpointEvery == 0 && step < total {
				if err := save(int(step/perEpoch), out.loss); err != nil {
					it.Close()
					return res, err
				}
			}
		}
		it.Close()
		if step%perEpoch == 0 && epochN > 0 {
			ep := int(step / perEpoch)
			extra := map[string]float64{"epoch_loss": epochLoss / float64(epochN)}
			if cfg.OnEpoch != nil {
				more, err := cfg.OnEpoch(ep, m)
				if err != nil {
					return res, fmt.Errorf("epoch %d monitor: %w", ep, err)
				}
				for k, v := range more {
					extra[k] = v
				}
				m.SetTraining(true)
			}
			fields := []runlog.Field{}
			for _, k := range sortedKeys(extra) {
				fields = append(fields, runlog.F(k, extra[k]))
			}
			if err := metrics.LogRecord(runlog.Record{Step: step, Epoch: int64(ep), Time: time.Now(), Fields: fields}); err != nil {
				return res, err
			}
			epochLoss, epochN = 0, 0
			if cfg.CheckpointEvery == 0 && step < total {
				if err := save(ep, lastLoss); err != nil {
					return res, err
				}
			}
		}
	}
	res, err = finish(res, step, int(step/perEpoch), lastLoss, start, trainStart, stepsDone, cfg, views, save, bar, &lastCheckpoint)
	if err != nil {
		return res, err
	}
	if err := PlotLoss(cfg.RunDir); err != nil {
		return res, fmt.Errorf("loss plot: %w", err)
	}
	return res, nil
}

func finish(res Result, step int64, epoch int, loss float64, start, trainStart time.Time, stepsDone int64, cfg Config, views int, save func(int, float64) error, bar *runlog.Progress, lastCheckpoint *string) (Result, error) {
	if bar != nil {
		bar.Finish()
	}
	res.Steps, res.Epoch, res.FinalLoss = step, epoch, loss
	res.Wall = time.Since(start)
	if el := time.Since(trainStart).Seconds(); el > 0 {
		res.ViewsPerSec = float64(stepsDone) * float64(cfg.BatchSize*views) / el
	}
	if stepsDone > 0 || res.Interrupted {
		if err := save(epoch, loss); err != nil {
			return res, err
		}
	}
	res.CheckpointDir = *lastCheckpoint
	return res, nil
}

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
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 256
	}
	if cfg.BatchSize < 2 {
		return fmt.Errorf("train: batch size %d is too small", cfg.BatchSize)
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
		return optim.NewAdamW(params, optim.AdamWConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay}), nil
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
	return atomicWrite(filepath.Join(runDir, ConfigFile), append(b, '\n'))
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
