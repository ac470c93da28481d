package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/finetune"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/plot"
	"selfsup/report"
	"selfsup/tsne"
)

// suiteConfig sets up the evaluation suite compare runs on every encoder.
type suiteConfig struct {
	// budgets are the label-efficiency shares.
	budgets []eval.LabelBudget
	// tsneN is the number of test images in the t-SNE map (0: none).
	tsneN int
	// finetune also fine-tunes on every share, for ftEpochs with the first
	// freeze stage modules frozen.
	finetune         bool
	ftEpochs, freeze int
	seed             uint64
	// spec is the data spec (for the record); bc the backbone.
	spec string
	bc   nn.BackboneConfig
	// progress receives progress bars (nil: none); log the progress lines.
	progress, log io.Writer
}

// Names of the t-SNE files in a run directory.
const (
	tsnePNG = "tsne.png"
	tsneSVG = "tsne.svg"
)

// evaluateSuite measures the frozen encoder enc (nil: raw pixels) on d and
// fills rec: kNN, linear probe, a probe per stage, label efficiency (and
// fine-tuning with cfg.finetune), k-means on the test features, and a
// t-SNE map drawn into dir.
func evaluateSuite(ctx context.Context, enc nn.Backbone, d evalData, dir string, cfg suiteConfig, tag string, rec *report.Record) error {
	start := time.Now()
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.log, tag+": "+format+"\n", args...) }
	setup := evalSetup{quiet: cfg.progress == nil}
	train, test, err := setup.features(ctx, enc, d, cfg.progress)
	if err != nil {
		return err
	}
	rec.TrainImages, rec.TestImages = train.X.Dim(0), test.X.Dim(0)

	knnCfg := eval.DefaultKNNConfig()
	knn, err := eval.KNN(train.X, train.Labels, test.X, test.Labels, d.classes, knnCfg)
	if err != nil {
		return fmt.Errorf("kNN: %w", err)
	}
	rec.KNN = &report.Accuracy{Top1: knn.Top1, Top5: knn.Top5, Protocol: fmt.Sprintf("cosine, k=%d, t=%g", knnCfg.K, knnCfg.Temperature)}
	logf("kNN top-1 %.2f%%", 100*knn.Top1)

	lcfg, _ := linearConfig("lbfgs", -1)
	lin, err := eval.LinearProbe(train.X, train.Labels, test.X, test.Labels, d.classes, lcfg)
	if err != nil {
		return fmt.Errorf("linear probe: %w", err)
	}
	rec.Linear = &report.Accuracy{Top1: lin.Test.Top1, Top5: lin.Test.Top5, Protocol: fmt.Sprintf("L-BFGS, weight decay %g (selected)", lin.Fit.WeightDecay)}
	logf("linear top-1 %.2f%%", 100*lin.Test.Top1)

	if enc != nil {
		stages, err := eval.StageProbes(ctx, enc, d.train, d.test, d.classes, eval.StageProbeConfig{
			Extract: eval.ExtractConfig{Progress: cfg.progress}, Linear: lcfg,
		})
		if err != nil {
			return fmt.Errorf("probes per stage: %w", err)
		}
		rec.Stages = stages
		logf("linear probe per stage: %s", stageLine(stages))
	}

	points, err := eval.LabelEfficiency(d.train, train, test, d.classes, cfg.budgets, eval.LabelProbeConfig{Linear: lcfg, Seed: cfg.seed})
	if err != nil {
		return fmt.Errorf("label efficiency: %w", err)
	}
	rec.Labels = points
	logf("label efficiency (linear): %s", labelLine(points))

	if err := clusterTest(test, d.classes, cfg.seed, rec); err != nil {
		return err
	}
	logf("k-means NMI %.3f, ARI %.3f", rec.Cluster.NMI, rec.Cluster.ARI)

	if cfg.tsneN > 0 {
		if err := drawTSNE(ctx, test, d, dir, cfg, rec); err != nil {
			return fmt.Errorf("t-SNE: %w", err)
		}
		if rec.TSNE != nil {
			logf("t-SNE of %d test images: 5-NN accuracy in the map %.2f%%", rec.TSNE.Images, 100*rec.TSNE.KNN5)
		}
	}

	if cfg.finetune && enc != nil && rec.Method != "supervised" {
		if err := finetuneShares(ctx, enc, d, cfg, rec, logf); err != nil {
			return err
		}
	}
	rec.EvalSeconds = time.Since(start).Seconds()
	return nil
}

// clusterTest runs k-means with k the number of classes on the
// L2-normalised features of the labelled test images and scores it.
func clusterTest(test *eval.Features, classes int, seed uint64, rec *report.Record) error {
	rows, _ := labeledRows(test.Labels)
	x, labels := eval.GatherRows(test, rows)
	if len(rows) < classes {
		return fmt.Errorf("clustering: %d labelled test images for %d classes", len(rows), classes)
	}
	km, err := eval.KMeans(l2Rows(x), eval.KMeansConfig{K: classes, Seed: seed})
	if err != nil {
		return fmt.Errorf("clustering: %w", err)
	}
	s, err := eval.ScoreClusters(labels, km.Assign)
	if err != nil {
		return fmt.Errorf("clustering: %w", err)
	}
	rec.Cluster = &report.Cluster{NMI: s.NMI, ARI: s.ARI, Accuracy: s.Accuracy, K: classes}
	return nil
}

// drawTSNE embeds a seeded subset of the test features with t-SNE, draws
// the map to dir/tsne.png and .svg, and records its 5-NN accuracy. A test
// set too small for the perplexity gets a lower one; fewer than 20 images
// get no map.
func drawTSNE(ctx context.Context, test *eval.Features, d evalData, dir string, cfg suiteConfig, rec *report.Record) error {
	n := min(cfg.tsneN, test.X.Dim(0))
	if n < 20 {
		fmt.Fprintf(cfg.log, "note: no t-SNE map: %d test images are too few\n", n)
		return nil
	}
	idx, err := data.RandomIndices(test.X.Dim(0), n, cfg.seed)
	if err != nil {
		return err
	}
	x, labels := eval.GatherRows(test, idx)
	tc := tsne.Config{Seed: cfg.seed}
	if limit := float64(n-1)/3 - 1; limit < tsne.DefaultPerplexity {
		tc.Perplexity = limit
	}
	res, err := tsne.Embed(ctx, x, tc)
	if err != nil {
		return err
	}
	px, py := res.Coords()
	sp := &plot.ScatterPlot{Title: fmt.Sprintf("t-SNE of %s: %d test images of %s", rec.Name, n, cfg.spec), X: px, Y: py, HideAxes: true}
	rows, classes := labeledRows(labels)
	if classes > 0 {
		sp.Class, sp.ClassNames = plotClasses(labels, d.test.Classes(), d.classes)
	}
	if err := sp.SavePNG(filepath.Join(dir, tsnePNG), tsneWidth, tsneHeight); err != nil {
		return err
	}
	if err := sp.SaveSVG(filepath.Join(dir, tsneSVG), tsneWidth, tsneHeight); err != nil {
		return err
	}
	rec.TSNE = &report.TSNE{PNG: tsnePNG, SVG: tsneSVG, Images: n}
	if len(rows) > 5 {
		acc, err := leaveOneOutKNN(res.Y, labels, rows, classes)
		if err != nil {
			return err
		}
		rec.TSNE.KNN5 = acc
	}
	return nil
}

// finetuneShares fine-tunes enc on every share of the labels (the
// label-efficiency curve's fine-tuning points); the full share, fine-tuned
// on its own when no budget is 100%, fills the fine-tune column.
func finetuneShares(ctx context.Context, enc nn.Backbone, d evalData, cfg suiteConfig, rec *report.Record, logf func(string, ...any)) error {
	ft := finetune.Config{Epochs: cfg.ftEpochs, Backbone: cfg.bc, Pretrained: enc, Freeze: cfg.freeze, MinSteps: 200,
		Seed: cfg.seed, Data: cfg.spec, From: rec.Name}
	budgets := cfg.budgets
	full := eval.LabelBudget{Fraction: 1}
	hasFull := false
	for _, b := range budgets {
		hasFull = hasFull || b == full
	}
	if !hasFull {
		budgets = append(append([]eval.LabelBudget{}, budgets...), full)
	}
	for _, b := range budgets {
		logf("fine-tuning with %s of the labels (%d epochs, freeze %d)", b, cfg.ftEpochs, cfg.freeze)
		p, err := finetunePoint(ctx, d, b, cfg.seed, ft, cfg.progress)
		if err != nil {
			return fmt.Errorf("fine-tune with %s of the labels: %w", b, err)
		}
		if b == full {
			rec.Finetune = &report.Accuracy{Top1: p.Top1, Top5: p.Top5,
				Protocol: fmt.Sprintf("fine-tuned end to end, %d epochs, first %d stage modules frozen", cfg.ftEpochs, cfg.freeze)}
			logf("fine-tune top-1 %.2f%%", 100*p.Top1)
		}
		if hasFull || b != full {
			rec.Labels = append(rec.Labels, p)
		}
	}
	return nil
}

// supervisedAccuracy is the supervised model's own test accuracy.
func supervisedAccuracy(ctx context.Context, m *methods.Supervised, test data.Dataset) (*eval.Evaluation, error) {
	labelled, err := data.Labeled(test)
	if err != nil {
		return nil, err
	}
	return finetune.Evaluate(ctx, m, labelled, 0)
}

func stageLine(stages []eval.StageResult) string {
	s := ""
	for i, r := range stages {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %.2f%%", r.Name, 100*r.Top1)
	}
	return s
}

func labelLine(points []eval.LabelPoint) string {
	s := ""
	for i, p := range points {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %.2f%%", p.Budget, 100*p.Top1)
	}
	return s
}
