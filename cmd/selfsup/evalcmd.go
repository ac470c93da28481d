package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"time"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/methods"
	"selfsup/nn"
)

func init() {
	register("eval", "evaluate an encoder's frozen features: knn or linear probe", runEval)
}

const evalUsage = `
Usage:
  selfsup eval knn    (--ckpt DIR | --baseline pixels|random) --data SPEC [--k 200] [--t 0.1]
  selfsup eval linear (--ckpt DIR | --baseline pixels|random) --data SPEC [--optimizer lbfgs|sgd]

Extracts features of the train split (the classifier's training set) and of
the test split with the frozen encoder of a checkpoint (evaluation mode, batch
norm with its running statistics) and reports top-1 / top-5 accuracy on the
test split. Baselines run in the same harness: raw pixels, or a random-init
encoder of --arch whose batch-norm statistics are recomputed on the training
images (said in the output).

knn is the InstDisc / solo-learn protocol: cosine similarity, the k most
similar training images vote with weight exp(sim/t). linear trains a softmax
regression on standardised features (L-BFGS by default).

Examples:
  selfsup eval knn --ckpt runs/simclr-mnist --data mnist
  selfsup eval linear --ckpt runs/simclr-mnist --data mnist --json
  selfsup eval knn --baseline pixels --data fashion-mnist
  selfsup eval linear --baseline random --arch resnet-small --data mnist
`

type evalSetup struct {
	df       dataFlags
	ckpt     string
	baseline string
	arch     string
	stage    int
	jsonOut  bool
	quiet    bool
	seed     uint64
}

func (e *evalSetup) register(fs flagSetWithString) {
	e.df.register(fs, "", "train")
	fs.StringVar(&e.ckpt, "ckpt", "", "checkpoint (a run directory or one of its step directories)")
	fs.StringVar(&e.baseline, "baseline", "", "evaluate a baseline instead: pixels or random")
	fs.StringVar(&e.arch, "arch", "resnet-small", "backbone of the random baseline")
	fs.IntVar(&e.stage, "stage", 0, "features of stage k (1..) instead of the final pooled output")
	fs.BoolVar(&e.jsonOut, "json", false, "print one JSON object with the results")
	fs.BoolVar(&e.quiet, "quiet", false, "no progress bars")
}

type flagSetWithString interface {
	flagSet
}

// features returns train and test features for the configured encoder or
// baseline, and a description of what produced them.
func (e *evalSetup) features(ctx context.Context, stderr io.Writer) (train, test *eval.Features, classes int, what string, err error) {
	if (e.ckpt == "") == (e.baseline == "") {
		return nil, nil, 0, "", usageError("give exactly one of --ckpt and --baseline")
	}
	trainDS, err := e.df.open(stderr, "train")
	if err != nil {
		return nil, nil, 0, "", err
	}
	testDS, err := e.df.open(stderr, "test")
	if err != nil {
		return nil, nil, 0, "", err
	}
	trainDS, err = data.Labeled(trainDS)
	if err != nil {
		return nil, nil, 0, "", err
	}
	classes = len(trainDS.Classes())
	if classes == 0 {
		return nil, nil, 0, "", fmt.Errorf("%s has no labels to evaluate with", trainDS.Name())
	}
	var progress io.Writer
	if !e.quiet {
		progress = stderr
	}
	var enc nn.Backbone
	switch {
	case e.baseline == "pixels":
		if train, err = eval.PixelFeatures(trainDS); err != nil {
			return
		}
		test, err = eval.PixelFeatures(testDS)
		return train, test, classes, "raw pixels", err
	case e.baseline == "random":
		c, h, _ := trainDS.Shape()
		enc, err = nn.NewBackbone(nn.BackboneConfig{Arch: e.arch, InChannels: c, ImageSize: h}, rand.New(rand.NewPCG(e.seed, 0x5e1f)))
		if err != nil {
			return
		}
		if err = eval.RecalibrateBN(ctx, enc, trainDS, 10000, nil); err != nil {
			return
		}
		what = fmt.Sprintf("random-init %s (batch-norm running statistics recomputed on %d training images)", e.arch, min(10000, trainDS.Len()))
	case e.baseline != "":
		return nil, nil, 0, "", usageError("unknown baseline %q (pixels or random)", e.baseline)
	default:
		m, ck, lerr := methods.Load(e.ckpt)
		if lerr != nil {
			return nil, nil, 0, "", lerr
		}
		enc = m.Encoder()
		what = fmt.Sprintf("%s %s at step %d (%s; batch norm in evaluation mode with its running statistics)", ck.Method, ck.Arch, ck.Step, ck.Dir)
	}
	cfg := eval.ExtractConfig{Stage: e.stage, Progress: progress, Label: "features train"}
	if train, err = eval.Extract(ctx, enc, trainDS, cfg); err != nil {
		return
	}
	cfg.Label = "features test"
	test, err = eval.Extract(ctx, enc, testDS, cfg)
	return train, test, classes, what, err
}

func runEval(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "knn" && args[0] != "linear") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stderr, strings.TrimSpace(evalUsage))
			return nil
		}
		fmt.Fprintln(stderr, strings.TrimSpace(evalUsage))
		return usageError("a protocol is needed: knn or linear")
	}
	proto := args[0]
	fs := newFlags("eval "+proto, evalUsage, stderr)
	var e evalSetup
	e.register(fs)
	k := fs.Int("k", eval.DefaultK, "kNN: neighbours that vote")
	t := fs.Float64("t", eval.DefaultTemperature, "kNN: vote temperature")
	opt := fs.String("optimizer", "lbfgs", "linear: lbfgs or sgd")
	wd := fs.Float64("wd", -1, "linear: weight decay (default: chosen from 0, 1e-6 ... 1e-3 on a held-out 10% of the training features)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	train, test, classes, what, err := e.features(ctx, stderr)
	if err != nil {
		return err
	}
	var res *eval.Evaluation
	extra := map[string]any{}
	switch proto {
	case "knn":
		cfg := eval.DefaultKNNConfig()
		cfg.K, cfg.Temperature = *k, *t
		res, err = eval.KNN(train.X, train.Labels, test.X, test.Labels, classes, cfg)
		extra["k"], extra["t"] = *k, *t
	case "linear":
		cfg := eval.LinearConfig{WeightDecay: *wd}
		if *wd < 0 {
			cfg.WeightDecay, cfg.SelectWeightDecay = 0, true
		}
		switch *opt {
		case "lbfgs":
			cfg.Optimizer = eval.LBFGSOptimizer
		case "sgd":
			cfg.Optimizer = eval.SGDOptimizer
		default:
			return usageError("unknown optimizer %q (lbfgs or sgd)", *opt)
		}
		var pr *eval.ProbeResult
		pr, err = eval.LinearProbe(train.X, train.Labels, test.X, test.Labels, classes, cfg)
		if pr != nil {
			res = pr.Test
			extra["optimizer"], extra["iterations"], extra["train_loss"], extra["weight_decay"] = *opt, pr.Fit.Iterations, pr.Fit.Loss, pr.Fit.WeightDecay
		}
	}
	if err != nil {
		return err
	}
	out := map[string]any{"protocol": proto, "encoder": what, "data": e.df.spec, "top1": res.Top1, "top5": res.Top5,
		"train_images": train.X.Dim(0), "test_images": test.X.Dim(0), "feature_dim": train.X.Dim(1), "seconds": time.Since(start).Seconds()}
	for key, v := range extra {
		out[key] = v
	}
	if e.jsonOut {
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "%s on %s, %s: top-1 %.2f%%, top-5 %.2f%% (%d-d features, %d train / %d test images, %s)\n",
		proto, e.df.spec, what, 100*res.Top1, 100*res.Top5, train.X.Dim(1), train.X.Dim(0), test.X.Dim(0), time.Since(start).Round(time.Second))
	return nil
}
