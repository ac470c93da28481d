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
	"time"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/plot"
	"selfsup/tensor"
	"selfsup/tsne"
)

func init() {
	register("tsne", "draw a t-SNE map of an encoder's features, coloured by class", runTSNE)
}

const tsneUsage = `
Usage:
  selfsup tsne (--ckpt DIR | --baseline pixels|random) --data SPEC --out FILE.png
               [--split test] [--n 2000] [--perplexity 30] [--iterations 1000]
               [--method auto|exact|barnes-hut] [--init random|pca] [--seed S]

Extracts the features of --n images of a split (a seeded random subset; 0:
all) with the frozen encoder of a checkpoint, or takes a baseline's (raw
pixels, or a random-init encoder of --arch with batch-norm statistics
recomputed on the training images), embeds them in the plane with t-SNE and
draws the map, one colour per class with a legend of the class names, to
FILE.png and FILE.svg.

t-SNE reduces the features to 50 principal components, calibrates each
point's Gaussian to the perplexity, and runs 1000 iterations of gradient
descent with early exaggeration; up to 5000 points the gradient is exact,
above it Barnes-Hut (theta 0.5) on the 3*perplexity nearest neighbours. The
perplexity must be below (N-1)/3.

It prints the leave-one-out 5-NN accuracy in the embedding (and in the
feature space, for comparison): how well the map keeps the classes apart.

Examples:
  selfsup tsne --ckpt runs/simclr-mnist --data mnist --out tsne.png
  selfsup tsne --baseline pixels --data mnist --n 2000 --out pixels.png
  selfsup tsne --ckpt runs/simclr-c10 --data cifar10:~/datasets/cifar-10-batches-bin --n 10000 --out c10.png
`

// Size of the map in pixels (the SVG has the same proportions).
const tsneWidth, tsneHeight = 1000, 800

func runTSNE(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tsne", tsneUsage, stderr)
	var e evalSetup
	e.df.register(fs, "", "test")
	fs.StringVar(&e.ckpt, "ckpt", "", "checkpoint (a run directory or one of its step directories)")
	fs.StringVar(&e.baseline, "baseline", "", "embed a baseline instead: pixels or random")
	fs.StringVar(&e.arch, "arch", "resnet-small", "backbone of the random baseline")
	fs.IntVar(&e.stage, "stage", 0, "features of stage k (1..) instead of the final pooled output (-1: the stem)")
	fs.BoolVar(&e.jsonOut, "json", false, "print one JSON object with the results")
	fs.BoolVar(&e.quiet, "quiet", false, "no progress output")
	fs.Uint64Var(&e.seed, "seed", 0, "random seed (the subset of images, t-SNE's initial layout, the random baseline)")
	n := fs.Int("n", 2000, "embed a seeded random subset of this many images of the split (0: all)")
	out := fs.String("out", "", "PNG file to draw the map to; the SVG goes next to it (required)")
	title := fs.String("title", "", "title of the map (default: what was embedded)")
	var cfg tsne.Config
	fs.Float64Var(&cfg.Perplexity, "perplexity", tsne.DefaultPerplexity, "t-SNE perplexity (below (N-1)/3)")
	fs.IntVar(&cfg.Iterations, "iterations", tsne.DefaultIterations, "t-SNE iterations")
	fs.Float64Var(&cfg.LearningRate, "lr", 0, "t-SNE learning rate (0: max(N/48, 50))")
	method := fs.String("method", "auto", "t-SNE gradient: auto (exact up to 5000 points), exact or barnes-hut")
	initName := fs.String("init", "random", "initial layout: random or pca")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	if *out == "" {
		return usageError("--out FILE.png is required")
	}
	if !strings.EqualFold(filepath.Ext(*out), ".png") {
		return usageError("--out %s: want a .png file (the .svg is written next to it)", *out)
	}
	svgPath := strings.TrimSuffix(*out, filepath.Ext(*out)) + ".svg"
	switch *method {
	case "auto":
		cfg.Method = tsne.Auto
	case "exact":
		cfg.Method = tsne.Exact
	case "barnes-hut":
		cfg.Method = tsne.BarnesHut
	default:
		return usageError("unknown --method %q (auto, exact or barnes-hut)", *method)
	}
	switch *initName {
	case "random":
		cfg.Init = tsne.InitRandom
	case "pca":
		cfg.Init = tsne.InitPCA
	default:
		return usageError("unknown --init %q (random or pca)", *initName)
	}
	if *n < 0 {
		return usageError("--n %d: want a number of images (0: all)", *n)
	}
	if (e.ckpt == "") == (e.baseline == "") {
		return usageError("give exactly one of --ckpt and --baseline")
	}
	if e.baseline != "" && e.baseline != "pixels" && e.baseline != "random" {
		return usageError("unknown baseline %q (pixels or random; for a supervised encoder, train one with `selfsup eval linear --baseline supervised --out DIR` and pass --ckpt DIR)", e.baseline)
	}
	cfg.Seed = e.seed
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()

	e.df.seed = e.seed
	ds, err := e.df.open(stderr, "")
	if err != nil {
		return err
	}
	total := ds.Len()
	if *n > 0 && *n < ds.Len() {
		idx, err := data.RandomIndices(ds.Len(), *n, e.seed)
		if err != nil {
			return err
		}
		if ds, err = data.Subset(ds, idx); err != nil {
			return err
		}
	}
	if err := cfg.Validate(ds.Len()); err != nil {
		return usageError("%v", err)
	}
	d := evalData{train: ds, test: ds, classes: len(ds.Classes())}
	if e.baseline == "random" {
		// The random encoder's batch norm is calibrated on training images.
		if d.train, err = e.df.open(stderr, "train"); err != nil {
			return err
		}
	}
	enc, what, _, err := e.encoder(ctx, d, stderr)
	if err != nil {
		return err
	}
	feats, err := splitFeatures(ctx, enc, ds, e.stage, e.progress(stderr), "features "+e.df.split)
	if err != nil {
		return err
	}
	if !e.quiet {
		cfg.ProgressEvery = 250
		cfg.Progress = func(p tsne.Progress) {
			phase := ""
			if p.Exaggerated {
				phase = " (early exaggeration)"
			}
			fmt.Fprintf(stderr, "t-SNE iteration %d/%d: KL %.4f%s\n", p.Iteration, p.Iterations, p.KL, phase)
		}
	}
	tsneStart := time.Now()
	res, err := tsne.Embed(ctx, feats.X, cfg)
	if err != nil {
		return err
	}
	tsneTime := time.Since(tsneStart)

	// Score the map where the images have labels.
	labeled, classes := labeledRows(feats.Labels)
	acc2D, accFeat := -1.0, -1.0
	if len(labeled) > 5 && classes > 0 {
		if acc2D, err = leaveOneOutKNN(res.Y, feats.Labels, labeled, classes); err != nil {
			return err
		}
		if accFeat, err = leaveOneOutKNN(feats.X, feats.Labels, labeled, classes); err != nil {
			return err
		}
	}

	x, y := res.Coords()
	names := ds.Classes()
	if *title == "" {
		*title = fmt.Sprintf("t-SNE of %s: %d %s images of %s", shortWhat(what), ds.Len(), e.df.split, e.df.spec)
	}
	sp := &plot.ScatterPlot{Title: *title, X: x, Y: y, HideAxes: true}
	if classes > 0 {
		sp.Class, sp.ClassNames = plotClasses(feats.Labels, names, classes)
	}
	if err := sp.SavePNG(*out, tsneWidth, tsneHeight); err != nil {
		return err
	}
	if err := sp.SaveSVG(svgPath, tsneWidth, tsneHeight); err != nil {
		return err
	}

	if e.jsonOut {
		o := map[string]any{"encoder": what, "data": e.df.spec, "split": e.df.split, "images": ds.Len(), "split_images": total,
			"feature_dim": feats.X.Dim(1), "input_dim": res.InputDims, "method": res.Method.String(), "perplexity": res.Perplexity,
			"iterations": res.Iterations, "learning_rate": res.LearningRate, "kl": res.KL, "seed": e.seed,
			"tsne_seconds": tsneTime.Seconds(), "seconds": time.Since(start).Seconds(), "png": *out, "svg": svgPath}
		if acc2D >= 0 {
			o["knn5_embedding"], o["knn5_features"] = acc2D, accFeat
		}
		return json.NewEncoder(stdout).Encode(o)
	}
	fmt.Fprintf(stdout, "t-SNE of %d of %d %s images of %s, %s (%d-d features", ds.Len(), total, e.df.split, e.df.spec, what, feats.X.Dim(1))
	if res.InputDims != feats.X.Dim(1) {
		fmt.Fprintf(stdout, ", PCA to %d", res.InputDims)
	}
	fmt.Fprintf(stdout, "; %s, perplexity %g, %d iterations, KL %.4f)\n", res.Method, res.Perplexity, res.Iterations, res.KL)
	if acc2D >= 0 {
		fmt.Fprintf(stdout, "5-NN accuracy: %.2f%% in the embedding, %.2f%% in the feature space (leave-one-out, %d labelled images)\n",
			100*acc2D, 100*accFeat, len(labeled))
	}
	fmt.Fprintf(stdout, "t-SNE took %s (total %s); wrote %s and %s\n", tsneTime.Round(10*time.Millisecond),
		time.Since(start).Round(10*time.Millisecond), *out, svgPath)
	return nil
}

// labeledRows returns the indices of the rows with a label and the number
// of classes the labels span.
func labeledRows(labels []int) (rows []int, classes int) {
	for i, l := range labels {
		if l >= 0 {
			rows = append(rows, i)
			classes = max(classes, l+1)
		}
	}
	return rows, classes
}

// leaveOneOutKNN is the leave-one-out 5-NN accuracy (Euclidean, majority
// vote) of the labelled rows of x among themselves.
func leaveOneOutKNN(x *tensor.Tensor, labels []int, rows []int, classes int) (float64, error) {
	sub, lab := x, labels
	if len(rows) < x.Dim(0) {
		d := x.Dim(1)
		sub, lab = tensor.New(len(rows), d), make([]int, len(rows))
		for k, i := range rows {
			copy(sub.Data[k*d:(k+1)*d], x.Data[i*d:(i+1)*d])
			lab[k] = labels[i]
		}
	}
	cfg := eval.MajorityKNNConfig(5)
	cfg.ExcludeSelf = true
	ev, err := eval.KNN(sub, lab, sub, lab, classes, cfg)
	if err != nil {
		return 0, err
	}
	return ev.Top1, nil
}

// plotClasses maps labels to plot classes with their names: unlabelled
// images (-1) get a class of their own, "unlabeled", after the others.
func plotClasses(labels []int, names []string, classes int) ([]int, []string) {
	class := make([]int, len(labels))
	unlabeled := false
	for i, l := range labels {
		class[i] = l
		if l < 0 {
			class[i], unlabeled = classes, true
		}
	}
	out := make([]string, classes) // missing names are drawn as numbers
	copy(out, names)
	if unlabeled {
		out = append(out, "unlabeled")
	}
	return class, out
}

// shortWhat names the encoder in a few words for the map's title: the
// description up to its parenthesised details.
func shortWhat(what string) string {
	short, _, _ := strings.Cut(what, " (")
	return short
}
