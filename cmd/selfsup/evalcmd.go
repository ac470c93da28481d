package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/finetune"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/runlog"
	"selfsup/train"
)

func init() {
	register("eval", "evaluate an encoder's frozen features: knn or linear probe, per stage, label efficiency, clustering", runEval)
}

const evalUsage = `
Usage:
  selfsup eval knn    (--ckpt DIR | --baseline B) --data SPEC [--k 200] [--t 0.1] [--stage K]
  selfsup eval linear (--ckpt DIR | --baseline B) --data SPEC [--optimizer lbfgs|sgd] [--stage K]
  selfsup eval probes (--ckpt DIR | --baseline B) --data SPEC   (knn and linear, one feature extraction)
  selfsup eval stages (--ckpt DIR | --baseline B) --data SPEC
  selfsup eval labels (--ckpt DIR | --baseline B) --data SPEC [--fractions 0.01,0.1,1 | --per-class 1,10,100] [--finetune] [--plot FILE.png]
  selfsup eval cluster (--ckpt DIR | --baseline B) --data SPEC [--k CLASSES] [--seed S]

Extracts features of the train split (the classifier's training set) and of
the test split with the frozen encoder of a checkpoint (evaluation mode, batch
norm with its running statistics) and reports top-1 / top-5 accuracy on the
test split. Baselines run in the same harness (--baseline B):
  pixels      the raw pixels;
  random      a random-init encoder of --arch whose batch-norm statistics
              are recomputed on the training images (said in the output);
              with --method M, the encoder a run of M starts from (--seed),
              seen the way M's checkpoints are evaluated: the fair baseline
              of cpc (mean over a patch grid), colorization (lightness only)
              and splitbrain (both halves);
  supervised  the --arch encoder trained from scratch with the labels of the
              training split (the loop of selfsup finetune --scratch, budget
              --epochs); its own test accuracy is reported too, and --out DIR
              keeps the model so later runs reuse it with --ckpt DIR.
A supervised checkpoint given with --ckpt reports its own test accuracy too.

knn is the InstDisc / solo-learn protocol: cosine similarity, the k most
similar training images vote with weight exp(sim/t). linear trains a softmax
regression on standardised features (L-BFGS by default). --stage K probes
the globally pooled output of stage K instead (-1: the stem). probes runs
both on the same features (their flags apply), for the cost of one
extraction.

stages fits one linear probe (the linear protocol) on the globally pooled
output of the stem and of every stage: the per-layer table of the RotNet and
split-brain papers.

labels probes with a class-balanced share of the training labels
(1%, 10% and 100% by default, picked reproducibly from --seed), and with
--finetune also fine-tunes the encoder on each share (--freeze, --epochs,
at least --min-steps steps); --plot draws the curve.

cluster runs k-means (k-means++ seeds, best of 10 restarts) on the
L2-normalised features of the test split, with k the number of classes
unless --k is given, and scores the clusters against the classes: NMI, ARI
and the accuracy of the best one-to-one matching of clusters to classes.

Examples:
  selfsup eval knn --ckpt runs/simclr-mnist --data mnist
  selfsup eval linear --ckpt runs/simclr-mnist --data mnist --json
  selfsup eval knn --baseline pixels --data fashion-mnist
  selfsup eval linear --baseline random --arch resnet-small --data mnist
  selfsup eval probes --baseline random --method cpc --data mnist   # random-init, seen as CPC evaluates it
  selfsup eval stages --ckpt runs/simclr-mnist --data mnist
  selfsup eval cluster --ckpt runs/simclr-mnist --data mnist --json
  selfsup eval labels --ckpt runs/simclr-mnist --data mnist --plot labels.png
  selfsup eval labels --ckpt runs/simclr-mnist --data mnist --per-class 1,10,100 --finetune
  selfsup eval linear --baseline supervised --arch resnet-small --data mnist --epochs 1 --out runs/sup-mnist
`

// evalSetup holds the flags every eval protocol shares: the data, the
// encoder (a checkpoint or a baseline) and the supervised baseline's
// training budget.
type evalSetup struct {
	df       dataFlags
	ckpt     string
	baseline string
	arch     string
	method   string
	stage    int
	jsonOut  bool
	quiet    bool
	seed     uint64
	out      string
	force    bool
	tf       trainFlags
	// bc describes the encoder that encoder returned (zero for pixels).
	bc nn.BackboneConfig
}

func (e *evalSetup) register(fs *flag.FlagSet) {
	e.df.register(fs, "", "train")
	fs.StringVar(&e.ckpt, "ckpt", "", "checkpoint (a run directory or one of its step directories)")
	fs.StringVar(&e.baseline, "baseline", "", "evaluate a baseline instead: pixels, random or supervised")
	fs.StringVar(&e.arch, "arch", "resnet-small", "backbone of the random and supervised baselines")
	fs.StringVar(&e.method, "method", "", "random baseline: the encoder as this method builds and evaluates it (cpc's patch grid, colorization's lightness input, split-brain's two halves), with the weights a pretraining run of --seed starts from")
	fs.IntVar(&e.stage, "stage", 0, "features of stage k (1..) instead of the final pooled output (-1: the stem)")
	fs.BoolVar(&e.jsonOut, "json", false, "print one JSON object with the results")
	fs.BoolVar(&e.quiet, "quiet", false, "no progress bars")
	fs.Uint64Var(&e.seed, "seed", 0, "random seed (baselines' weights, label subsets)")
	fs.StringVar(&e.out, "out", "", "supervised baseline: keep the trained model in this run directory (reuse it with --ckpt)")
	fs.BoolVar(&e.force, "force", false, "supervised baseline: delete what --out holds first")
	e.tf.register(fs, "train-wd")
}

// evalData is the labelled data an evaluation uses.
type evalData struct {
	train, test data.Dataset
	classes     int
}

// open opens the labelled training images and the test split (with every
// label: --labels-fraction applies to the training split only).
func (e *evalSetup) open(stderr io.Writer) (evalData, error) {
	e.df.seed = e.seed
	trainDS, err := e.df.open(stderr, "train")
	if err != nil {
		return evalData{}, err
	}
	tf := e.df
	tf.labelsFrac = 0
	testDS, err := tf.open(stderr, "test")
	if err != nil {
		return evalData{}, err
	}
	if trainDS, err = data.Labeled(trainDS); err != nil {
		return evalData{}, err
	}
	classes := len(trainDS.Classes())
	if classes == 0 {
		return evalData{}, fmt.Errorf("%s has no labels to evaluate with", trainDS.Name())
	}
	return evalData{train: trainDS, test: testDS, classes: classes}, nil
}

// encoder returns the configured encoder (nil for the pixel baseline), a
// description of it, and extra facts for the output (a supervised model's
// own test accuracy).
func (e *evalSetup) encoder(ctx context.Context, d evalData, stderr io.Writer) (enc nn.Backbone, what string, info map[string]any, err error) {
	if (e.ckpt == "") == (e.baseline == "") {
		return nil, "", nil, usageError("give exactly one of --ckpt and --baseline")
	}
	if e.method != "" && e.baseline != "random" {
		return nil, "", nil, usageError("--method applies to --baseline random only")
	}
	switch e.baseline {
	case "":
		m, ck, err := methods.Load(e.ckpt)
		if err != nil {
			return nil, "", nil, err
		}
		enc = m.Encoder()
		spec, err := methods.SpecOf(ck)
		if err != nil {
			return nil, "", nil, err
		}
		e.bc = spec.Backbone
		if err := eval.CheckStage(enc, e.stage); err != nil {
			return nil, "", nil, usageError("--stage: %v", err)
		}
		what = fmt.Sprintf("%s %s at step %d (%s; batch norm in evaluation mode with its running statistics)", ck.Method, ck.Arch, ck.Step, ck.Dir)
		return enc, what, supervisedInfo(ck), nil
	case "pixels":
		if e.stage != 0 {
			return nil, "", nil, usageError("--stage %d: raw pixels have no stages", e.stage)
		}
		return nil, "raw pixels", nil, nil
	case "random", "supervised":
	default:
		return nil, "", nil, usageError("unknown baseline %q (pixels, random or supervised)", e.baseline)
	}
	bc, err := backboneFor(e.arch, d.train)
	if err != nil {
		return nil, "", nil, err
	}
	e.bc = bc
	what = "random-init " + e.arch
	switch {
	case e.method != "":
		if enc, err = methodEncoder(e.method, e.arch, d.train, e.seed); err != nil {
			return nil, "", nil, err
		}
		what = fmt.Sprintf("random-init %s as %s evaluates it (the weights a --seed %d run starts from)", e.arch, e.method, e.seed)
	default:
		if enc, err = nn.NewBackbone(bc, train.InitRand(e.seed)); err != nil {
			return nil, "", nil, err
		}
	}
	if err := eval.CheckStage(enc, e.stage); err != nil {
		return nil, "", nil, usageError("--stage: %v", err)
	}
	if e.baseline == "supervised" {
		return e.supervised(ctx, bc, d, stderr)
	}
	if err = eval.RecalibrateBN(ctx, enc, d.train, 10000, nil); err != nil {
		return nil, "", nil, err
	}
	what += fmt.Sprintf(" (batch-norm running statistics recomputed on %d training images)", min(10000, d.train.Len()))
	return enc, what, nil, nil
}

// methodEncoder builds method with arch for the images of ds, with the
// weights a pretraining run with seed starts from, and returns its encoder
// as the method exposes it for evaluation: the fair random-init baseline of
// methods whose features are not the backbone's output on the whole image.
func methodEncoder(method, arch string, ds data.Dataset, seed uint64) (nn.Backbone, error) {
	spec, err := makeSpec(method, arch, "", ds)
	if err != nil {
		return nil, err
	}
	if spec, err = methods.Resolve(spec, methods.RunInfo{BatchSize: 256, DataLen: ds.Len()}); err != nil {
		return nil, err
	}
	m, err := methods.Build(spec, train.InitRand(seed))
	if err != nil {
		return nil, err
	}
	return m.Encoder(), nil
}

// supervised trains the supervised baseline: the backbone bc from scratch
// on the labelled training images, evaluated on the test split, kept in
// --out (or a temporary directory removed afterwards).
func (e *evalSetup) supervised(ctx context.Context, bc nn.BackboneConfig, d evalData, stderr io.Writer) (nn.Backbone, string, map[string]any, error) {
	cfg, err := e.tf.config()
	if err != nil {
		return nil, "", nil, err
	}
	dir := e.out
	if dir == "" {
		if dir, err = os.MkdirTemp("", "selfsup-supervised-"); err != nil {
			return nil, "", nil, err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintln(stderr, "note: the supervised model is not kept (--out DIR keeps it, to reuse with --ckpt DIR)")
	} else {
		mode := runlog.NewRun
		if e.force {
			mode = runlog.ForceRun
		}
		if err := prepareOut(dir, mode, " (or evaluate the model it holds with --ckpt "+dir+")"); err != nil {
			return nil, "", nil, err
		}
	}
	cfg.RunDir, cfg.Backbone, cfg.Seed, cfg.Data = dir, bc, e.seed, e.df.spec
	if !e.quiet {
		cfg.Progress = stderr
	}
	fmt.Fprintf(stderr, "supervised baseline: %s from scratch on %s (%d labelled images)\n", bc.Arch, d.train.Name(), d.train.Len())
	res, err := finetune.Run(ctx, d.train, d.test, cfg)
	if err != nil {
		return nil, "", nil, fmt.Errorf("supervised baseline: %w", err)
	}
	if res.Interrupted {
		return nil, "", nil, fmt.Errorf("supervised baseline interrupted at step %d", res.Steps)
	}
	info := map[string]any{"supervised_steps": res.Steps, "supervised_epochs": res.Epochs}
	if res.Test != nil {
		info["supervised_test_top1"], info["supervised_test_top5"] = res.Test.Top1, res.Test.Top5
	}
	if e.out != "" {
		info["supervised_run"] = res.CheckpointDir
	}
	what := fmt.Sprintf("supervised %s trained from scratch (%d steps, %d epochs; frozen, batch norm in evaluation mode)", bc.Arch, res.Steps, res.Epochs)
	return res.Model.Enc, what, info, nil
}

// features extracts train and test features with enc (raw pixels when enc
// is nil).
func (e *evalSetup) features(ctx context.Context, enc nn.Backbone, d evalData, stderr io.Writer) (train, test *eval.Features, err error) {
	if enc == nil {
		if train, err = eval.PixelFeatures(d.train); err != nil {
			return nil, nil, err
		}
		test, err = eval.PixelFeatures(d.test)
		return train, test, err
	}
	cfg := eval.ExtractConfig{Stage: e.stage, Progress: e.progress(stderr), Label: "features train"}
	if train, err = eval.Extract(ctx, enc, d.train, cfg); err != nil {
		return nil, nil, err
	}
	cfg.Label = "features test"
	test, err = eval.Extract(ctx, enc, d.test, cfg)
	return train, test, err
}

func (e *evalSetup) progress(stderr io.Writer) io.Writer {
	if e.quiet {
		return nil
	}
	return stderr
}

// linearConfig is the linear protocol of eval linear: L-BFGS (or SGD) with
// the weight decay chosen on held-out training features unless wd >= 0.
func linearConfig(opt string, wd float64) (eval.LinearConfig, error) {
	cfg := eval.LinearConfig{WeightDecay: wd}
	if wd < 0 {
		cfg.WeightDecay, cfg.SelectWeightDecay = 0, true
	}
	switch opt {
	case "lbfgs":
		cfg.Optimizer = eval.LBFGSOptimizer
	case "sgd":
		cfg.Optimizer = eval.SGDOptimizer
	default:
		return cfg, usageError("unknown optimizer %q (lbfgs or sgd)", opt)
	}
	return cfg, nil
}

var evalProtocols = map[string]bool{"knn": true, "linear": true, "probes": true, "stages": true, "labels": true, "cluster": true}

// evalFlags are the flags of the protocols beyond evalSetup.
type evalFlags struct {
	k, t      *float64
	kn        *int
	opt       *string
	wd        *float64
	fractions *string
	perClass  *string
	finetune  *bool
	freeze    *int
	minSteps  *int64
	plot      *string
	// set holds the flags given on the command line.
	set map[string]bool
}

func runEval(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || !evalProtocols[args[0]] {
		fmt.Fprintln(stderr, strings.TrimSpace(evalUsage))
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError("a protocol is needed: knn or linear (one probe), probes (both), stages (a linear probe per stage), labels (label efficiency) or cluster (k-means)")
	}
	proto := args[0]
	fs := newFlags("eval "+proto, evalUsage, stderr)
	var e evalSetup
	e.register(fs)
	var f evalFlags
	f.kn = fs.Int("k", eval.DefaultK, "kNN: neighbours that vote; cluster: number of clusters (default: the number of classes)")
	f.t = fs.Float64("t", eval.DefaultTemperature, "kNN: vote temperature")
	f.opt = fs.String("optimizer", "lbfgs", "linear probes: lbfgs or sgd")
	f.wd = fs.Float64("wd", -1, "linear probes: weight decay (default: chosen from 0, 1e-6 ... 1e-3 on a held-out 10% of the training features)")
	f.fractions = fs.String("fractions", "0.01,0.1,1", "labels: class-balanced fractions of the training labels")
	f.perClass = fs.String("per-class", "", "labels: labelled images per class instead, e.g. 1,10,100")
	f.finetune = fs.Bool("finetune", false, "labels: fine-tune the encoder on every share of the labels too")
	f.freeze = fs.Int("freeze", 0, "labels --finetune: freeze the first K stage modules")
	f.minSteps = fs.Int64("min-steps", 200, "labels --finetune: train at least this many steps on small shares")
	f.plot = fs.String("plot", "", "labels: draw the curve to this PNG (or .svg) file")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch proto {
	case "stages":
		return runEvalStages(ctx, &e, f, stdout, stderr)
	case "labels":
		return runEvalLabels(ctx, &e, f, stdout, stderr)
	case "cluster":
		return runEvalCluster(ctx, &e, f, stdout, stderr)
	}
	start := time.Now()
	d, err := e.open(stderr)
	if err != nil {
		return err
	}
	if proto == "linear" || proto == "probes" {
		if _, err := linearConfig(*f.opt, *f.wd); err != nil {
			return err
		}
	}
	enc, what, info, err := e.encoder(ctx, d, stderr)
	if err != nil {
		return err
	}
	train, test, err := e.features(ctx, enc, d, stderr)
	if err != nil {
		return err
	}
	var res, knnRes *eval.Evaluation
	extra := map[string]any{}
	if proto == "knn" || proto == "probes" {
		cfg := eval.DefaultKNNConfig()
		cfg.K, cfg.Temperature = *f.kn, *f.t
		if knnRes, err = eval.KNN(train.X, train.Labels, test.X, test.Labels, d.classes, cfg); err != nil {
			return err
		}
		res = knnRes
		extra["k"], extra["t"] = *f.kn, *f.t
	}
	if proto == "linear" || proto == "probes" {
		cfg, _ := linearConfig(*f.opt, *f.wd)
		pr, err := eval.LinearProbe(train.X, train.Labels, test.X, test.Labels, d.classes, cfg)
		if err != nil {
			return err
		}
		res = pr.Test
		extra["optimizer"], extra["iterations"], extra["train_loss"], extra["weight_decay"] = *f.opt, pr.Fit.Iterations, pr.Fit.Loss, pr.Fit.WeightDecay
	}
	if proto == "probes" {
		// top1/top5 are the linear probe's; the kNN's have their own keys
		extra["knn_top1"], extra["knn_top5"] = knnRes.Top1, knnRes.Top5
		extra["linear_top1"], extra["linear_top5"] = res.Top1, res.Top5
	}
	if e.stage != 0 {
		extra["stage"] = e.stage
	}
	out := map[string]any{"protocol": proto, "encoder": what, "data": e.df.spec, "top1": res.Top1, "top5": res.Top5,
		"train_images": train.X.Dim(0), "test_images": test.X.Dim(0), "feature_dim": train.X.Dim(1), "seconds": time.Since(start).Seconds()}
	for key, v := range extra {
		out[key] = v
	}
	for key, v := range info {
		out[key] = v
	}
	if e.jsonOut {
		return json.NewEncoder(stdout).Encode(out)
	}
	if proto == "probes" {
		fmt.Fprintf(stdout, "knn on %s, %s: top-1 %.2f%%, top-5 %.2f%%\n", e.df.spec, what, 100*knnRes.Top1, 100*knnRes.Top5)
		proto = "linear"
	}
	fmt.Fprintf(stdout, "%s on %s, %s: top-1 %.2f%%, top-5 %.2f%% (%d-d features, %d train / %d test images, %s)\n",
		proto, e.df.spec, what, 100*res.Top1, 100*res.Top5, train.X.Dim(1), train.X.Dim(0), test.X.Dim(0), time.Since(start).Round(time.Second))
	printSupervisedInfo(stdout, info)
	return nil
}

// printSupervisedInfo adds a line with a supervised model's own test
// accuracy.
func printSupervisedInfo(w io.Writer, info map[string]any) {
	if v, ok := info["supervised_test_top1"].(float64); ok {
		fmt.Fprintf(w, "the supervised model itself: test top-1 %.2f%%", 100*v)
		if v5, ok := info["supervised_test_top5"].(float64); ok {
			fmt.Fprintf(w, ", top-5 %.2f%%", 100*v5)
		}
		if run, ok := info["supervised_run"].(string); ok {
			fmt.Fprintf(w, " (%s)", run)
		}
		fmt.Fprintln(w)
	}
}
