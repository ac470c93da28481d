package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"selfsup/autograd"
	"selfsup/checkpoint"
	"selfsup/data"
	"selfsup/data/loader"
	"selfsup/eval"
	"selfsup/internal/atomicfile"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/optim"
	"selfsup/runlog"
	"selfsup/train"
)

// Result summarises a run.
type Result struct {
	// Model is the trained encoder and head.
	Model *methods.Supervised
	// Test is the evaluation on the test split after the last step (nil
	// without a test set).
	Test *eval.Evaluation
	// Steps and Epochs taken; FinalLoss is the last step's loss and
	// TrainTop1 the top-1 accuracy on the training batches of the last
	// epoch (augmented views).
	Steps     int64
	Epochs    int
	FinalLoss float64
	TrainTop1 float64
	// Wall is the run's duration; ImagesPerSec the training throughput.
	Wall         time.Duration
	ImagesPerSec float64
	// Trainable and Frozen count scalar parameters.
	Trainable, Frozen int
	// CheckpointDir is the final checkpoint.
	CheckpointDir string
	// Interrupted is set when ctx was cancelled; the state at that point
	// is checkpointed.
	Interrupted bool
}

// RunRecord is what a fine-tuning checkpoint's config holds: the method
// spec methods.Load rebuilds the model from, and the run's settings.
type RunRecord struct {
	Spec     methods.Spec `json:"spec"`
	Finetune Config       `json:"finetune"`
}

// Metric names in metrics.jsonl and in the checkpoints' metrics.
const (
	TestTop1Key = "test_top1"
	TestTop5Key = "test_top5"
)

// Run trains methods.Supervised on the labelled images of train, starting
// from cfg.Pretrained's weights (fine-tuning) or from scratch, with the
// first cfg.Freeze stage modules frozen, and evaluates it on test (may be
// nil) after every epoch. Every image of train must be labelled (see
// data.Labeled). Cancelling ctx stops after the current step with a
// checkpoint saved.
func Run(ctx context.Context, trainDS, test data.Dataset, cfg Config) (*Result, error) {
	t, err := newTrainer(trainDS, test, cfg)
	if err != nil {
		return nil, err
	}
	defer t.metrics.Close()
	if err := t.loop(ctx); err != nil {
		return t.res, err
	}
	if err := t.finish(ctx); err != nil {
		return t.res, err
	}
	return t.res, nil
}

// trainer is one run's state.
type trainer struct {
	cfg        Config
	spec       methods.Spec
	m          *methods.Supervised
	stages     []nn.Module
	encParams  []*autograd.Var
	headParams []*autograd.Var
	encOpt     optim.Optimizer // nil when the whole encoder is frozen
	headOpt    optim.Optimizer
	sched      optim.WarmupCosine
	ld         *loader.Loader
	test       data.Dataset
	metrics    *runlog.Metrics
	bar        *runlog.Progress
	res        *Result
	start      time.Time
	perEpoch   int64
	total      int64
	step       int64
	lastLoss   float64
	epochLoss  float64
	epochTop1  float64
	epochN     int
}

// newTrainer checks the data, builds the model (copying the pretrained
// encoder), freezes, and sets up the optimizers, loader and run directory.
func newTrainer(trainDS, test data.Dataset, cfg Config) (*trainer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkLabelled(trainDS); err != nil {
		return nil, err
	}
	if cfg.Params.Classes == 0 {
		cfg.Params.Classes = len(trainDS.Classes())
	}
	spec := methods.Spec{Method: "supervised", Backbone: cfg.Backbone, Params: methods.ParamsJSON(cfg.Params)}
	m, err := methods.NewSupervised(spec, cfg.Params, rand.New(rand.NewPCG(cfg.Seed, 0xf1e7)))
	if err != nil {
		return nil, err
	}
	if cfg.Pretrained != nil {
		if err := nn.LoadStateDict(m.Enc, "", nn.StateDict("", cfg.Pretrained), true); err != nil {
			return nil, fmt.Errorf("finetune: the pretrained encoder does not fit %s: %w", cfg.Backbone.Arch, err)
		}
	}
	t := &trainer{cfg: cfg, spec: spec, m: m, test: test, start: time.Now(), lastLoss: math.NaN()}
	t.stages = m.Enc.StageModules()
	if cfg.Freeze > len(t.stages) {
		return nil, fmt.Errorf("finetune: cannot freeze %d stage modules: %s has %d (the stem and %d stages), so freeze must lie in 0..%d",
			cfg.Freeze, cfg.Backbone.Arch, len(t.stages), len(t.stages)-1, len(t.stages))
	}
	nn.FreezeStages(m.Enc, cfg.Freeze)
	t.res = &Result{Model: m}
	for _, p := range nn.StateOf(m).Params {
		switch {
		case !p.Var.RequiresGrad():
			t.res.Frozen += p.Var.Value.Len()
			continue
		case strings.HasPrefix(p.Name, "encoder."):
			t.encParams = append(t.encParams, p.Var)
		default:
			t.headParams = append(t.headParams, p.Var)
		}
		t.res.Trainable += p.Var.Value.Len()
	}
	sgd := optim.SGDConfig{Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay}
	if len(t.encParams) > 0 {
		t.encOpt = optim.NewSGD(t.encParams, sgd)
	}
	t.headOpt = optim.NewSGD(t.headParams, sgd)

	bs := min(cfg.BatchSize, trainDS.Len())
	t.cfg.BatchSize = bs
	t.ld, err = loader.New(trainDS, loader.Config{BatchSize: bs, Views: m.Views(), Shuffle: true, DropLast: true, Seed: cfg.Seed, Workers: cfg.Workers})
	if err != nil {
		return nil, fmt.Errorf("data %s: %w", trainDS.Name(), err)
	}
	t.perEpoch = int64(t.ld.StepsPerEpoch())
	t.total = cfg.Steps
	if t.total <= 0 {
		t.total = int64(cfg.Epochs) * t.perEpoch
	}
	t.total = max(t.total, cfg.MinSteps)
	if t.total <= 0 {
		return nil, fmt.Errorf("finetune: no steps to take (epochs %d, steps %d)", cfg.Epochs, cfg.Steps)
	}
	lr := cfg.LR * float64(bs) / 256
	t.sched = optim.WarmupCosine{Base: lr, Final: 0, Warmup: int64(cfg.WarmupFrac * float64(t.total)), Total: t.total}

	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return nil, err
	}
	if err := writeConfig(cfg.RunDir, RunRecord{Spec: spec, Finetune: t.cfg}); err != nil {
		return nil, err
	}
	if t.metrics, err = runlog.OpenMetrics(filepath.Join(cfg.RunDir, train.MetricsFile)); err != nil {
		return nil, err
	}
	if cfg.Progress != nil {
		label := "finetune"
		if cfg.Pretrained == nil {
			label = "supervised"
		}
		t.bar = runlog.NewProgress(cfg.Progress, t.total, label, runlog.WithUnit("step"))
	}
	return t, nil
}

// checkLabelled rejects a training set with unlabelled images.
func checkLabelled(ds data.Dataset) error {
	if ds.Len() == 0 {
		return fmt.Errorf("finetune: %s is empty", ds.Name())
	}
	missing := 0
	for i := range ds.Len() {
		if ds.Label(i) < 0 {
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("finetune: %d of the %d images of %s have no label; supervised training needs labelled images (keep the labelled ones with data.Labeled)",
			missing, ds.Len(), ds.Name())
	}
	return nil
}

// setTraining puts the model in training mode except for the frozen stage
// modules, whose batch norms keep using (and keeping) their running
// statistics. SetTraining(true) on the whole model would undo the freeze,
// so every switch back to training goes through here.
func (t *trainer) setTraining() {
	t.m.SetTraining(true)
	for _, s := range t.stages[:t.cfg.Freeze] {
		s.SetTraining(false)
	}
}

// loop runs the steps until the budget is spent or ctx is cancelled.
func (t *trainer) loop(ctx context.Context) error {
	trainStart := time.Now()
	defer func() {
		if s := time.Since(trainStart).Seconds(); s > 0 {
			t.res.ImagesPerSec = float64(t.step) * float64(t.cfg.BatchSize) / s
		}
	}()
	t.setTraining()
	for epoch := 0; t.step < t.total; epoch++ {
		stopped, err := t.epoch(ctx, epoch)
		if err != nil {
			return err
		}
		if stopped {
			t.res.Interrupted = true
			return nil
		}
		if err := t.endEpoch(ctx, epoch+1); err != nil {
			return err
		}
	}
	return nil
}

// epoch runs one pass over the training data (or what is left of the
// budget) and reports whether ctx stopped it.
func (t *trainer) epoch(ctx context.Context, epoch int) (stopped bool, err error) {
	it := t.ld.Epoch(ctx, epoch)
	defer it.Close()
	for t.step < t.total {
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
			return false, fmt.Errorf("step %d: %w", t.step+1, err)
		}
		lr := t.sched.At(t.step)
		loss, top1, err := t.trainStep(b, lr)
		t.ld.Release(b)
		if err != nil {
			return false, fmt.Errorf("step %d: %w", t.step+1, err)
		}
		t.step++
		t.lastLoss = loss
		t.epochLoss += loss
		t.epochTop1 += top1
		t.epochN++
		fields := []runlog.Field{runlog.F("loss", loss), runlog.F("top1", top1), runlog.F("lr", lr), runlog.F("encoder_lr", lr*t.cfg.EncoderLRScale)}
		if err := t.metrics.LogRecord(runlog.Record{Step: t.step, Epoch: int64(epoch), Time: time.Now(), Fields: fields}); err != nil {
			return false, err
		}
		if t.bar != nil {
			t.bar.SetFields(fields[:2]...)
			t.bar.Add(1)
		}
	}
	return false, nil
}

// trainStep sets the two learning rates (lr for the head, lr times the
// encoder scale for the encoder), computes the batch's loss, backpropagates
// and steps both optimizers.
func (t *trainer) trainStep(b loader.Batch, lr float64) (loss, top1 float64, err error) {
	t.headOpt.SetLR(lr)
	if t.encOpt != nil {
		t.encOpt.SetLR(lr * t.cfg.EncoderLRScale)
	}
	err = autograd.Guard(func() error {
		x := autograd.Const(b.Views[0])
		out := t.m.LossOn(x, b)
		loss = float64(out.Loss.Item())
		top1 = out.Metrics["top1"]
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("loss is %v; training diverged (lower the learning rate?)", loss)
		}
		if err := out.Loss.Backward(); err != nil {
			return err
		}
		if t.encOpt != nil {
			t.encOpt.Step()
		}
		t.headOpt.Step()
		optim.ZeroGrad(t.encParams)
		optim.ZeroGrad(t.headParams)
		return nil
	})
	return loss, top1, err
}

// endEpoch logs the epoch's means and, when an evaluation is due (see
// Config.EvalEvery), the test accuracy, and saves a checkpoint.
func (t *trainer) endEpoch(ctx context.Context, epochs int) error {
	t.res.Epochs = epochs
	if t.epochN == 0 {
		return nil
	}
	t.res.TrainTop1 = t.epochTop1 / float64(t.epochN)
	fields := []runlog.Field{runlog.F("epoch_loss", t.epochLoss/float64(t.epochN)), runlog.F("epoch_top1", t.res.TrainTop1)}
	final := t.step >= t.total
	every := max(t.cfg.EvalEvery, 1)
	due := final || (t.cfg.EvalEvery >= 0 && epochs%every == 0)
	if t.test != nil && due {
		ev, err := Evaluate(ctx, t.m, t.test, t.cfg.EvalBatch)
		t.setTraining()
		if err != nil {
			return fmt.Errorf("epoch %d test evaluation: %w", epochs, err)
		}
		t.res.Test = ev
		fields = append(fields, runlog.F(TestTop1Key, ev.Top1), runlog.F(TestTop5Key, ev.Top5))
	}
	t.epochLoss, t.epochTop1, t.epochN = 0, 0, 0
	if err := t.metrics.LogRecord(runlog.Record{Step: t.step, Epoch: int64(epochs), Time: time.Now(), Fields: fields}); err != nil {
		return err
	}
	if !due {
		return nil
	}
	return t.save()
}

// finish closes the bar, evaluates a run that stopped mid-epoch, saves the
// last state when it was not saved yet, and draws the loss curve.
func (t *trainer) finish(ctx context.Context) error {
	if t.bar != nil {
		t.bar.Finish()
	}
	t.res.Steps, t.res.FinalLoss = t.step, t.lastLoss
	t.res.Wall = time.Since(t.start)
	if t.res.Interrupted || t.res.CheckpointDir == "" {
		if t.test != nil && !t.res.Interrupted {
			ev, err := Evaluate(ctx, t.m, t.test, t.cfg.EvalBatch)
			if err != nil {
				return err
			}
			t.res.Test = ev
		}
		if err := t.save(); err != nil {
			return err
		}
	}
	if t.res.Interrupted {
		return nil
	}
	if err := train.PlotLoss(t.cfg.RunDir); err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	return nil
}

// save writes a checkpoint of the current step (weights only: a fine-tuning
// run is not resumed).
func (t *trainer) save() error {
	mets := map[string]float64{"loss": t.lastLoss}
	if t.res.Test != nil {
		mets[TestTop1Key], mets[TestTop5Key] = t.res.Test.Top1, t.res.Test.Top5
	}
	ck := &checkpoint.Checkpoint{
		Arch: t.cfg.Backbone.Arch, Method: t.spec.Method, Step: t.step, Epoch: t.res.Epochs,
		Metrics: mets, Model: nn.StateDict("", t.m),
	}
	if err := ck.SetConfig(RunRecord{Spec: t.spec, Finetune: t.cfg}); err != nil {
		return err
	}
	dir, err := checkpoint.SaveStep(t.cfg.RunDir, ck, t.cfg.Keep)
	t.res.CheckpointDir = dir
	return err
}

func writeConfig(runDir string, rec RunRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(runDir, train.ConfigFile), append(b, '\n'), 0o644)
}
