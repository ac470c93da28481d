package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input to finetune and to the new eval protocols: usage errors exit 2,
// data that cannot satisfy the request exits 1, and every message names
// the problem and the limit.
func TestFinetuneAndEvalErrors(t *testing.T) {
	tmp := t.TempDir()
	mnist := []string{"--data", "mnist", "--subset", "200", "--quiet"}
	with := func(args []string, more ...string) []string { return append(append([]string(nil), args...), more...) }
	out := filepath.Join(tmp, "ft")
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"finetune help", []string{"finetune", "--help"}, 0, []string{"--freeze", "--scratch", "Examples", "-encoder-lr-scale"}},
		{"finetune without encoder", with([]string{"finetune", "--out", out}, mnist...), 2, []string{"--ckpt", "--scratch"}},
		{"finetune with both", with([]string{"finetune", "--out", out, "--scratch", "--ckpt", tmp}, mnist...), 2, []string{"exactly one"}},
		{"finetune without out", with([]string{"finetune", "--scratch"}, mnist...), 2, []string{"--out"}},
		{"freeze past the stages", with([]string{"finetune", "--scratch", "--out", out, "--freeze", "5"}, mnist...), 2,
			[]string{"--freeze 5", "4 stage modules", "0..4"}},
		{"too many per class", with([]string{"finetune", "--scratch", "--out", out, "--per-class", "100"}, mnist...), 1,
			[]string{"100 labels per class", "at most"}},
		{"per-class with a fraction", with([]string{"finetune", "--scratch", "--out", out, "--per-class", "2", "--labels-fraction", "0.5"}, mnist...), 2,
			[]string{"--per-class"}},
		{"bad epochs", with([]string{"finetune", "--scratch", "--out", out, "--epochs", "0"}, mnist...), 2, []string{"--epochs 0"}},
		{"eval help lists the protocols", []string{"eval", "--help"}, 0, []string{"eval stages", "eval labels", "supervised"}},
		{"eval stage past the backbone", with([]string{"eval", "knn", "--baseline", "random", "--stage", "9"}, mnist...), 2,
			[]string{"stage 9", "3 stages", "1..3"}},
		{"eval stage below the stem", with([]string{"eval", "linear", "--baseline", "random", "--stage", "-2"}, mnist...), 2,
			[]string{"stage -2", "-1 for the stem"}},
		{"eval stage of pixels", with([]string{"eval", "knn", "--baseline", "pixels", "--stage", "1"}, mnist...), 2, []string{"no stages"}},
		{"eval stages of pixels", with([]string{"eval", "stages", "--baseline", "pixels"}, mnist...), 2, []string{"no stages"}},
		{"eval labels bad fraction", with([]string{"eval", "labels", "--baseline", "pixels", "--fractions", "0.1,2"}, mnist...), 2,
			[]string{`"2"`, "(0, 1]"}},
		{"eval labels too many per class", with([]string{"eval", "labels", "--baseline", "pixels", "--per-class", "1,500"}, mnist...), 1,
			[]string{"500 labels per class", "at most"}},
		{"eval labels both budgets", with([]string{"eval", "labels", "--baseline", "pixels", "--per-class", "1", "--fractions", "0.5"}, mnist...), 2,
			[]string{"not both"}},
		{"eval labels finetune pixels", with([]string{"eval", "labels", "--baseline", "pixels", "--finetune"}, mnist...), 2,
			[]string{"needs an encoder"}},
		{"eval unknown baseline", with([]string{"eval", "knn", "--baseline", "noise"}, mnist...), 2, []string{"pixels, random or supervised"}},
		{"eval method of pixels", with([]string{"eval", "knn", "--baseline", "pixels", "--method", "cpc"}, mnist...), 2,
			[]string{"--method", "--baseline random only"}},
		{"eval unknown method", with([]string{"eval", "knn", "--baseline", "random", "--method", "nope"}, mnist...), 2,
			[]string{`"nope"`, "known:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if strings.Contains(stderr, "panic") {
				t.Errorf("stderr mentions a panic:\n%s", stderr)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused run created %s", out)
	}
}

// The supervised baseline trained by finetune --scratch is a checkpoint the
// eval protocols read: its own test accuracy comes along, stages gives one
// row per stage and labels one point per share, with the curve drawn.
func TestFinetuneThenEval(t *testing.T) {
	tmp := t.TempDir()
	run := filepath.Join(tmp, "sup")
	small := []string{"--data", "mnist", "--subset", "256", "--quiet"}
	stdout, _ := mustCLI(t, append([]string{"finetune", "--scratch", "--arch", "resnet-small", "--steps", "4", "--batch", "64",
		"--out", run, "--json"}, small...)...)
	v := decodeJSON(t, stdout)
	top1, _ := v["top1"].(float64)
	if v["steps"] != 4.0 || v["frozen_params"] != 0.0 || !(top1 >= 0 && top1 <= 1) || v["test_images"] != 256.0 {
		t.Fatalf("finetune output %v: want 4 steps, nothing frozen, a test top-1 on 256 images", v)
	}

	stdout, _ = mustCLI(t, append([]string{"eval", "stages", "--ckpt", run, "--json"}, small...)...)
	v = decodeJSON(t, stdout)
	stages, _ := v["stages"].([]any)
	if len(stages) != 4 || v["supervised_test_top1"] != top1 {
		t.Fatalf("eval stages output %v: want 4 stages and the model's own top-1 %v", v, top1)
	}
	for k, s := range stages {
		row := s.(map[string]any)
		if row["stage"] != float64(k) || !(row["top1"].(float64) > 0) {
			t.Errorf("stage row %d: %v", k, row)
		}
	}
	stdout, _ = mustCLI(t, append([]string{"eval", "stages", "--ckpt", run}, small...)...)
	for _, w := range []string{"stem", "stage 3", "top-1", "the supervised model itself"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("eval stages table lacks %q:\n%s", w, stdout)
		}
	}

	plot := filepath.Join(tmp, "labels.png")
	stdout, _ = mustCLI(t, append([]string{"eval", "labels", "--ckpt", run, "--fractions", "0.1,1", "--plot", plot, "--json"}, small...)...)
	v = decodeJSON(t, stdout)
	points, _ := v["points"].([]any)
	if len(points) != 2 || points[1].(map[string]any)["images"] != 256.0 {
		t.Fatalf("eval labels output %v: want 2 points, the second on all 256 images", v)
	}
	if st, err := os.Stat(plot); err != nil || st.Size() == 0 {
		t.Fatalf("no label-efficiency plot: %v", err)
	}
}
