package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"selfsup/checkpoint"
	"selfsup/data"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/runlog"
	"selfsup/train"
)

func init() {
	register("pretrain", "train an encoder without labels (SimCLR, ...)", runPretrain)
}

const pretrainUsage = `
Usage: selfsup pretrain --data SPEC [--method simclr] [--arch resnet-small] --out DIR [flags]

Trains an image encoder on the images of SPEC with a self-supervised method
(labels, if any, are not used), writing checkpoints, metrics.jsonl and a loss
plot to the run directory. Ctrl-C saves a checkpoint and exits; --resume
continues from the newest checkpoint with the same data order.

Data specs: ` + data.SpecForms + `

Examples:
  selfsup pretrain --data mnist --method simclr --arch resnet-small --epochs 2 --out runs/simclr-mnist
  selfsup pretrain --data cifar10:/data/cifar --arch resnet18-cifar --epochs 200 --batch 512 --out runs/c10
  selfsup pretrain --data mnist --out runs/simclr-mnist --resume
  selfsup pretrain --data folder:/photos --image-size 64 --params '{"tau":0.2}' --out runs/photos
`

// dataFlags are the flags every command that reads a dataset shares.
type dataFlags struct {
	spec, split   string
	subset        int
	labelsFrac    float64
	strict        bool
	imageSize     int
	seed          uint64
	defaultSplit  string
	allowUnlabled bool
}

func (d *dataFlags) register(fs flagSet, defaultSpec, split string) {
	fs.StringVar(&d.spec, "data", defaultSpec, "data spec ("+data.SpecForms+")")
	fs.StringVar(&d.split, "split", split, "split: train, test, unlabeled, train+unlabeled")
	fs.IntVar(&d.subset, "subset", 0, "use a seeded random subset of N images (0: all)")
	fs.Float64Var(&d.labelsFrac, "labels-fraction", 0, "keep labels of a class-balanced fraction F of the images (0: all)")
	fs.BoolVar(&d.strict, "strict", false, "stop at the first unreadable image instead of skipping it")
	fs.IntVar(&d.imageSize, "image-size", 0, "resize images to this square size (0: keep; needed for image folders)")
}

type flagSet interface {
	StringVar(p *string, name, value, usage string)
	IntVar(p *int, name string, value int, usage string)
	Float64Var(p *float64, name string, value float64, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
}

func (d *dataFlags) open(stderr io.Writer, split string) (data.Dataset, error) {
	if d.spec == "" {
		return nil, usageError("--data is required (%s)", data.SpecForms)
	}
	if split == "" {
		split = d.split
	}
	isFolder := strings.HasPrefix(d.spec, "folder:")
	return data.Open(d.spec, data.OpenOptions{
		Split: split, Subset: d.subset, LabelsFraction: d.labelsFrac, Seed: d.seed,
		Resize: d.imageSize, Validate: isFolder, Strict: d.strict,
		Warn: func(msg string) { fmt.Fprintf(stderr, "warning: %s\n", msg) },
	})
}

func runPretrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pretrain", pretrainUsage, stderr)
	var df dataFlags
	df.register(fs, "", "train")
	method := fs.String("method", "simclr", "method: "+strings.Join(methods.Names(), ", "))
	arch := fs.String("arch", "resnet-small", "backbone: "+strings.Join(archNames(), ", "))
	params := fs.String("params", "", "method hyper-parameters as JSON, e.g. '{\"tau\":0.2}'")
	out := fs.String("out", "", "run directory (required)")
	resume := fs.Bool("resume", false, "continue the run in --out from its newest checkpoint")
	force := fs.Bool("force", false, "delete what --out holds and start over")
	var cfg train.Config
	fs.IntVar(&cfg.Epochs, "epochs", 1, "epochs of training")
	fs.Int64Var(&cfg.Steps, "steps", 0, "total optimizer steps (overrides --epochs)")
	fs.IntVar(&cfg.BatchSize, "batch", 256, "images per step")
	fs.StringVar(&cfg.Optimizer, "optimizer", "", "sgd, lars or adamw (default: the method's)")
	fs.Float64Var(&cfg.LR, "lr", 0, "base learning rate for batch 256, scaled linearly (default: the method's)")
	fs.Float64Var(&cfg.WeightDecay, "wd", 0, "weight decay (default: the method's)")
	fs.Float64Var(&cfg.Momentum, "momentum", 0, "momentum (default: the method's)")
	fs.Int64Var(&cfg.WarmupSteps, "warmup-steps", -1, "linear warmup steps (-1: the method's fraction of training)")
	fs.Float64Var(&cfg.ClipGrad, "clip-grad", 0, "clip the gradient norm (0: off)")
	fs.Int64Var(&cfg.CheckpointEvery, "checkpoint-every", 0, "save every N steps (0: every epoch)")
	fs.IntVar(&cfg.Keep, "keep", 2, "checkpoints to keep")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed (weights, data order, augmentations)")
	fs.IntVar(&cfg.Workers, "workers", 0, "data-loading goroutines (0: GOMAXPROCS)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	if *out == "" {
		return usageError("--out DIR is required")
	}
	df.seed = cfg.Seed
	mode, err := runlog.ModeFromFlags(*resume, *force)
	if err != nil {
		return usageError("%v", err)
	}
	// check everything before --force may delete an earlier run
	ds, err := df.open(stderr, "")
	if err != nil {
		return err
	}
	spec, err := makeSpec(*method, *arch, *params, ds)
	if err != nil {
		return err
	}
	if _, err := runlog.PrepareRunDir(*out, mode, runlog.WithDescribe(describeRun)); err != nil {
		return err
	}
	cfg.RunDir, cfg.Resume, cfg.Data = *out, *resume, df.spec
	if !*quiet {
		cfg.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	budget := fmt.Sprintf("%d epochs", cfg.Epochs)
	if cfg.Steps > 0 {
		budget = fmt.Sprintf("%d steps", cfg.Steps)
	}
	fmt.Fprintf(stderr, "pretrain %s on %s (%d images), backbone %s, %s, batch %d -> %s\n",
		spec.Method, ds.Name(), ds.Len(), spec.Backbone.Arch, budget, cfg.BatchSize, *out)
	res, err := train.Run(ctx, spec, ds, cfg)
	if err != nil {
		return err
	}
	return reportPretrain(stdout, stderr, res, *jsonOut)
}

func reportPretrain(stdout, stderr io.Writer, res train.Result, jsonOut bool) error {
	if res.Interrupted {
		fmt.Fprintf(stderr, "interrupted at step %d; checkpoint saved in %s; continue with --resume\n", res.Steps, res.CheckpointDir)
	}
	if jsonOut {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"steps": res.Steps, "epoch": res.Epoch, "final_loss": res.FinalLoss, "wall_seconds": res.Wall.Seconds(),
			"views_per_sec": res.ViewsPerSec, "checkpoint": res.CheckpointDir, "interrupted": res.Interrupted,
		})
	}
	fmt.Fprintf(stdout, "steps %d, final loss %.4f, %.0f views/s, %s; checkpoint %s\n",
		res.Steps, res.FinalLoss, res.ViewsPerSec, res.Wall.Round(time.Second), res.CheckpointDir)
	return nil
}

// makeSpec builds a method spec for a dataset's image shape.
func makeSpec(method, arch, params string, ds data.Dataset) (methods.Spec, error) {
	if _, err := methods.Defaults(method); err != nil {
		return methods.Spec{}, usageError("%v", err)
	}
	if _, ok := nn.Archs()[arch]; !ok {
		return methods.Spec{}, usageError("unknown backbone %q (known: %s)", arch, strings.Join(archNames(), ", "))
	}
	c, h, w := ds.Shape()
	if c == 0 {
		var err error
		img, err := ds.Image(0, data.Image{})
		if err != nil {
			return methods.Spec{}, err
		}
		c, h, w = img.C, img.H, img.W
	}
	if h != w {
		return methods.Spec{}, fmt.Errorf("%s: images are %dx%d; square images are needed (use --image-size)", ds.Name(), h, w)
	}
	s := methods.Spec{Method: method, Backbone: nn.BackboneConfig{Arch: arch, InChannels: c, ImageSize: h}}
	if params != "" {
		if !json.Valid([]byte(params)) {
			return s, usageError("--params is not valid JSON: %s", params)
		}
		s.Params = json.RawMessage(params)
	}
	return s, nil
}

func archNames() []string {
	var names []string
	for k := range nn.Archs() {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// describeRun says what a run directory holds, for the "exists" error.
func describeRun(dir string) string {
	latest, err := checkpoint.LatestIn(dir)
	if err != nil {
		return ""
	}
	return "holds a checkpoint at " + filepath.Base(latest)
}
