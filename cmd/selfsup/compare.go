package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"selfsup/checkpoint"
	"selfsup/data"
	"selfsup/eval"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/report"
	"selfsup/runlog"
	"selfsup/train"
)

func init() {
	register("compare", "pretrain and evaluate several methods and baselines with one budget, then write the report", runCompare)
}

const compareUsage = `
Usage: selfsup compare --data SPEC --methods simclr,byol,... --out DIR
                       [--baselines pixels,random,supervised] [--epochs N | --steps N]
                       [--batch 256] [--arch resnet-small] [--finetune] [--subset N]

For every method: pretrains the backbone with the same budget (OUT/METHOD, as
selfsup pretrain would), then evaluates its frozen encoder: kNN (cosine,
k=200), linear probe (weight decay chosen on held-out training features), a
linear probe per stage, label efficiency (linear probe with --fractions of
the labels, class-balanced), k-means NMI/ARI on the test split, and a t-SNE
map of --tsne-n test images; with --finetune also fine-tunes the encoder on
every share of the labels. The results go to OUT/METHOD/eval.json.

The baselines run in the same harness (OUT/pixels, OUT/random,
OUT/supervised): raw pixels; a random-init encoder (batch-norm statistics
recomputed on the training images); the same backbone trained from scratch
with the labels for the same budget (method supervised), evaluated frozen
like the others, its own classifier's accuracy in the fine-tune column.

Finally writes OUT/report.md and OUT/report.html (see selfsup report). The
command is resumable: a run whose eval.json exists is skipped, a run with
a checkpoint continues from it. Progress goes to stderr.

Examples:
  selfsup compare --data mnist --methods simclr,rotation --epochs 1 --batch 128 --subset 4000 --out /tmp/cmp
  selfsup compare --data fashion-mnist --methods simclr,moco,byol,barlow,rotation --epochs 10 --out runs/cmp-fmnist
`

// compareConfig is everything compare needs beyond the data.
type compareConfig struct {
	methods, baselines []string
	arch               string
	epochs             int
	steps              int64
	batch              int
	workers            int
	seed               uint64
	out                string
	suite              suiteConfig
}

var knownBaselines = []string{"pixels", "random", "supervised"}

func runCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare", compareUsage, stderr)
	var df dataFlags
	df.register(fs, "", "train")
	var cc compareConfig
	methodList := fs.String("methods", "", "comma-separated methods to pretrain: "+strings.Join(methods.Names(), ", "))
	baselineList := fs.String("baselines", strings.Join(knownBaselines, ","), "comma-separated baselines (pixels, random, supervised; none for none)")
	fs.StringVar(&cc.arch, "arch", "resnet-small", "backbone of every run: "+strings.Join(archNames(), ", "))
	fs.IntVar(&cc.epochs, "epochs", 1, "pretraining epochs of every method (and of the supervised baseline)")
	fs.Int64Var(&cc.steps, "steps", 0, "pretraining steps instead (overrides --epochs)")
	fs.IntVar(&cc.batch, "batch", 256, "images per pretraining step")
	fs.IntVar(&cc.workers, "workers", 0, "data-loading goroutines (0: GOMAXPROCS)")
	fs.Uint64Var(&cc.seed, "seed", 0, "random seed of every run (weights, data order, label subsets, t-SNE)")
	fs.StringVar(&cc.out, "out", "", "directory of the runs and the report (required)")
	fractions := fs.String("fractions", "0.01,0.1,1", "label efficiency: class-balanced fractions of the training labels")
	fs.IntVar(&cc.suite.tsneN, "tsne-n", 2000, "test images in each t-SNE map (0: no map)")
	fs.BoolVar(&cc.suite.finetune, "finetune", false, "also fine-tune every encoder on each share of the labels")
	fs.IntVar(&cc.suite.ftEpochs, "finetune-epochs", 2, "fine-tuning epochs (at least 200 steps on small shares)")
	fs.IntVar(&cc.suite.freeze, "freeze", 0, "fine-tuning: freeze the first K stage modules")
	quiet := fs.Bool("quiet", false, "no progress bars (the progress lines stay)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	var err error
	if cc.methods, cc.baselines, err = parseRuns(*methodList, *baselineList); err != nil {
		return err
	}
	if cc.suite.budgets, err = eval.ParseFractions(*fractions); err != nil {
		return usageError("--fractions: %v", err)
	}
	switch {
	case cc.out == "":
		return usageError("--out DIR is required")
	case cc.epochs < 1 && cc.steps <= 0:
		return usageError("--epochs %d: want at least 1 (or --steps)", cc.epochs)
	case cc.batch < 1:
		return usageError("--batch %d: want at least 1", cc.batch)
	case cc.suite.tsneN < 0:
		return usageError("--tsne-n %d must not be negative", cc.suite.tsneN)
	case cc.suite.finetune && cc.suite.ftEpochs < 1:
		return usageError("--finetune-epochs %d: want at least 1", cc.suite.ftEpochs)
	}
	if _, ok := nn.Archs()[cc.arch]; !ok {
		return usageError("unknown backbone %q (known: %s)", cc.arch, strings.Join(archNames(), ", "))
	}
	cc.suite.seed, cc.suite.spec = cc.seed, df.spec
	if !*quiet {
		cc.suite.progress = stderr
	}
	cc.suite.log = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return compare(ctx, df, cc, stdout, stderr)
}

// parseRuns reads the method and baseline lists and checks them.
func parseRuns(methodList, baselineList string) (ms, bs []string, err error) {
	split := func(s string) []string {
		var out []string
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	ms = split(methodList)
	if baselineList != "none" {
		bs = split(baselineList)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if m == "supervised" {
			return nil, nil, usageError("--methods: supervised is a baseline (--baselines supervised)")
		}
		if _, err := methods.Defaults(m); err != nil {
			return nil, nil, usageError("--methods: %v", err)
		}
		if seen[m] {
			return nil, nil, usageError("--methods: %s is listed twice", m)
		}
		seen[m] = true
	}
	for _, b := range bs {
		if !slices.Contains(knownBaselines, b) {
			return nil, nil, usageError("--baselines: unknown baseline %q (pixels, random, supervised or none)", b)
		}
		if seen[b] {
			return nil, nil, usageError("--baselines: %s is listed twice", b)
		}
		seen[b] = true
	}
	if len(ms)+len(bs) == 0 {
		return nil, nil, usageError("nothing to compare: give --methods (and/or --baselines)")
	}
	return ms, bs, nil
}

// compare runs every method and baseline, then writes the report.
func compare(ctx context.Context, df dataFlags, cc compareConfig, stdout, stderr io.Writer) error {
	start := time.Now()
	df.seed = cc.seed
	setup := evalSetup{df: df, seed: cc.seed}
	d, err := setup.open(stderr)
	if err != nil {
		return err
	}
	pretrainDS, err := df.open(stderr, "")
	if err != nil {
		return err
	}
	// every share of the labels must exist before hours of training
	for _, b := range cc.suite.budgets {
		if _, err := eval.LabelSubset(d.train, b, cc.seed); err != nil {
			return err
		}
	}
	bc, err := backboneFor(cc.arch, d.train)
	if err != nil {
		return err
	}
	if cc.suite.finetune {
		if err := checkFreeze(bc, cc.suite.freeze); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cc.out, 0o755); err != nil {
		return err
	}
	cc.suite.bc = bc
	names := append(append([]string{}, cc.methods...), cc.baselines...)
	fmt.Fprintf(stderr, "compare on %s (%d labelled training images, %d test images): %s with %s, %s, batch %d -> %s\n",
		df.spec, d.train.Len(), d.test.Len(), strings.Join(names, ", "), cc.arch, budgetText(cc), cc.batch, cc.out)
	var dirs []string
	for i, name := range names {
		dir := filepath.Join(cc.out, name)
		dirs = append(dirs, dir)
		tag := fmt.Sprintf("[%d/%d] %s", i+1, len(names), name)
		if _, err := os.Stat(filepath.Join(dir, report.RecordFile)); err == nil {
			fmt.Fprintf(stderr, "%s: done before (%s exists), skipped\n", tag, filepath.Join(dir, report.RecordFile))
			continue
		}
		runStart := time.Now()
		var rec *report.Record
		switch name {
		case "pixels", "random":
			rec, err = compareBaseline(ctx, name, dir, d, cc, tag)
		default:
			rec, err = compareTrained(ctx, name, dir, pretrainDS, d, cc, tag)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := report.WriteRecord(dir, rec); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s: done in %s; %s\n", tag, time.Since(runStart).Round(time.Second), summaryLine(rec))
	}
	title := fmt.Sprintf("selfsup compare on %s: %s, %s, batch %d", df.spec, cc.arch, budgetText(cc), cc.batch)
	page, err := report.LoadPage(title, dirs)
	if err != nil {
		return err
	}
	files, err := page.Save(filepath.Join(cc.out, "report.md"), func(msg string) { fmt.Fprintf(stderr, "warning: %s\n", msg) })
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "compared %d runs on %s in %s; report: %s\n", len(dirs), df.spec, time.Since(start).Round(time.Second), strings.Join(files, ", "))
	return nil
}

func budgetText(cc compareConfig) string {
	if cc.steps > 0 {
		return fmt.Sprintf("%d steps", cc.steps)
	}
	return fmt.Sprintf("%d epochs", cc.epochs)
}

// summaryLine is the one-line result of a run for the progress log.
func summaryLine(r *report.Record) string {
	var parts []string
	if r.KNN != nil {
		parts = append(parts, fmt.Sprintf("kNN %.2f%%", 100*r.KNN.Top1))
	}
	if r.Linear != nil {
		parts = append(parts, fmt.Sprintf("linear %.2f%%", 100*r.Linear.Top1))
	}
	if r.Finetune != nil {
		parts = append(parts, fmt.Sprintf("fine-tune %.2f%%", 100*r.Finetune.Top1))
	}
	if r.Cluster != nil {
		parts = append(parts, fmt.Sprintf("NMI %.3f", r.Cluster.NMI))
	}
	return strings.Join(parts, ", ")
}

// compareBaseline evaluates the raw pixels or a random-init encoder.
func compareBaseline(ctx context.Context, name, dir string, d evalData, cc compareConfig, tag string) (*report.Record, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rec := &report.Record{Name: name, Kind: report.KindBaseline, Method: name, Data: cc.suite.spec}
	var enc nn.Backbone
	if name == "random" {
		var err error
		if enc, err = nn.NewBackbone(cc.suite.bc, train.InitRand(cc.seed)); err != nil {
			return nil, err
		}
		fmt.Fprintf(cc.suite.log, "%s: recomputing the batch-norm statistics of a random-init %s on %d training images\n", tag, cc.arch, min(10000, d.train.Len()))
		if err := eval.RecalibrateBN(ctx, enc, d.train, 10000, nil); err != nil {
			return nil, err
		}
		rec.Backbone = cc.arch
		rec.Encoder = fmt.Sprintf("random-init %s, batch-norm running statistics recomputed on %d training images", cc.arch, min(10000, d.train.Len()))
	} else {
		rec.Encoder = "raw pixels"
	}
	return rec, evaluateSuite(ctx, enc, d, dir, cc.suite, tag, rec)
}

// compareTrained pretrains a method (or trains the supervised baseline)
// with the shared budget, resuming from a checkpoint in dir, and
// evaluates its frozen encoder.
func compareTrained(ctx context.Context, name, dir string, pretrainDS data.Dataset, d evalData, cc compareConfig, tag string) (*report.Record, error) {
	ds, params, kind := pretrainDS, "", report.KindMethod
	if name == "supervised" {
		ds, kind = d.train, report.KindBaseline
		params = fmt.Sprintf(`{"classes":%d}`, d.classes)
	}
	spec, err := makeSpec(name, cc.arch, params, ds)
	if err != nil {
		return nil, err
	}
	resume, err := prepareCompareRun(dir)
	if err != nil {
		return nil, err
	}
	cfg := train.Config{RunDir: dir, Epochs: cc.epochs, Steps: cc.steps, BatchSize: cc.batch, Seed: cc.seed, Workers: cc.workers,
		Data: cc.suite.spec, Resume: resume, Keep: 1, Progress: cc.suite.progress, WarmupSteps: -1}
	if held, err := cc.heldout(); err == nil {
		cfg.Heldout = held
	}
	verb := "pretraining"
	if resume {
		verb = "resuming"
	}
	fmt.Fprintf(cc.suite.log, "%s: %s %s on %s (%d images), %s, batch %d\n", tag, verb, name, ds.Name(), ds.Len(), budgetText(cc), cc.batch)
	res, err := train.Run(ctx, spec, ds, cfg)
	if err != nil {
		return nil, err
	}
	if res.Interrupted {
		return nil, fmt.Errorf("interrupted at step %d (checkpoint in %s); run the same command again to continue", res.Steps, res.CheckpointDir)
	}
	rec := &report.Record{Name: name, Kind: kind, Method: name, Backbone: cc.arch, Data: cc.suite.spec,
		Epochs: res.Epoch, Steps: res.Steps, BatchSize: cc.batch}
	if res.ResumedFrom == 0 {
		rec.PretrainSeconds = res.Wall.Seconds()
	}
	enc := res.Method.Encoder()
	rec.Encoder = fmt.Sprintf("%s %s after %d steps (frozen; batch norm in evaluation mode with its running statistics)", name, cc.arch, res.Steps)
	if sup, ok := res.Method.(*methods.Supervised); ok {
		ev, err := supervisedAccuracy(ctx, sup, d.test)
		if err != nil {
			return nil, err
		}
		rec.Finetune = &report.Accuracy{Top1: ev.Top1, Top5: ev.Top5, Protocol: "its own classifier, trained from scratch with all labels"}
		fmt.Fprintf(cc.suite.log, "%s: the supervised model's own test top-1 %.2f%%\n", tag, 100*ev.Top1)
	}
	return rec, evaluateSuite(ctx, enc, d, dir, cc.suite, tag, rec)
}

// heldout returns the held-out images pretext metrics are measured on, as
// selfsup pretrain picks them: up to heldoutImages of the spec's test
// split.
func (cc compareConfig) heldout() (data.Dataset, error) {
	held, err := data.Open(cc.suite.spec, data.OpenOptions{Split: "test"})
	if err != nil {
		return nil, err
	}
	if held.Len() > heldoutImages {
		idx, err := data.RandomIndices(held.Len(), heldoutImages, cc.seed)
		if err != nil {
			return nil, err
		}
		return data.Subset(held, idx)
	}
	return held, nil
}

// runFiles are what a training run writes before its first checkpoint:
// a directory holding only these is an interrupted start that compare may
// begin again.
var runFiles = []string{train.MetricsFile, train.ConfigFile, train.LossPlot}

// prepareCompareRun readies dir for a training run: it resumes when dir
// holds a checkpoint, starts afresh when dir is missing, empty or holds
// only the files of a run stopped before its first checkpoint, and refuses
// anything else.
func prepareCompareRun(dir string) (resume bool, err error) {
	if _, err := checkpoint.LatestIn(dir); err == nil {
		return true, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !slices.Contains(runFiles, e.Name()) {
			return false, fmt.Errorf("%s holds %s and no checkpoint to resume from; move it away or delete it", dir, e.Name())
		}
	}
	_, err = runlog.PrepareRunDir(dir, runlog.ForceRun)
	return false, err
}
