package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"selfsup/data"
	"selfsup/embed"
	"selfsup/eval"
	"selfsup/nn"
	"selfsup/runlog"
	"selfsup/tensor"
	"selfsup/train"
)

func init() {
	register("classify-train", "train a classifier head on a few labelled images per class", runClassifyTrain)
	register("classify", "classify images with a classifier from classify-train", runClassify)
}

const classifyTrainUsage = `
Usage: selfsup classify-train --ckpt DIR --data SPEC [--per-class 10] --out DIR2 [--baselines]

Trains a linear probe (softmax regression on standardised embeddings) on
--per-class labelled images of every class of SPEC's train split, picked at
random from --seed, using the frozen encoder of a checkpoint, and saves it
in DIR2 with the encoder's ID and the path of its checkpoint. When SPEC has
a test split the probe's accuracy on all of it is reported. The weight
decay is chosen on a held-out fifth of the labelled images unless --wd is
given.

--baselines trains the same probe, on the same images, on raw pixels and on
a random-init encoder of the same architecture (batch-norm statistics
recomputed on up to 10000 unlabelled training images), and reports the
three test accuracies: what the self-supervised features are worth.

Data specs: ` + data.SpecForms + `

Examples:
  selfsup classify-train --ckpt runs/simclr-mnist --data mnist --per-class 10 --out runs/mnist-probe
  selfsup classify-train --ckpt runs/simclr-mnist --data mnist --baselines --json --out /tmp/probe
  selfsup classify --model runs/mnist-probe digit.png
`

// fewLabelGrid is the weight-decay grid of classify-train's selection:
// with ten examples per class the probe needs much more regularisation
// than eval's grid, made for full training sets, offers.
var fewLabelGrid = []float64{1e-4, 1e-3, 1e-2, 1e-1, 1}

func runClassifyTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("classify-train", classifyTrainUsage, stderr)
	var df dataFlags
	df.register(fs, "", "train")
	ckpt := fs.String("ckpt", "", "checkpoint of the encoder (required)")
	out := fs.String("out", "", "directory to save the classifier in (required)")
	perClass := fs.Int("per-class", 10, "labelled images per class")
	wd := fs.Float64("wd", -1, "weight decay (default: chosen from 1e-4 ... 1 on a held-out fifth of the labelled images)")
	baselines := fs.Bool("baselines", false, "also train the probe on raw pixels and on a random-init encoder, and compare")
	fs.Uint64Var(&df.seed, "seed", 0, "seed of the labelled images and of the random-init baseline")
	quiet := fs.Bool("quiet", false, "no progress bars")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	if *ckpt == "" || *out == "" {
		return usageError("--ckpt and --out are required")
	}
	if *perClass <= 0 {
		return usageError("--per-class %d must be positive", *perClass)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	trainDS, err := df.open(stderr, "train")
	if err != nil {
		return err
	}
	classes := trainDS.Classes()
	if len(classes) == 0 {
		return fmt.Errorf("%s has no labels to train a classifier with", trainDS.Name())
	}
	idx, err := data.PerClassIndices(trainDS, *perClass, df.seed)
	if err != nil {
		return err
	}
	labelled, err := data.Subset(trainDS, idx)
	if err != nil {
		return err
	}
	testDS, terr := df.open(io.Discard, "test")
	if terr != nil {
		testDS = nil
	}
	enc, err := embed.Load(*ckpt)
	if err != nil {
		return err
	}
	var progress io.Writer
	if !*quiet {
		progress = stderr
		fmt.Fprintf(stderr, "classify-train: %d labelled images (%d per class) of %s, encoder %s\n", labelled.Len(), *perClass, trainDS.Name(), enc)
	}
	cfg := eval.LinearConfig{WeightDecay: *wd, Seed: df.seed}
	if *wd < 0 {
		cfg.WeightDecay, cfg.SelectWeightDecay, cfg.WeightDecayGrid, cfg.ValidationFraction = 0, true, fewLabelGrid, 0.2
	}
	res, err := probeOn(ctx, "ssl", enc, labelled, testDS, len(classes), cfg, progress)
	if err != nil {
		return err
	}
	spec := df.spec
	abs, _ := filepath.Abs(*out)
	clf := &embed.Classifier{Probe: res.probe, Info: embed.ClassifierInfo{
		EncoderID: enc.ID(), Checkpoint: enc.Checkpoint(), Arch: enc.Config().Arch, Classes: classes,
		Data: spec, PerClass: *perClass, TrainImages: labelled.Len(), WeightDecay: res.wd, TestTop1: res.top1,
	}}
	if err := embed.SaveClassifier(*out, clf); err != nil {
		return err
	}
	report := map[string]any{"out": abs, "data": spec, "per_class": *perClass, "train_images": labelled.Len(), "classes": len(classes),
		"encoder_id": enc.ID(), "checkpoint": enc.Checkpoint(), "weight_decay": res.wd, "test_top1": res.top1, "test_images": res.testN}
	lines := []string{fmt.Sprintf("saved the classifier to %s (%d classes, %d labelled images, weight decay %g)", abs, len(classes), labelled.Len(), res.wd)}
	if res.testN > 0 {
		lines = append(lines, fmt.Sprintf("test top-1 on %d images: self-supervised features %.2f%%", res.testN, 100*res.top1))
	}
	if *baselines {
		if testDS == nil {
			return fmt.Errorf("--baselines needs a test split: %v", terr)
		}
		pix, err := probeOn(ctx, "pixels", nil, labelled, testDS, len(classes), cfg, progress)
		if err != nil {
			return err
		}
		rnd, what, err := randomEncoder(ctx, enc.Config(), trainDS, df.seed)
		if err != nil {
			return err
		}
		ran, err := probeOn(ctx, "random", rnd, labelled, testDS, len(classes), cfg, progress)
		if err != nil {
			return err
		}
		report["pixels_top1"], report["random_top1"], report["random_encoder"] = pix.top1, ran.top1, what
		report["pixels_weight_decay"], report["random_weight_decay"] = pix.wd, ran.wd
		lines = append(lines, fmt.Sprintf("same probe on raw pixels %.2f%%, on %s %.2f%%", 100*pix.top1, what, 100*ran.top1))
	}
	report["seconds"] = time.Since(start).Seconds()
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(report)
	}
	fmt.Fprintln(stdout, strings.Join(lines, "\n"))
	return nil
}

// probeResult is one trained probe and its test accuracy (-1 when there
// is no test split).
type probeResult struct {
	probe *eval.LinearClassifier
	wd    float64
	top1  float64
	testN int
}

// probeOn trains the probe on the features of labelled (enc's embeddings,
// or raw pixels when enc is nil) and measures it on test when not nil.
func probeOn(ctx context.Context, what string, enc *embed.Encoder, labelled, test data.Dataset, classes int, cfg eval.LinearConfig, progress io.Writer) (*probeResult, error) {
	x, y, err := featuresOf(ctx, enc, labelled, nil)
	if err != nil {
		return nil, err
	}
	probe, fit, err := eval.TrainLinear(x, y, classes, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s probe: %w", what, err)
	}
	res := &probeResult{probe: probe, wd: fit.WeightDecay, top1: -1}
	if test != nil {
		tx, ty, err := featuresOf(ctx, enc, test, progress)
		if err != nil {
			return nil, err
		}
		ev, err := probe.Evaluate(tx, ty)
		if err != nil {
			return nil, fmt.Errorf("%s probe on %s: %w", what, test.Name(), err)
		}
		res.top1, res.testN = ev.Top1, len(ty)
	}
	return res, nil
}

// featuresOf returns the embeddings (or, enc nil, the raw pixels) of every
// image of ds, and the labels.
func featuresOf(ctx context.Context, enc *embed.Encoder, ds data.Dataset, progress io.Writer) (*tensor.Tensor, []int, error) {
	if enc == nil {
		f, err := eval.PixelFeatures(ds)
		if err != nil {
			return nil, nil, err
		}
		return f.X, f.Labels, nil
	}
	x := tensor.New(ds.Len(), enc.Dim())
	y := make([]int, ds.Len())
	var bar *runlog.Progress
	if progress != nil {
		bar = runlog.NewProgress(progress, int64(ds.Len()), "features "+ds.Name(), runlog.WithUnit("img"))
		defer bar.Finish()
	}
	d := enc.Dim()
	err := enc.EmbedDataset(ctx, ds, embed.DatasetConfig{}, func(b embed.Batch) error {
		for k, i := range b.Indices {
			copy(x.Data[i*d:(i+1)*d], b.Vectors.Data[k*d:(k+1)*d])
			y[i] = b.Labels[k]
		}
		if bar != nil {
			bar.Add(int64(len(b.Indices)))
		}
		return nil
	})
	return x, y, err
}

// randomEncoder builds a random-init encoder like cfg with its batch-norm
// statistics recomputed on up to 10000 (unlabelled) training images, the
// baseline eval uses.
func randomEncoder(ctx context.Context, cfg nn.BackboneConfig, trainDS data.Dataset, seed uint64) (*embed.Encoder, string, error) {
	b, err := nn.NewBackbone(cfg, train.InitRand(seed))
	if err != nil {
		return nil, "", err
	}
	var tf = embed.Channels{C: cfg.InChannels}
	ds := trainDS
	if _, h, w := ds.Shape(); h != cfg.ImageSize || w != cfg.ImageSize {
		if ds, err = data.Resized(ds, cfg.ImageSize); err != nil {
			return nil, "", err
		}
	}
	n := min(10000, ds.Len())
	if err := eval.RecalibrateBN(ctx, b, ds, n, tf); err != nil {
		return nil, "", err
	}
	enc, err := embed.New(b, cfg)
	if err != nil {
		return nil, "", err
	}
	return enc, fmt.Sprintf("a random-init %s (batch-norm statistics from %d images)", cfg.Arch, n), nil
}

const classifyUsage = `
Usage: selfsup classify --model DIR2 [--top 3] IMAGE...

Classifies image files with a classifier saved by classify-train: each image
is embedded by the encoder the classifier was trained on (found through the
checkpoint path it records, or --ckpt) and the class probabilities are
printed, most likely first. An encoder whose ID differs from the one the
classifier recorded is refused.

Examples:
  selfsup classify --model runs/mnist-probe digit.png
  selfsup classify --model runs/mnist-probe --top 10 --json a.png b.jpg
`

func runClassify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("classify", classifyUsage, stderr)
	model := fs.String("model", "", "classifier directory from classify-train (required)")
	ckpt := fs.String("ckpt", "", "encoder checkpoint (default: the one the classifier records)")
	top := fs.Int("top", 3, "classes to print per image (0: all)")
	jsonOut := fs.Bool("json", false, "print one JSON object per image")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *model == "" || fs.NArg() == 0 {
		return usageError("classify needs --model DIR2 and at least one image file")
	}
	if *top < 0 {
		return usageError("--top %d must not be negative", *top)
	}
	clf, err := embed.LoadClassifier(*model)
	if err != nil {
		return err
	}
	if *ckpt == "" {
		*ckpt = clf.Info.Checkpoint
	}
	enc, err := embed.Load(*ckpt)
	if err != nil {
		return fmt.Errorf("the classifier's encoder: %w", err)
	}
	if err := clf.CheckEncoder(enc); err != nil {
		return err
	}
	enc64 := json.NewEncoder(stdout)
	for _, path := range fs.Args() {
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		img, err := embed.DecodeImage(raw, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		vec, err := enc.Embed(img)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		preds, err := clf.Predict(tensor.FromData(vec, 1, len(vec)))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		p := preds[0]
		if *top > 0 && *top < len(p) {
			p = p[:*top]
		}
		if *jsonOut {
			if err := enc64.Encode(map[string]any{"image": path, "predictions": p}); err != nil {
				return err
			}
			continue
		}
		parts := make([]string, len(p))
		for i, q := range p {
			parts[i] = fmt.Sprintf("%s %.4f", q.Class, q.Probability)
		}
		fmt.Fprintf(stdout, "%s: %s\n", path, strings.Join(parts, ", "))
	}
	return nil
}
