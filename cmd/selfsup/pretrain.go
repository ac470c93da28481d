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
	register("pretrain", "train an encoder without labels (simclr, moco, byol, dino, mae, rotation, jigsaw, ...)", runPretrain)
}

const pretrainUsage = `
Usage: selfsup pretrain --data SPEC [--method simclr] [--arch resnet-small] --out DIR [flags]

Trains an image encoder on the images of SPEC with a self-supervised method
(labels, if any, are not used), writing checkpoints, metrics.jsonl and a loss
plot to the run directory. Ctrl-C saves a checkpoint and exits; --resume
continues from the newest checkpoint with the same data order.

--monitor-every N measures the encoder during training: every N epochs it
classifies --monitor-query labelled images by a kNN vote over the features
of --monitor-bank labelled training images (class-balanced subsets, fixed
for the run), prints "epoch E: online kNN top-1 X%" and logs knn_top1 in
metrics.jsonl. The query images come from the dataset's test split, or,
when it has none, from training images held out of the bank. It is off by
default (0) because each evaluation costs a forward pass over both sets.

Data specs: ` + data.SpecForms + `

Examples:
  selfsup pretrain --data mnist --method simclr --arch resnet-small --epochs 2 --out runs/simclr-mnist
  selfsup pretrain --data cifar10:/data/cifar --arch resnet18-cifar --epochs 200 --batch 512 --out runs/c10
  selfsup pretrain --data mnist --out runs/simclr-mnist --resume
  selfsup pretrain --data mnist --epochs 10 --monitor-every 1 --out runs/watched
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
	fs := newFlags("pretrain", pretrainUsage+methodsHelp(), stderr)
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
	var mon monitorFlags
	fs.IntVar(&mon.every, "monitor-every", 0, "online kNN evaluation every N epochs (0: off)")
	fs.IntVar(&mon.bank, "monitor-bank", train.DefaultMonitorBank, "online kNN: labelled training images in the memory bank")
	fs.IntVar(&mon.query, "monitor-query", train.DefaultMonitorQuery, "online kNN: labelled test images classified")
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.OnEpoch, err = mon.hook(ctx, df, ds, cfg.Seed, !*quiet, stderr); err != nil {
		return err
	}
	if _, err := runlog.PrepareRunDir(*out, mode, runlog.WithDescribe(describeRun)); err != nil {
		return err
	}
	cfg.RunDir, cfg.Resume, cfg.Data = *out, *resume, df.spec
	if !*quiet {
		cfg.Progress = stderr
	}
	// pretext-task methods report their own metric on held-out images: the
	// spec's test split when it has one
	if held, err := data.Open(df.spec, data.OpenOptions{Split: "test", Resize: df.imageSize}); err == nil {
		if held.Len() > heldoutImages {
			idx, _ := data.RandomIndices(held.Len(), heldoutImages, cfg.Seed)
			held, _ = data.Subset(held, idx)
		}
		cfg.Heldout = held
	}
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

// monitorFlags are pretrain's online kNN monitor flags.
type monitorFlags struct {
	every, bank, query int
}

// hook builds the training loop's OnEpoch hook for the monitor flags (nil
// when the monitor is off). The bank comes from the training data ds; the
// query set is the spec's test split when it opens, else training images
// held out of the bank. Each evaluation prints a line on stderr.
func (f monitorFlags) hook(ctx context.Context, df dataFlags, ds data.Dataset, seed uint64, bar bool, stderr io.Writer) (func(int, methods.Method) (map[string]float64, error), error) {
	if f.every < 0 || f.bank < 0 || f.query < 0 {
		return nil, usageError("--monitor-every %d, --monitor-bank %d and --monitor-query %d must not be negative", f.every, f.bank, f.query)
	}
	if f.every == 0 {
		return nil, nil
	}
	if f.bank == 0 || f.query == 0 {
		return nil, usageError("--monitor-bank and --monitor-query must be positive with --monitor-every")
	}
	bank, query, err := monitorSets(df, ds, f.query, seed, stderr)
	if err != nil {
		return nil, err
	}
	watch, err := train.KNNMonitor(bank, query, train.MonitorConfig{
		Every: f.every, BankSize: f.bank, QuerySize: f.query, Seed: seed, Context: ctx,
	})
	if err != nil {
		return nil, err
	}
	when := "after every epoch"
	if f.every > 1 {
		when = fmt.Sprintf("every %d epochs", f.every)
	}
	fmt.Fprintf(stderr, "online kNN %s: bank of about %d images of %s, query of about %d of %s\n",
		when, min(f.bank, bank.Len()), bank.Name(), min(f.query, query.Len()), query.Name())
	erase := ""
	if bar && isTerminal(stderr) {
		erase = "\r\x1b[K" // the line replaces the progress bar's, which is redrawn after
	}
	return func(epoch int, m methods.Method) (map[string]float64, error) {
		out, err := watch(epoch, m)
		if v, ok := out[train.KNNTop1Key]; ok && err == nil {
			fmt.Fprintf(stderr, "%sepoch %d: online kNN top-1 %.2f%%\n", erase, epoch, 100*v)
		}
		return out, err
	}, nil
}

// monitorSets returns the monitor's bank (the training data) and query set:
// the test split of the same spec (all of it, with every label; the monitor
// draws its own subset) or, when that does not open, a class-balanced set of
// up to query labelled training images (at most half of them) that the
// bank then leaves out.
func monitorSets(df dataFlags, ds data.Dataset, query int, seed uint64, stderr io.Writer) (bank, test data.Dataset, err error) {
	if df.split != "test" {
		tf := df
		tf.subset, tf.labelsFrac = 0, 0
		test, err := tf.open(stderr, "test")
		if err == nil {
			return ds, test, nil
		}
		fmt.Fprintf(stderr, "note: the online kNN query set comes from held-out training images, since the test split does not open: %v\n", err)
	}
	var labeled []int
	for i := range ds.Len() {
		if ds.Label(i) >= 0 {
			labeled = append(labeled, i)
		}
	}
	if len(labeled) < 2 {
		return nil, nil, fmt.Errorf("%s has %d labelled images; the online kNN monitor (--monitor-every) needs labels", ds.Name(), len(labeled))
	}
	idx, err := data.ClassBalancedIndices(ds, min(0.5, float64(query)/float64(len(labeled))), seed^0x6d6f6e)
	if err != nil {
		return nil, nil, err
	}
	held := make(map[int]bool, len(idx))
	for _, i := range idx {
		held[i] = true
	}
	var rest []int
	for _, i := range labeled {
		if !held[i] {
			rest = append(rest, i)
		}
	}
	if bank, err = data.Subset(ds, rest); err != nil {
		return nil, nil, err
	}
	if test, err = data.Subset(ds, idx); err != nil {
		return nil, nil, err
	}
	return bank, test, nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
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

// heldoutImages bounds the held-out images of pretext metrics (the trainer
// uses at most a few batches of them).
const heldoutImages = 2048

// methodsHelp lists the registered methods and backbones for --help.
func methodsHelp() string {
	var b strings.Builder
	b.WriteString("\nMethods (--method; --params sets their hyper-parameters as JSON):\n")
	for _, n := range methods.Names() {
		fmt.Fprintf(&b, "  %-13s %s\n", n, methods.Summary(n))
	}
	b.WriteString("\nBackbones (--arch):\n")
	archs := nn.Archs()
	for _, n := range archNames() {
		fmt.Fprintf(&b, "  %-15s %s\n", n, archs[n])
	}
	return b.String()
}
