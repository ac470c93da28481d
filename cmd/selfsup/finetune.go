package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"selfsup/checkpoint"
	"selfsup/data"
	"selfsup/eval"
	"selfsup/finetune"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/runlog"
)

func init() {
	register("finetune", "fine-tune an encoder end to end on labels (or train it from scratch: the supervised baseline)", runFinetune)
}

const finetuneUsage = `
Usage:
  selfsup finetune --ckpt DIR --data SPEC --out DIR2 [--freeze K] [--epochs N] [--labels-fraction F | --per-class N]
  selfsup finetune --scratch --arch ARCH --data SPEC --out DIR2 [--epochs N]

Trains the encoder of a checkpoint together with a new linear classifier head
end to end with cross-entropy on the labelled training images, then reports
top-1 / top-5 accuracy on the test split (after every epoch in
metrics.jsonl). --freeze K keeps the first K stage modules fixed: 1 the stem,
2 the stem and the first stage (what RotNet did), 0 (the default) trains
everything; frozen stages also keep their batch-norm statistics. The encoder
learns at --encoder-lr-scale times the head's learning rate (two SGD
optimizers, momentum 0.9, warmup then cosine decay); the images get a light
augmentation (random resized crop of scale (--min-scale, 1), --flip).

--scratch trains the same backbone from a random initialisation with the
same loop: the supervised baseline. Its run directory is a checkpoint like
any other: evaluate its frozen features with
  selfsup eval linear --ckpt DIR2 --data SPEC

--labels-fraction F keeps a class-balanced fraction of the training labels
(fixed by --seed), --per-class N that many images of every class: the
label-efficiency setting.

Data specs: ` + data.SpecForms + `

Examples:
  selfsup finetune --ckpt runs/simclr-mnist --data mnist --freeze 2 --out runs/ft-mnist
  selfsup finetune --ckpt runs/simclr-mnist --data mnist --per-class 10 --epochs 20 --out runs/ft-10
  selfsup finetune --scratch --arch resnet-small --data mnist --freeze 0 --epochs 1 --out runs/sup-mnist
`

// trainFlags are the optimisation flags of fine-tuning, shared by
// `selfsup finetune` and the supervised baseline of `selfsup eval`.
type trainFlags struct {
	epochs   int
	steps    int64
	batch    int
	lr       float64
	encScale float64
	momentum float64
	wd       float64
	warmup   float64
	minScale float64
	flip     bool
	workers  int
}

// register adds the flags to fs, the weight decay under wdFlag (eval has
// its own --wd, the probe's).
func (f *trainFlags) register(fs *flag.FlagSet, wdFlag string) {
	fs.IntVar(&f.epochs, "epochs", finetune.DefaultEpochs, "training epochs (fine-tuning and the supervised baseline)")
	fs.Int64Var(&f.steps, "steps", 0, "total training steps (overrides --epochs)")
	fs.IntVar(&f.batch, "batch", finetune.DefaultBatchSize, "training images per step")
	fs.Float64Var(&f.lr, "lr", finetune.DefaultLR, "the head's learning rate for batch 256, scaled linearly")
	fs.Float64Var(&f.encScale, "encoder-lr-scale", -1, "the encoder's learning rate relative to the head's (-1: 0.1 when fine-tuning, 1 from scratch)")
	fs.Float64Var(&f.momentum, "momentum", finetune.DefaultMomentum, "SGD momentum")
	fs.Float64Var(&f.wd, wdFlag, finetune.DefaultWeightDecay, "training weight decay (not on biases and norms)")
	fs.Float64Var(&f.warmup, "warmup-frac", finetune.DefaultWarmupFrac, "fraction of the steps spent warming up")
	fs.Float64Var(&f.minScale, "min-scale", finetune.DefaultMinScale, "smallest crop area fraction of the training augmentation")
	fs.BoolVar(&f.flip, "flip", false, "random horizontal flips in the training augmentation (not for digits)")
	fs.IntVar(&f.workers, "workers", 0, "data-loading goroutines (0: GOMAXPROCS)")
}

// config turns the flags into a finetune.Config (zero values where a flag
// asks for "none", since the Config reads zero as "default").
func (f trainFlags) config() (finetune.Config, error) {
	if f.epochs < 1 && f.steps <= 0 {
		return finetune.Config{}, usageError("--epochs %d: want at least 1 (or --steps)", f.epochs)
	}
	if f.batch < 1 || !(f.lr > 0) || f.minScale <= 0 || f.minScale > 1 || f.momentum < 0 || f.momentum >= 1 || f.wd < 0 || f.warmup < 0 || f.warmup >= 1 {
		return finetune.Config{}, usageError("bad training settings: --batch %d, --lr %v, --momentum %v, weight decay %v, --warmup-frac %v, --min-scale %v",
			f.batch, f.lr, f.momentum, f.wd, f.warmup, f.minScale)
	}
	cfg := finetune.Config{Epochs: f.epochs, Steps: f.steps, BatchSize: f.batch, LR: f.lr, EncoderLRScale: f.encScale,
		Momentum: f.momentum, WeightDecay: f.wd, WarmupFrac: f.warmup, Workers: f.workers}
	cfg.Params.Augment.MinScale, cfg.Params.Augment.Flip = f.minScale, f.flip
	if f.momentum == 0 {
		cfg.Momentum = -1
	}
	if f.wd == 0 {
		cfg.WeightDecay = -1
	}
	if f.warmup == 0 {
		cfg.WarmupFrac = -1
	}
	return cfg, nil
}

func runFinetune(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("finetune", finetuneUsage, stderr)
	var df dataFlags
	df.register(fs, "", "train")
	var tf trainFlags
	tf.register(fs, "wd")
	ckpt := fs.String("ckpt", "", "checkpoint whose encoder is fine-tuned (a run directory or one of its step directories)")
	scratch := fs.Bool("scratch", false, "train from a random initialisation instead (the supervised baseline)")
	arch := fs.String("arch", "resnet-small", "backbone with --scratch: "+strings.Join(archNames(), ", "))
	freeze := fs.Int("freeze", 0, "freeze the first K stage modules (1: the stem, 2: stem and first stage; 0: none)")
	perClass := fs.Int("per-class", 0, "train on N labelled images of every class (0: all)")
	seed := fs.Uint64("seed", 0, "random seed (head, data order, augmentations, label subsets)")
	out := fs.String("out", "", "run directory (required)")
	force := fs.Bool("force", false, "delete what --out holds and start over")
	keep := fs.Int("keep", 2, "checkpoints to keep")
	quiet := fs.Bool("quiet", false, "no progress bar")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	if (*ckpt == "") == !*scratch {
		return usageError("give exactly one of --ckpt DIR and --scratch")
	}
	if *out == "" {
		return usageError("--out DIR is required")
	}
	if *perClass < 0 || (*perClass > 0 && df.labelsFrac > 0) {
		return usageError("--per-class %d: want a positive count, and not together with --labels-fraction", *perClass)
	}
	cfg, err := tf.config()
	if err != nil {
		return err
	}
	df.seed = *seed
	// check everything before --force may delete an earlier run
	trainDS, testDS, err := openLabelled(df, *perClass, stderr)
	if err != nil {
		return err
	}
	cfg.Freeze, cfg.Seed, cfg.Keep, cfg.Data = *freeze, *seed, *keep, df.spec
	if *scratch {
		if cfg.Backbone, err = backboneFor(*arch, trainDS); err != nil {
			return err
		}
	} else {
		m, ck, err := methods.Load(*ckpt)
		if err != nil {
			return err
		}
		spec, err := methods.SpecOf(ck)
		if err != nil {
			return err
		}
		cfg.Backbone, cfg.Pretrained, cfg.From = spec.Backbone, m.Encoder(), ck.Dir
		if err := checkFits(spec.Backbone, trainDS); err != nil {
			return fmt.Errorf("checkpoint %s: %w", ck.Dir, err)
		}
	}
	if err := checkFreeze(cfg.Backbone, *freeze); err != nil {
		return err
	}
	mode := runlog.NewRun
	if *force {
		mode = runlog.ForceRun
	}
	if err := prepareOut(*out, mode, ""); err != nil {
		return err
	}
	cfg.RunDir = *out
	if !*quiet {
		cfg.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	what := fmt.Sprintf("fine-tune %s from %s, freeze %d", cfg.Backbone.Arch, cfg.From, cfg.Freeze)
	if *scratch {
		what = fmt.Sprintf("supervised %s from scratch", cfg.Backbone.Arch)
	}
	fmt.Fprintf(stderr, "%s on %s (%d labelled images) -> %s\n", what, trainDS.Name(), trainDS.Len(), *out)
	res, err := finetune.Run(ctx, trainDS, testDS, cfg)
	if err != nil {
		return err
	}
	return reportFinetune(stdout, stderr, res, what, df.spec, trainDS.Len(), *jsonOut)
}

// prepareOut makes dir ready for a fine-tuning run (which cannot be
// resumed): a directory holding an earlier run is refused unless mode is
// runlog.ForceRun, with hint added to the message.
func prepareOut(dir string, mode runlog.RunDirMode, hint string) error {
	_, err := runlog.PrepareRunDir(dir, mode, runlog.WithDescribe(describeRun))
	var exists *runlog.RunDirExistsError
	if errors.As(err, &exists) {
		what := "is not empty"
		if exists.Detail != "" {
			what = "exists (" + exists.Detail + ")"
		}
		return fmt.Errorf("%s %s; use --force to overwrite it or another --out%s", dir, what, hint)
	}
	return err
}

// openLabelled opens the labelled training images of df (all of them, the
// --labels-fraction share, or perClass of every class) and the test split
// with every label (nil, with a note, when the spec has no test split).
func openLabelled(df dataFlags, perClass int, stderr io.Writer) (trainDS, testDS data.Dataset, err error) {
	all, err := df.open(stderr, "")
	if err != nil {
		return nil, nil, err
	}
	trainDS = all
	if perClass > 0 {
		idx, err := eval.LabelSubset(all, eval.LabelBudget{PerClass: perClass}, df.seed)
		if err != nil {
			return nil, nil, err
		}
		if trainDS, err = data.Subset(all, idx); err != nil {
			return nil, nil, err
		}
	}
	if trainDS, err = data.Labeled(trainDS); err != nil {
		return nil, nil, err
	}
	if len(trainDS.Classes()) < 2 {
		return nil, nil, fmt.Errorf("%s has %d classes; a classifier needs at least 2", trainDS.Name(), len(trainDS.Classes()))
	}
	tf := df
	tf.labelsFrac = 0
	testDS, err = tf.open(stderr, "test")
	if err != nil {
		fmt.Fprintf(stderr, "note: no test evaluation, since the test split does not open: %v\n", err)
		return trainDS, nil, nil
	}
	return trainDS, testDS, nil
}

// backboneFor describes arch for the images of ds.
func backboneFor(arch string, ds data.Dataset) (nn.BackboneConfig, error) {
	if _, ok := nn.Archs()[arch]; !ok {
		return nn.BackboneConfig{}, usageError("unknown backbone %q (known: %s)", arch, strings.Join(archNames(), ", "))
	}
	c, h, w := ds.Shape()
	if c == 0 {
		return nn.BackboneConfig{}, fmt.Errorf("%s: images vary in size (use --image-size)", ds.Name())
	}
	if h != w {
		return nn.BackboneConfig{}, fmt.Errorf("%s: images are %dx%d; square images are needed (use --image-size)", ds.Name(), h, w)
	}
	return nn.BackboneConfig{Arch: arch, InChannels: c, ImageSize: h}, nil
}

// checkFits reports whether the images of ds fit a backbone built for bc.
func checkFits(bc nn.BackboneConfig, ds data.Dataset) error {
	c, h, w := ds.Shape()
	if c != bc.InChannels || h != bc.ImageSize || w != bc.ImageSize {
		return fmt.Errorf("its %s encoder takes %dx%dx%d images, %s has %dx%dx%d (use --image-size?)",
			bc.Arch, bc.InChannels, bc.ImageSize, bc.ImageSize, ds.Name(), c, h, w)
	}
	return nil
}

// checkFreeze rejects a --freeze the backbone does not have, before any
// training.
func checkFreeze(bc nn.BackboneConfig, k int) error {
	enc, err := nn.NewBackbone(bc, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return err
	}
	if n := len(enc.StageModules()); k < 0 || k > n {
		return usageError("--freeze %d: %s has %d stage modules (the stem and %d stages), so --freeze must lie in 0..%d", k, bc.Arch, n, n-1, n)
	}
	return nil
}

func reportFinetune(stdout, stderr io.Writer, res *finetune.Result, what, spec string, images int, jsonOut bool) error {
	if res.Interrupted {
		fmt.Fprintf(stderr, "interrupted at step %d; checkpoint saved in %s\n", res.Steps, res.CheckpointDir)
	}
	top1, top5 := -1.0, -1.0
	if res.Test != nil {
		top1, top5 = res.Test.Top1, res.Test.Top5
	}
	if jsonOut {
		out := map[string]any{"run": what, "data": spec, "train_images": images, "steps": res.Steps, "epochs": res.Epochs,
			"final_loss": res.FinalLoss, "train_top1": res.TrainTop1, "trainable_params": res.Trainable, "frozen_params": res.Frozen,
			"wall_seconds": res.Wall.Seconds(), "images_per_sec": res.ImagesPerSec, "checkpoint": res.CheckpointDir, "interrupted": res.Interrupted}
		if res.Test != nil {
			out["top1"], out["top5"], out["test_images"] = top1, top5, len(res.Test.Labels)
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	if res.Test != nil {
		fmt.Fprintf(stdout, "%s on %s: test top-1 %.2f%%, top-5 %.2f%% (%d test images); ", what, spec, 100*top1, 100*top5, len(res.Test.Labels))
	} else {
		fmt.Fprintf(stdout, "%s on %s: ", what, spec)
	}
	fmt.Fprintf(stdout, "%d steps, %d of %d parameters trained, %s; checkpoint %s\n",
		res.Steps, res.Trainable, res.Trainable+res.Frozen, res.Wall.Round(time.Second), res.CheckpointDir)
	return nil
}

// supervisedInfo returns what a supervised checkpoint says about its own
// test accuracy (nil for other checkpoints).
func supervisedInfo(ck *checkpoint.Checkpoint) map[string]any {
	if ck.Method != "supervised" {
		return nil
	}
	info := map[string]any{"supervised_run": ck.Dir}
	if v, ok := ck.Metrics[finetune.TestTop1Key]; ok {
		info["supervised_test_top1"] = v
	}
	if v, ok := ck.Metrics[finetune.TestTop5Key]; ok {
		info["supervised_test_top5"] = v
	}
	return info
}
