package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"selfsup/checkpoint"
	"selfsup/data"
	"selfsup/runlog"
	"selfsup/train"
)

// childEnv, when set, makes the test binary act as the selfsup command (see
// TestMain), so that tests can run the real CLI in a subprocess without a
// separate go build.
const childEnv = "SELFSUP_TEST_RUN_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// cli runs the command line in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// mustCLI runs the command line and fails t unless it exits 0.
func mustCLI(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := cli(t, args...)
	if code != 0 {
		t.Fatalf("selfsup %s: exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout, stderr
}

// decodeJSON parses one JSON object printed by a --json command.
func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, s)
	}
	return v
}

// lossSteps returns the steps of a run's per-step metrics records.
func lossSteps(t *testing.T, runDir string) []int64 {
	t.Helper()
	recs, err := runlog.ReadMetrics(filepath.Join(runDir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var steps []int64
	for _, r := range recs {
		if _, ok := r.Value("loss"); ok {
			steps = append(steps, r.Step)
		}
	}
	return steps
}

// wantSteps fails t unless steps is 1..n in order.
func wantSteps(t *testing.T, steps []int64, n int64) {
	t.Helper()
	ok := int64(len(steps)) == n
	for i := 0; ok && i < len(steps); i++ {
		ok = steps[i] == int64(i+1)
	}
	if !ok {
		t.Fatalf("metrics hold loss records for steps %v, want 1..%d", steps, n)
	}
}

// latestStep reads a run directory's latest pointer and the step of the
// checkpoint it names.
func latestStep(t *testing.T, runDir string) (name string, step int64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, checkpoint.LatestFile))
	if err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.LoadWeights(filepath.Join(runDir, strings.TrimSpace(string(b))))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b)), ck.Step
}

// failed stands for any non-zero exit code in TestUsageAndErrors (errors
// that are arguably usage errors but currently exit 1).
const failed = -1

func TestUsageAndErrors(t *testing.T) {
	tmp := t.TempDir()
	taken := filepath.Join(tmp, "taken")
	if err := os.MkdirAll(taken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(taken, "notes.txt"), []byte("earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notCkpt := filepath.Join(tmp, "not-a-checkpoint")
	if err := os.MkdirAll(notCkpt, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	mnist := []string{"--data", "mnist", "--subset", "64"}
	with := func(base []string, more ...string) []string { return append(append([]string(nil), base...), more...) }

	cases := []struct {
		name    string
		args    []string
		code    int      // the exit code, or failed for any non-zero one
		stdout  []string // substrings of stdout
		stderr  []string // substrings of stderr
		noDirAt string   // a path that must not exist afterwards
	}{
		{name: "no args", args: nil, code: 0, stdout: []string{"Usage: selfsup COMMAND", "pretrain", "eval", "data"}},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"Commands:", "pretrain", "eval"}},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: []string{"Commands:"}},
		{name: "help pretrain", args: []string{"help", "pretrain"}, code: 0, stderr: []string{"Usage: selfsup pretrain", "Examples"}},
		{name: "pretrain --help", args: []string{"pretrain", "--help"}, code: 0, stderr: []string{"Usage: selfsup pretrain", "Examples", "-checkpoint-every"}},
		{name: "eval --help", args: []string{"eval", "--help"}, code: 0, stderr: []string{"selfsup eval knn", "Examples"}},
		{name: "eval knn --help", args: []string{"eval", "knn", "--help"}, code: 0, stderr: []string{"Examples", "-baseline"}},
		{name: "data --help", args: []string{"data", "--help"}, code: 0, stderr: []string{"selfsup data info", "Examples"}},
		{name: "bench --help", args: []string{"bench", "--help"}, code: 0, stderr: []string{"Examples"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate"`, "selfsup help"}},
		{name: "bad flag", args: []string{"pretrain", "--bogus"}, code: 2, stderr: []string{"-bogus"}},
		{name: "bad flag value", args: []string{"pretrain", "--steps", "many", "--out", out}, code: 2, stderr: []string{"many"}},
		{name: "stray argument", args: with([]string{"pretrain", "--out", out, "extra"}, mnist...), code: 2, stderr: []string{"extra"}},
		{name: "missing --out", args: with([]string{"pretrain"}, mnist...), code: 2, stderr: []string{"--out"}},
		{name: "missing --data", args: []string{"pretrain", "--out", out}, code: 2, stderr: []string{"--data is required", "cifar10:DIR"}},
		{name: "bad data spec", args: []string{"pretrain", "--data", "cifar10", "--out", out}, code: failed,
			stderr: []string{`"cifar10"`, "cifar10:DIR", "folder:DIR", "mnist"}},
		{name: "unknown dataset", args: []string{"pretrain", "--data", "imagenet:/x", "--out", out}, code: failed,
			stderr: []string{`"imagenet:/x"`, "valid:"}},
		{name: "--resume and --force", args: with([]string{"pretrain", "--out", out, "--resume", "--force"}, mnist...), code: 2,
			stderr: []string{"--resume", "--force"}},
		{name: "existing --out", args: with([]string{"pretrain", "--out", taken}, mnist...), code: 1,
			stderr: []string{taken, "--resume", "--force"}},
		{name: "unknown method", args: with([]string{"pretrain", "--out", out, "--method", "nope"}, mnist...), code: 2,
			stderr: []string{`unknown method "nope"`, "simclr"}},
		{name: "unknown arch", args: with([]string{"pretrain", "--out", out, "--arch", "nope", "--batch", "32"}, mnist...), code: failed,
			stderr: []string{`"nope"`, "resnet-small"}},
		{name: "params not JSON", args: with([]string{"pretrain", "--out", out, "--params", "{tau:0.2"}, mnist...), code: 2,
			stderr: []string{"--params", "JSON"}},
		{name: "params unknown field", args: with([]string{"pretrain", "--out", out, "--params", `{"tua":0.2}`, "--batch", "32"}, mnist...), code: 1,
			stderr: []string{"tua"}},
		{name: "batch over subset", args: with([]string{"pretrain", "--out", out, "--batch", "128"}, mnist...), code: 1,
			stderr: []string{"64 images", "128"}},
		{name: "resume without checkpoint", args: with([]string{"pretrain", "--out", filepath.Join(tmp, "fresh"), "--resume", "--batch", "32"}, mnist...), code: 1,
			stderr: []string{"no checkpoint"}},
		{name: "pretrain --help lists the monitor", args: []string{"pretrain", "--help"}, code: 0, stderr: []string{"-monitor-every", "-monitor-bank", "online kNN"}},
		{name: "negative --monitor-every", args: with([]string{"pretrain", "--out", out, "--monitor-every", "-1"}, mnist...), code: 2,
			stderr: []string{"--monitor-every -1"}},
		{name: "monitor with an empty bank", args: with([]string{"pretrain", "--out", out, "--monitor-every", "1", "--monitor-bank", "0"}, mnist...), code: 2,
			stderr: []string{"--monitor-bank"}},
		{name: "eval without protocol", args: []string{"eval"}, code: 2, stderr: []string{"knn or linear"}},
		{name: "eval unknown protocol", args: []string{"eval", "svm"}, code: 2, stderr: []string{"knn or linear"}},
		{name: "eval knn without encoder", args: with([]string{"eval", "knn"}, mnist...), code: 2, stderr: []string{"--ckpt", "--baseline"}},
		{name: "eval knn with both", args: with([]string{"eval", "knn", "--ckpt", notCkpt, "--baseline", "pixels"}, mnist...), code: 2,
			stderr: []string{"exactly one"}},
		{name: "eval unknown baseline", args: with([]string{"eval", "knn", "--baseline", "noise"}, mnist...), code: 2, stderr: []string{`"noise"`, "pixels"}},
		{name: "eval linear unknown optimizer", args: with([]string{"eval", "linear", "--baseline", "pixels", "--optimizer", "adam"}, mnist...), code: 2,
			stderr: []string{`"adam"`, "lbfgs"}},
		{name: "eval ckpt not a checkpoint", args: with([]string{"eval", "knn", "--ckpt", notCkpt}, mnist...), code: 1,
			stderr: []string{notCkpt, "not a checkpoint"}},
		{name: "eval ckpt missing", args: with([]string{"eval", "knn", "--ckpt", filepath.Join(tmp, "nowhere")}, mnist...), code: 1,
			stderr: []string{filepath.Join(tmp, "nowhere")}},
		{name: "data without sub-command", args: []string{"data"}, code: 2, stderr: []string{"fetch, info, throughput or video-synth"}},
		{name: "data unknown sub-command", args: []string{"data", "list"}, code: 2, stderr: []string{`"list"`}},
		{name: "data info without spec", args: []string{"data", "info"}, code: 2, stderr: []string{"--data is required"}},
		{name: "data fetch unknown", args: []string{"data", "fetch", "imagenet", "--dir", filepath.Join(tmp, "ds")}, code: failed,
			stderr: []string{`"imagenet"`, "cifar10"}, noDirAt: filepath.Join(tmp, "ds")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, c.args...)
			if code != c.code && !(c.code == failed && code != 0) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			for _, s := range c.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if code != 0 && strings.Contains(stderr, "panic") {
				t.Errorf("stderr mentions a panic:\n%s", stderr)
			}
			if c.noDirAt != "" {
				if _, err := os.Stat(c.noDirAt); err == nil {
					t.Errorf("%s was created", c.noDirAt)
				}
			}
		})
	}
	// The refused run left the earlier one alone.
	if b, err := os.ReadFile(filepath.Join(taken, "notes.txt")); err != nil || string(b) != "earlier run\n" {
		t.Errorf("the refused run touched %s: %q, %v", taken, b, err)
	}
}

// TestForceValidatesFirst: --force must not wipe an earlier run when the
// command line is wrong in some other way (a typo in --data or --method).
func TestForceValidatesFirst(t *testing.T) {
	for _, args := range [][]string{
		{"--data", "mnistt"},
		{"--data", "mnist", "--subset", "64", "--method", "simclrr"},
	} {
		dir := t.TempDir()
		keep := filepath.Join(dir, "metrics.jsonl")
		if err := os.WriteFile(keep, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := cli(t, append([]string{"pretrain", "--out", dir, "--force"}, args...)...)
		if code == 0 {
			t.Fatalf("pretrain %v succeeded", args)
		}
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("pretrain %v --force failed (%s) after deleting the earlier run: %v", args, strings.TrimSpace(stderr), err)
		}
	}
}

func TestEvalPixelBaseline(t *testing.T) {
	stdout, _ := mustCLI(t, "eval", "knn", "--baseline", "pixels", "--data", "mnist", "--subset", "500", "--json", "--quiet")
	v := decodeJSON(t, stdout)
	top1, _ := v["top1"].(float64)
	top5, _ := v["top5"].(float64)
	if !(top1 > 0.3 && top1 <= 1) || top5 < top1 || top5 > 1 {
		t.Errorf("top1 %v top5 %v: want 0.3 < top1 <= top5 <= 1 (raw pixels do well on MNIST)", v["top1"], v["top5"])
	}
	if v["train_images"] != 500.0 || v["test_images"] != 500.0 || v["feature_dim"] != 784.0 || v["protocol"] != "knn" {
		t.Errorf("output %v: want 500 train and test images, 784-d features, protocol knn", v)
	}

	// The text form says the same.
	stdout, _ = mustCLI(t, "eval", "knn", "--baseline", "pixels", "--data", "mnist", "--subset", "500", "--quiet")
	if !strings.Contains(stdout, "top-1") || !strings.Contains(stdout, "raw pixels") {
		t.Errorf("text output lacks top-1 / raw pixels: %s", stdout)
	}
}

// TestEvalProbesMatchesKNNAndLinear checks that eval probes gives, from one
// extraction, exactly what eval knn and eval linear give separately.
func TestEvalProbesMatchesKNNAndLinear(t *testing.T) {
	common := []string{"--baseline", "pixels", "--data", "mnist", "--subset", "300", "--json", "--quiet"}
	top1 := func(proto string) float64 {
		v := decodeJSON(t, must1(mustCLI(t, append([]string{"eval", proto}, common...)...)))
		return v["top1"].(float64)
	}
	knn, lin := top1("knn"), top1("linear")
	v := decodeJSON(t, must1(mustCLI(t, append([]string{"eval", "probes"}, common...)...)))
	if v["knn_top1"] != knn || v["linear_top1"] != lin || v["top1"] != lin || v["protocol"] != "probes" {
		t.Errorf("eval probes: %v; want knn_top1 %v and linear_top1 = top1 = %v", v, knn, lin)
	}
	stdout, _ := mustCLI(t, append([]string{"eval", "probes"}, common[:len(common)-2]...)...)
	if !strings.Contains(stdout, "knn on mnist") || !strings.Contains(stdout, "linear on mnist") {
		t.Errorf("eval probes text output lacks a knn or a linear line:\n%s", stdout)
	}
}

// TestEvalRandomAsMethod checks --baseline random --method: a method whose
// encoder is the plain backbone (rotation) gives exactly the plain random
// baseline, since both start from the same weights; CPC's encoder averages
// the backbone over a patch grid, so the same weights give other features.
func TestEvalRandomAsMethod(t *testing.T) {
	common := []string{"eval", "knn", "--baseline", "random", "--data", "mnist", "--subset", "300", "--json", "--quiet"}
	plain := decodeJSON(t, must1(mustCLI(t, common...)))
	rot := decodeJSON(t, must1(mustCLI(t, append(common, "--method", "rotation")...)))
	cpc := decodeJSON(t, must1(mustCLI(t, append(common, "--method", "cpc")...)))
	if rot["top1"] != plain["top1"] || rot["top5"] != plain["top5"] {
		t.Errorf("random as rotation: top1 %v top5 %v; want the plain random baseline's %v %v", rot["top1"], rot["top5"], plain["top1"], plain["top5"])
	}
	if enc, _ := cpc["encoder"].(string); !strings.Contains(enc, "as cpc evaluates it") {
		t.Errorf("random as cpc: encoder %q does not say it is seen as cpc evaluates it", enc)
	}
	if cpc["top1"] == plain["top1"] && cpc["top5"] == plain["top5"] {
		t.Errorf("random as cpc gives the plain baseline's result %v: the patch grid was not used", plain["top1"])
	}
}

// must1 keeps the first of two results.
func must1(a, _ string) string { return a }

func TestDataInfo(t *testing.T) {
	stdout, _ := mustCLI(t, "data", "info", "--data", "mnist", "--split", "test")
	if !strings.Contains(stdout, "10000 images") || !strings.Contains(stdout, "1x28x28") || !strings.Contains(stdout, "10 classes") {
		t.Errorf("data info: %s", stdout)
	}
	stdout, _ = mustCLI(t, "data", "info", "--data", "mnist", "--split", "test", "--json")
	v := decodeJSON(t, stdout)
	if v["images"] != 10000.0 || v["channels"] != 1.0 || v["height"] != 28.0 || v["unlabeled"] != 0.0 {
		t.Errorf("data info --json: %v", v)
	}
	if cls, _ := v["classes"].([]any); len(cls) != 10 {
		t.Errorf("data info --json: classes %v, want 10", v["classes"])
	}
}

// TestPretrainResumeEval runs the CLI end to end: pretrain 4 steps, resume
// to 6, then evaluate the checkpoint.
func TestPretrainResumeEval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	common := []string{"--data", "mnist", "--subset", "256", "--batch", "32", "--checkpoint-every", "2", "--out", dir, "--quiet"}
	args := func(more ...string) []string { return append(append([]string{"pretrain"}, common...), more...) }

	stdout, _ := mustCLI(t, args("--steps", "4")...)
	if !strings.Contains(stdout, "steps 4") {
		t.Errorf("first run: %s", stdout)
	}
	if name, step := latestStep(t, dir); name != "step-000000004" || step != 4 {
		t.Fatalf("after the first run latest is %s at step %d, want step 4", name, step)
	}

	// A second plain run refuses the directory and says how to continue.
	code, _, stderr := cli(t, args("--steps", "6")...)
	if code != 1 || !strings.Contains(stderr, "--resume") || !strings.Contains(stderr, "step-000000004") {
		t.Errorf("rerun without --resume: exit %d, %s", code, stderr)
	}
	// Resuming with another backbone is refused, naming both.
	code, _, stderr = cli(t, args("--steps", "6", "--resume", "--arch", "vit-tiny")...)
	if code != 1 || !strings.Contains(stderr, "vit-tiny") || !strings.Contains(stderr, "resnet-small") {
		t.Errorf("resume with another arch: exit %d, %s", code, stderr)
	}

	stdout, _ = mustCLI(t, args("--steps", "6", "--resume", "--json")...)
	res := decodeJSON(t, stdout)
	if res["steps"] != 6.0 || res["interrupted"] != false || res["checkpoint"] != checkpoint.StepDir(dir, 6) {
		t.Errorf("resumed run: %v", res)
	}
	if name, step := latestStep(t, dir); name != "step-000000006" || step != 6 {
		t.Fatalf("after resuming latest is %s at step %d, want step 6", name, step)
	}
	wantSteps(t, lossSteps(t, dir), 6)
	for _, f := range []string{train.ConfigFile, train.LossPlot} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	for _, c := range []struct {
		proto, ckpt, step string
	}{
		{"knn", dir, "step 6"},
		{"knn", checkpoint.StepDir(dir, 4), "step 4"},
		{"linear", dir, "step 6"},
	} {
		stdout, _ := mustCLI(t, "eval", c.proto, "--ckpt", c.ckpt, "--data", "mnist", "--subset", "256", "--json", "--quiet")
		v := decodeJSON(t, stdout)
		top1, _ := v["top1"].(float64)
		enc, _ := v["encoder"].(string)
		if !(top1 > 0 && top1 <= 1) {
			t.Errorf("eval %s %s: top1 %v, want in (0, 1]", c.proto, c.ckpt, v["top1"])
		}
		if !strings.Contains(enc, "simclr resnet-small at "+c.step) {
			t.Errorf("eval %s %s: encoder %q, want simclr resnet-small at %s", c.proto, c.ckpt, enc, c.step)
		}
		if v["train_images"] != 256.0 || v["test_images"] != 256.0 || v["feature_dim"] != 256.0 {
			t.Errorf("eval %s %s: %v; want 256 train and test images of 256-d features", c.proto, c.ckpt, v)
		}
	}
}

// TestPretrainMonitor runs one epoch with the online kNN monitor: the
// evaluation is printed and logged in the epoch record.
func TestPretrainMonitor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	_, stderr := mustCLI(t, "pretrain", "--data", "mnist", "--subset", "256", "--batch", "32", "--epochs", "1",
		"--monitor-every", "1", "--monitor-query", "200", "--out", dir, "--quiet")
	if !strings.Contains(stderr, "epoch 1: online kNN top-1 ") || !strings.Contains(stderr, "mnist/test") {
		t.Errorf("stderr lacks the monitor's line or its test split:\n%s", stderr)
	}
	recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var found []int64
	for _, r := range recs {
		if v, ok := r.Value(train.KNNTop1Key); ok {
			// 10 classes: chance is 0.1; the printed percentage is this value.
			if v <= 0 || v > 1 || !strings.Contains(stderr, fmt.Sprintf("top-1 %.2f%%", 100*v)) {
				t.Errorf("%s = %v at step %d; stderr:\n%s", train.KNNTop1Key, v, r.Step, stderr)
			}
			found = append(found, r.Step)
		}
	}
	if len(found) != 1 || found[0] != 8 {
		t.Errorf("%s records at steps %v, want one at step 8 (256/32, the end of epoch 1)", train.KNNTop1Key, found)
	}
}

// TestMonitorSetsHoldOut: without a test split to open (here: when
// training on it), the monitor's query images are held out of its bank.
func TestMonitorSetsHoldOut(t *testing.T) {
	ds, err := data.Open("mnist", data.OpenOptions{Split: "test", Subset: 120, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	df := dataFlags{spec: "mnist", split: "test"}
	bank, query, err := monitorSets(df, ds, 50, 3, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if bank.Len()+query.Len() != 120 || query.Len() < 40 || query.Len() > 60 {
		t.Fatalf("bank %d + query %d images, want 120 with about 50 in the query", bank.Len(), query.Len())
	}
	seen := map[string]bool{}
	for i := range bank.Len() {
		img, err := bank.Image(i, data.Image{})
		if err != nil {
			t.Fatal(err)
		}
		seen[fmt.Sprint(img.Pix)] = true
	}
	for i := range query.Len() {
		img, err := query.Image(i, data.Image{})
		if err != nil {
			t.Fatal(err)
		}
		if seen[fmt.Sprint(img.Pix)] {
			t.Fatalf("query image %d is also in the bank", i)
		}
	}
	// Asking for more than half keeps half for the bank.
	bank, query, err = monitorSets(df, ds, 1000, 3, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if bank.Len() < 50 || query.Len() < 50 {
		t.Errorf("query of 1000 from 120: bank %d, query %d; want about half each", bank.Len(), query.Len())
	}
}

// The data command describes a dataset; MNIST ships with the GoMNIST module.
func Example_dataInfo() {
	run([]string{"data", "info", "--data", "mnist", "--split", "test"}, os.Stdout, os.Stderr)
	// Output:
	// mnist/test: 10000 images of 1x28x28, 10 classes, 0 unlabeled
	//    0 0                    980
	//    1 1                    1135
	//    2 2                    1032
	//    3 3                    1010
	//    4 4                    982
	//    5 5                    892
	//    6 6                    958
	//    7 7                    1028
	//    8 8                    974
	//    9 9                    1009
}
