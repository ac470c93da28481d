package train_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"selfsup/checkpoint"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/runlog"
	"selfsup/tensor"
	"selfsup/train"
)

// straight is the reference run: tinyConfig's 6 steps without a break. It
// runs once and is shared by the tests that compare against it.
var straight struct {
	once    sync.Once
	dir     string
	res     train.Result
	err     error
	weights map[string][]float32
}

func straightRun(t *testing.T) (string, train.Result, map[string][]float32) {
	t.Helper()
	straight.once.Do(func() {
		dir, err := os.MkdirTemp("", "train-straight-")
		if err != nil {
			straight.err = err
			return
		}
		straight.dir = filepath.Join(dir, "run")
		straight.res, straight.err = train.Run(context.Background(), tinySpec(), tinyData, tinyConfig(straight.dir))
		if straight.err == nil {
			straight.weights = weights(straight.res.Method)
		}
	})
	if straight.err != nil {
		t.Fatalf("reference run: %v", straight.err)
	}
	return straight.dir, straight.res, straight.weights
}

func TestMain(m *testing.M) {
	code := m.Run()
	if straight.dir != "" {
		os.RemoveAll(filepath.Dir(straight.dir))
	}
	os.Exit(code)
}

func TestRunWritesRunDirectory(t *testing.T) {
	dir, res, w := straightRun(t)
	if res.Steps != 6 || res.Epoch != 2 || res.ResumedFrom != 0 || res.Interrupted {
		t.Errorf("result: steps %d epoch %d resumed from %d interrupted %v; want 6, 2, 0, false",
			res.Steps, res.Epoch, res.ResumedFrom, res.Interrupted)
	}
	if res.FinalLoss <= 0 || res.ViewsPerSec <= 0 || res.Wall <= 0 {
		t.Errorf("result: final loss %v, %v views/s, wall %v; want all positive", res.FinalLoss, res.ViewsPerSec, res.Wall)
	}
	if want := checkpoint.StepDir(dir, 6); res.CheckpointDir != want {
		t.Errorf("checkpoint dir %q, want %q", res.CheckpointDir, want)
	}
	wantSteps(t, lossSteps(t, dir), 6)

	// Checkpoints every 2 steps and at the end; the default keeps 2.
	all, err := checkpoint.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range all {
		names = append(names, filepath.Base(d))
	}
	if strings.Join(names, " ") != "step-000000004 step-000000006" {
		t.Errorf("checkpoints %v, want step 4 and step 6", names)
	}
	latest, err := checkpoint.LatestIn(dir)
	if err != nil || latest != res.CheckpointDir {
		t.Errorf("latest = %q, %v; want %q", latest, err, res.CheckpointDir)
	}

	// The final checkpoint holds the final weights and rebuilds the method.
	m, ck, err := methods.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Step != 6 || ck.Method != "simclr" || ck.Arch != "resnet-small" {
		t.Errorf("checkpoint: step %d method %q arch %q", ck.Step, ck.Method, ck.Arch)
	}
	sameBits(t, w, weights(m))

	// config.json records the spec and the filled-in training settings.
	b, err := os.ReadFile(filepath.Join(dir, train.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var rec train.RunRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s: %v", train.ConfigFile, err)
	}
	if rec.Spec.Method != "simclr" || rec.Spec.Backbone != tinySpec().Backbone {
		t.Errorf("config spec %+v", rec.Spec)
	}
	if rec.Train.Steps != 6 || rec.Train.BatchSize != 16 || rec.Train.Seed != 7 || rec.Train.Optimizer == "" || rec.Train.LR <= 0 {
		t.Errorf("config train %+v: want steps 6, batch 16, seed 7 and the method's optimizer and LR", rec.Train)
	}

	// loss.png is a PNG.
	png, err := os.ReadFile(filepath.Join(dir, train.LossPlot))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG (starts %q)", train.LossPlot, png[:min(8, len(png))])
	}
}

// TestResumeIsExact stops a run at the end of its first epoch (step 3),
// resumes it, and expects the weights of the run that never stopped.
func TestResumeIsExact(t *testing.T) {
	_, _, want := straightRun(t)
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := tinyConfig(dir)
	epochs := 0
	cfg.OnEpoch = func(epoch int, m methods.Method) (map[string]float64, error) {
		epochs++
		cancel() // the loop notices before step 4
		return map[string]float64{"probe": 0.25}, nil
	}
	res, err := train.Run(ctx, tinySpec(), tinyData, cfg)
	if err != nil {
		t.Fatalf("interrupted run: %v", err)
	}
	if !res.Interrupted || res.Steps != 3 || epochs != 1 {
		t.Fatalf("interrupted run: interrupted %v at step %d after %d epochs; want true, 3, 1", res.Interrupted, res.Steps, epochs)
	}
	if res.CheckpointDir != checkpoint.StepDir(dir, 3) {
		t.Fatalf("interrupted run saved %q, want step 3", res.CheckpointDir)
	}
	if _, err := os.Stat(filepath.Join(dir, train.LossPlot)); err == nil {
		t.Errorf("an interrupted run drew %s; only finished runs do", train.LossPlot)
	}

	// The epoch record carries the monitor's numbers.
	recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if p, ok := r.Value("probe"); ok {
			_, hasLoss := r.Value("epoch_loss")
			found = r.Step == 3 && r.Epoch == 1 && p == 0.25 && hasLoss
		}
	}
	if !found {
		t.Errorf("no epoch record at step 3 with probe 0.25 and epoch_loss in %+v", recs)
	}

	cfg = tinyConfig(dir)
	cfg.Resume = true
	res, err = train.Run(context.Background(), tinySpec(), tinyData, cfg)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if res.ResumedFrom != 3 || res.Steps != 6 || res.Interrupted {
		t.Fatalf("resumed run: from %d to %d, interrupted %v; want 3 to 6", res.ResumedFrom, res.Steps, res.Interrupted)
	}
	sameBits(t, want, weights(res.Method))
	wantSteps(t, lossSteps(t, dir), 6)
	exists(t, filepath.Join(dir, train.LossPlot))
}

// TestInterruptMidEpoch cancels the context from another goroutine once a
// step is logged: Run stops cleanly with a checkpoint at the step reached,
// and resuming from it (mid-epoch) still gives the uninterrupted weights.
func TestInterruptMidEpoch(t *testing.T) {
	_, _, want := straightRun(t)
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer cancel()
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			recs, _ := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
			if len(recs) > 0 {
				return
			}
		}
	}()
	res, err := train.Run(ctx, tinySpec(), tinyData, tinyConfig(dir))
	close(done)
	if err != nil {
		t.Fatalf("interrupted run: %v", err)
	}
	if !res.Interrupted {
		if res.Steps == 6 {
			t.Skip("the run finished before the cancel landed")
		}
		t.Fatalf("run stopped at step %d without being marked interrupted", res.Steps)
	}
	if res.Steps < 1 || res.Steps >= 6 {
		t.Fatalf("interrupted at step %d, want 1..5", res.Steps)
	}
	t.Logf("interrupted at step %d", res.Steps)
	if res.CheckpointDir != checkpoint.StepDir(dir, res.Steps) {
		t.Fatalf("interrupted run saved %q, want the step reached (%d)", res.CheckpointDir, res.Steps)
	}
	ck, err := checkpoint.Load(res.CheckpointDir)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Step != res.Steps || len(ck.Optimizer) == 0 {
		t.Fatalf("checkpoint: step %d with %d optimizer tensors; want step %d with optimizer state", ck.Step, len(ck.Optimizer), res.Steps)
	}
	wantSteps(t, lossSteps(t, dir), res.Steps)

	reached := res.Steps
	cfg := tinyConfig(dir)
	cfg.Resume = true
	res, err = train.Run(context.Background(), tinySpec(), tinyData, cfg)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if res.ResumedFrom != reached || res.Steps != 6 {
		t.Fatalf("resumed run: from %d to %d; want %d to 6", res.ResumedFrom, res.Steps, reached)
	}
	sameBits(t, want, weights(res.Method))
	wantSteps(t, lossSteps(t, dir), 6)
}

// TestResumeRefusesOtherModel resumes run directories whose checkpoint
// describes another model: the error names both.
func TestResumeRefusesOtherModel(t *testing.T) {
	spec := tinySpec()
	other := func(f func(s *methods.Spec)) methods.Spec {
		s := spec
		f(&s)
		return s
	}
	cases := []struct {
		name   string
		stored methods.Spec
		want   []string
	}{
		{"method", other(func(s *methods.Spec) { s.Method = "byol" }), []string{"byol", "simclr"}},
		{"arch", other(func(s *methods.Spec) { s.Backbone.Arch = "resnet18-cifar" }), []string{"resnet18-cifar", "resnet-small"}},
		{"channels", other(func(s *methods.Spec) { s.Backbone.InChannels = 3 }), []string{"3 channels", "1 channels"}},
		{"image size", other(func(s *methods.Spec) { s.Backbone.ImageSize = 28 }), []string{"28 px", "16 px"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ck := &checkpoint.Checkpoint{Arch: c.stored.Backbone.Arch, Method: c.stored.Method, Step: 2,
				Model: map[string]*tensor.Tensor{"encoder.w": tensor.New(2)}}
			if err := ck.SetConfig(train.RunRecord{Spec: c.stored, Train: tinyConfig(dir)}); err != nil {
				t.Fatal(err)
			}
			if _, err := checkpoint.SaveStep(dir, ck, 0); err != nil {
				t.Fatal(err)
			}
			cfg := tinyConfig(dir)
			cfg.Resume = true
			_, err := train.Run(context.Background(), spec, tinyData, cfg)
			if err == nil {
				t.Fatal("resumed a checkpoint of another model")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, train.MetricsFile)); err == nil {
				t.Errorf("the refused run wrote %s", train.MetricsFile)
			}
		})
	}
	t.Run("no checkpoint", func(t *testing.T) {
		dir := t.TempDir()
		cfg := tinyConfig(dir)
		cfg.Resume = true
		_, err := train.Run(context.Background(), spec, tinyData, cfg)
		if err == nil || !strings.Contains(err.Error(), "no checkpoint") || !strings.Contains(err.Error(), dir) {
			t.Fatalf("resume without a checkpoint: %v", err)
		}
	})
}

// TestDivergenceIsAnError trains with an absurd learning rate: the run must
// stop with an error saying so, not panic or keep going on NaN.
func TestDivergenceIsAnError(t *testing.T) {
	cases := []struct {
		name string
		clip float64
	}{
		{"no clipping", 0},
		{"clipping", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := tinyConfig(t.TempDir())
			cfg.Optimizer, cfg.LR, cfg.WarmupSteps, cfg.ClipGrad = "sgd", 1e30, 0, c.clip
			res, err := train.Run(context.Background(), tinySpec(), tinyData, cfg)
			if err == nil {
				t.Fatalf("LR 1e30 trained %d steps to loss %v without an error", res.Steps, res.FinalLoss)
			}
			msg := err.Error()
			if !strings.Contains(msg, "diverged") || !strings.Contains(msg, "step ") {
				t.Errorf("error %q should say at which step training diverged", msg)
			}
			for _, s := range lossSteps(t, cfg.RunDir) { // lossSteps flags NaN losses
				if s > 6 {
					t.Errorf("logged step %d", s)
				}
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		spec methods.Spec
		mod  func(c *train.Config)
		want string
	}{
		{"no run dir", tinySpec(), func(c *train.Config) { c.RunDir = "" }, "run directory"},
		{"batch of one", tinySpec(), func(c *train.Config) { c.BatchSize = 1 }, "batch size 1"},
		{"batch over dataset", tinySpec(), func(c *train.Config) { c.BatchSize = 64 }, "one batch of 64"},
		{"no length", tinySpec(), func(c *train.Config) { c.Steps = 0 }, "Epochs or Steps"},
		{"optimizer", tinySpec(), func(c *train.Config) { c.Optimizer = "adagrad" }, `unknown optimizer "adagrad"`},
		{"momentum", tinySpec(), func(c *train.Config) { c.Momentum = 1 }, "momentum=1"},
		{"beta2", tinySpec(), func(c *train.Config) { c.Optimizer, c.Beta2 = "adamw", 1 }, "beta2 1"},
		{"method", methods.Spec{Method: "nope", Backbone: tinySpec().Backbone}, func(*train.Config) {}, `unknown method "nope"`},
		{"arch", methods.Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "nope", InChannels: 1, ImageSize: 16}}, func(*train.Config) {}, "nope"},
		{"params", methods.Spec{Method: "simclr", Backbone: tinySpec().Backbone, Params: json.RawMessage(`{"tua":0.1}`)}, func(*train.Config) {}, "tua"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := tinyConfig(t.TempDir())
			c.mod(&cfg)
			_, err := train.Run(context.Background(), c.spec, tinyData, cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// TestRunStopsOnCancelledContext gives Run a context cancelled before the
// first step: it saves the untouched state as step 0 and says so.
func TestRunStopsOnCancelledContext(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := train.Run(ctx, tinySpec(), tinyData, tinyConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Steps != 0 {
		t.Fatalf("interrupted %v at step %d, want true at 0", res.Interrupted, res.Steps)
	}
	if res.CheckpointDir != checkpoint.StepDir(dir, 0) {
		t.Errorf("checkpoint %q, want step 0", res.CheckpointDir)
	}
	if len(lossSteps(t, dir)) != 0 {
		t.Error("a cancelled run logged steps")
	}
}

// TestEpochRun trains by epochs with checkpoints at epoch ends (the default
// when CheckpointEvery is 0), keeping all of them, with a progress bar.
func TestEpochRun(t *testing.T) {
	dir := t.TempDir()
	var progress bytes.Buffer
	cfg := train.Config{RunDir: dir, Epochs: 2, BatchSize: 16, Keep: -1, Seed: 3, Workers: 1, Progress: &progress}
	res, err := train.Run(context.Background(), tinySpec(), patterns{N: 40, Size: 16}, cfg) // 2 steps per epoch, 8 images dropped
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 4 || res.Epoch != 2 {
		t.Fatalf("steps %d epoch %d, want 4 and 2", res.Steps, res.Epoch)
	}
	all, err := checkpoint.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0] != checkpoint.StepDir(dir, 2) || all[1] != checkpoint.StepDir(dir, 4) {
		t.Fatalf("checkpoints %v, want steps 2 and 4", all)
	}
	for i, d := range all {
		ck, err := checkpoint.LoadWeights(d)
		if err != nil {
			t.Fatal(err)
		}
		if ck.Epoch != i+1 {
			t.Errorf("%s: epoch %d, want %d", d, ck.Epoch, i+1)
		}
		if l, ok := ck.Metrics["loss"]; !ok || !(l > 0) {
			t.Errorf("%s: loss metric %v", d, ck.Metrics)
		}
	}
	wantSteps(t, lossSteps(t, dir), 4)
	recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var epochEnds []int64
	for _, r := range recs {
		if _, ok := r.Value("epoch_loss"); ok {
			epochEnds = append(epochEnds, r.Step)
		}
	}
	if len(epochEnds) != 2 || epochEnds[0] != 2 || epochEnds[1] != 4 {
		t.Errorf("epoch records at steps %v, want 2 and 4", epochEnds)
	}
	if !strings.Contains(progress.String(), "simclr") {
		t.Errorf("progress output lacks the method name: %q", progress.String())
	}
}

// TestDivergenceNamesLoggedStep: the step a divergence error names should be
// counted like the metrics and checkpoints count steps (from 1), so that it
// is one past the last logged step.
func TestDivergenceNamesLoggedStep(t *testing.T) {
	cfg := tinyConfig(t.TempDir())
	cfg.Optimizer, cfg.LR, cfg.WarmupSteps = "sgd", 1e30, 0
	_, err := train.Run(context.Background(), tinySpec(), tinyData, cfg)
	if err == nil {
		t.Fatal("LR 1e30 did not diverge")
	}
	logged := lossSteps(t, cfg.RunDir)
	want := fmt.Sprintf("step %d:", len(logged)+1)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q after %d logged steps, want it to start with %q", err, len(logged), want)
	}
}
