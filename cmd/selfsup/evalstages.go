package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/finetune"
)

// runEvalStages is `selfsup eval stages`: one linear probe per stage.
func runEvalStages(ctx context.Context, e *evalSetup, f evalFlags, stdout, stderr io.Writer) error {
	start := time.Now()
	cfg, err := linearConfig(*f.opt, *f.wd)
	if err != nil {
		return err
	}
	switch {
	case e.stage != 0:
		return usageError("--stage %d: eval stages probes every stage", e.stage)
	case e.baseline == "pixels":
		return usageError("raw pixels have no stages to probe (use eval linear --baseline pixels)")
	}
	d, err := e.open(stderr)
	if err != nil {
		return err
	}
	enc, what, info, err := e.encoder(ctx, d, stderr)
	if err != nil {
		return err
	}
	if !e.jsonOut {
		fmt.Fprintf(stdout, "linear probe per stage on %s (%d train / %d test images), %s:\n", e.df.spec, d.train.Len(), d.test.Len(), what)
		fmt.Fprintf(stdout, "  %-8s %6s %8s %8s\n", "stage", "dim", "top-1", "top-5")
	}
	res, err := eval.StageProbes(ctx, enc, d.train, d.test, d.classes, eval.StageProbeConfig{
		Extract: eval.ExtractConfig{Progress: e.progress(stderr)},
		Linear:  cfg,
		OnStage: func(r eval.StageResult) {
			if !e.jsonOut {
				fmt.Fprintf(stdout, "  %-8s %6d %7.2f%% %7.2f%%\n", r.Name, r.Dim, 100*r.Top1, 100*r.Top5)
			}
		},
	})
	if err != nil {
		return err
	}
	if e.jsonOut {
		out := map[string]any{"protocol": "stages", "encoder": what, "data": e.df.spec, "stages": res,
			"train_images": d.train.Len(), "test_images": d.test.Len(), "optimizer": *f.opt, "seconds": time.Since(start).Seconds()}
		for k, v := range info {
			out[k] = v
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	printSupervisedInfo(stdout, info)
	fmt.Fprintf(stdout, "(%s)\n", time.Since(start).Round(time.Second))
	return nil
}

// runEvalLabels is `selfsup eval labels`: probes (and fine-tunes) with
// class-balanced shares of the training labels.
func runEvalLabels(ctx context.Context, e *evalSetup, f evalFlags, stdout, stderr io.Writer) error {
	start := time.Now()
	lcfg, err := linearConfig(*f.opt, *f.wd)
	if err != nil {
		return err
	}
	var budgets []eval.LabelBudget
	switch {
	case *f.perClass != "" && f.set["fractions"]:
		return usageError("give --fractions or --per-class, not both")
	case *f.perClass != "":
		budgets, err = eval.ParsePerClass(*f.perClass)
	default:
		budgets, err = eval.ParseFractions(*f.fractions)
	}
	if err != nil {
		return usageError("%v", err)
	}
	switch {
	case e.df.labelsFrac != 0:
		return usageError("--labels-fraction: eval labels picks its own shares of the labels (--fractions, --per-class)")
	case *f.finetune && e.baseline == "pixels":
		return usageError("--finetune needs an encoder; raw pixels have none")
	case *f.minSteps < 0:
		return usageError("--min-steps %d must not be negative", *f.minSteps)
	}
	var ftCfg finetune.Config
	if *f.finetune {
		if ftCfg, err = e.tf.config(); err != nil {
			return err
		}
	}
	d, err := e.open(stderr)
	if err != nil {
		return err
	}
	// every share must exist before any work (a class may be too small)
	for _, b := range budgets {
		if _, err := eval.LabelSubset(d.train, b, e.seed); err != nil {
			return err
		}
	}
	enc, what, info, err := e.encoder(ctx, d, stderr)
	if err != nil {
		return err
	}
	if *f.finetune {
		if err := checkFreeze(e.bc, *f.freeze); err != nil {
			return err
		}
	}
	train, test, err := e.features(ctx, enc, d, stderr)
	if err != nil {
		return err
	}
	if !e.jsonOut {
		fmt.Fprintf(stdout, "label efficiency on %s (%d labelled train / %d test images, subsets from seed %d), %s:\n",
			e.df.spec, d.train.Len(), d.test.Len(), e.seed, what)
		fmt.Fprintf(stdout, "  %-9s %-9s %8s %8s %8s\n", "protocol", "labels", "images", "top-1", "top-5")
	}
	row := func(p eval.LabelPoint) {
		if !e.jsonOut {
			fmt.Fprintf(stdout, "  %-9s %-9s %8d %7.2f%% %7.2f%%\n", p.Protocol, p.Budget, p.Images, 100*p.Top1, 100*p.Top5)
		}
	}
	points, err := eval.LabelEfficiency(d.train, train, test, d.classes, budgets, eval.LabelProbeConfig{Linear: lcfg, Seed: e.seed, OnPoint: row})
	if err != nil {
		return err
	}
	if *f.finetune {
		ftCfg.Backbone, ftCfg.Pretrained, ftCfg.Freeze, ftCfg.MinSteps = e.bc, enc, *f.freeze, *f.minSteps
		ftCfg.Seed, ftCfg.Data, ftCfg.From = e.seed, e.df.spec, e.ckpt
		if e.ckpt == "" {
			ftCfg.From = e.baseline + " baseline"
		}
		for _, b := range budgets {
			p, err := finetunePoint(ctx, d, b, e.seed, ftCfg, e.progress(stderr))
			if err != nil {
				return fmt.Errorf("fine-tune with %s of the labels: %w", b, err)
			}
			row(p)
			points = append(points, p)
		}
	}
	if *f.plot != "" {
		lp := eval.LabelCurvePlot(fmt.Sprintf("label efficiency on %s", e.df.spec), points)
		if strings.EqualFold(filepath.Ext(*f.plot), ".svg") {
			err = lp.SaveSVG(*f.plot, 800, 500)
		} else {
			err = lp.SavePNG(*f.plot, 800, 500)
		}
		if err != nil {
			return fmt.Errorf("label-efficiency plot: %w", err)
		}
	}
	if e.jsonOut {
		out := map[string]any{"protocol": "labels", "encoder": what, "data": e.df.spec, "points": points, "seed": e.seed,
			"train_images": d.train.Len(), "test_images": d.test.Len(), "seconds": time.Since(start).Seconds()}
		if *f.plot != "" {
			out["plot"] = *f.plot
		}
		for k, v := range info {
			out[k] = v
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	printSupervisedInfo(stdout, info)
	if *f.plot != "" {
		fmt.Fprintf(stdout, "curve: %s\n", *f.plot)
	}
	fmt.Fprintf(stdout, "(%s)\n", time.Since(start).Round(time.Second))
	return nil
}

// finetunePoint fine-tunes cfg.Pretrained on the share b of the labelled
// training images (in a temporary run directory) and returns its test
// accuracy as a label-efficiency point.
func finetunePoint(ctx context.Context, d evalData, b eval.LabelBudget, seed uint64, cfg finetune.Config, progress io.Writer) (eval.LabelPoint, error) {
	idx, err := eval.LabelSubset(d.train, b, seed)
	if err != nil {
		return eval.LabelPoint{}, err
	}
	sub, err := data.Subset(d.train, idx)
	if err != nil {
		return eval.LabelPoint{}, err
	}
	dir, err := os.MkdirTemp("", "selfsup-labels-finetune-")
	if err != nil {
		return eval.LabelPoint{}, err
	}
	defer os.RemoveAll(dir)
	cfg.RunDir, cfg.Progress, cfg.EvalEvery = dir, progress, -1
	res, err := finetune.Run(ctx, sub, d.test, cfg)
	if err != nil {
		return eval.LabelPoint{}, err
	}
	if res.Interrupted {
		return eval.LabelPoint{}, fmt.Errorf("interrupted at step %d", res.Steps)
	}
	return eval.LabelPoint{Protocol: "finetune", Budget: b, Images: len(idx), Top1: res.Test.Top1, Top5: res.Test.Top5}, nil
}
