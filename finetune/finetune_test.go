package finetune

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/data"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/runlog"
	"selfsup/train"
)

// Frozen stage modules keep their weights and batch-norm statistics bit for
// bit and stay in evaluation mode; the others and the head move.
func TestFreezeFreezes(t *testing.T) {
	cases := []struct {
		name   string
		freeze int
	}{
		{"full fine-tuning", 0},
		{"stem and first stage frozen (RotNet)", 2},
		{"whole encoder frozen", 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := pretrained(t, 1)
			var before []map[string][]float32
			for _, s := range enc.StageModules() {
				before = append(before, snapshot(s))
			}
			cfg := Config{RunDir: t.TempDir(), Backbone: tinyBackbone, Pretrained: enc, Freeze: c.freeze,
				Steps: 3, BatchSize: 16, Workers: 1, Seed: 3}
			head := snapshotHead(t, cfg)
			res, err := Run(context.Background(), patterns{N: 32, Size: 16}, nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range res.Model.Enc.StageModules() {
				moved := changed(before[i], snapshot(s))
				var bnTraining []bool
				nn.VisitBatchNorms(s, func(b *nn.BatchNorm) { bnTraining = append(bnTraining, b.Training) })
				if i < c.freeze {
					if len(moved) > 0 {
						t.Errorf("frozen stage module %d changed: %v", i, keys(moved))
					}
					for _, on := range bnTraining {
						if on {
							t.Errorf("frozen stage module %d has a batch norm in training mode", i)
						}
					}
					continue
				}
				var weight, stats bool
				for name := range moved {
					weight = weight || strings.HasSuffix(name, "conv1.weight")
					stats = stats || strings.HasSuffix(name, "running_mean")
				}
				if !weight || !stats {
					t.Errorf("trained stage module %d: a conv weight moved %v, running statistics moved %v (changed: %v)", i, weight, stats, keys(moved))
				}
				for _, on := range bnTraining {
					if !on {
						t.Errorf("trained stage module %d has a batch norm in evaluation mode", i)
					}
				}
			}
			if len(changed(head, snapshot(res.Model.Head))) != 2 {
				t.Errorf("the head's weight and bias did not both move")
			}
			// the pretrained encoder itself is left alone
			for i, s := range enc.StageModules() {
				if moved := changed(before[i], snapshot(s)); len(moved) > 0 {
					t.Errorf("Run modified the pretrained encoder's stage module %d: %v", i, keys(moved))
				}
			}
			if (c.freeze == 0) != (res.Frozen == 0) {
				t.Errorf("freeze %d: %d frozen parameters", c.freeze, res.Frozen)
			}
		})
	}
}

// snapshotHead returns the head weights the run of cfg starts from (built
// from the same seed).
func snapshotHead(t *testing.T, cfg Config) map[string][]float32 {
	t.Helper()
	cfg.Pretrained = nil
	cfg.RunDir = t.TempDir()
	tr, err := newTrainer(patterns{N: 32, Size: 16}, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.metrics.Close()
	return snapshot(tr.m.Head)
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// One plain SGD step (no momentum, no decay) moves every parameter by its
// learning rate times its gradient: the head's at LR, the encoder's at LR
// times EncoderLRScale.
func TestTwoLearningRates(t *testing.T) {
	const lr, scale = 0.5, 0.1
	cfg := Config{RunDir: t.TempDir(), Backbone: tinyBackbone, Pretrained: pretrained(t, 2), Steps: 1, BatchSize: 16,
		LR: lr, EncoderLRScale: scale, Momentum: -1, WeightDecay: -1, Workers: 1}
	tr, err := newTrainer(patterns{N: 16, Size: 16}, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.metrics.Close()
	it := tr.ld.Epoch(context.Background(), 0)
	defer it.Close()
	b, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	tr.setTraining()
	// the batch's gradients, from a pass of its own
	out := tr.m.Loss(b, nil)
	if err := out.Loss.Backward(); err != nil {
		t.Fatal(err)
	}
	all := append(append([]*autograd.Var(nil), tr.encParams...), tr.headParams...)
	grads := map[*autograd.Var][]float32{}
	values := map[*autograd.Var][]float32{}
	for _, p := range all {
		if p.Grad == nil {
			t.Fatalf("%s has no gradient", p.Name)
		}
		grads[p] = append([]float32(nil), p.Grad.Data...)
		values[p] = append([]float32(nil), p.Value.Data...)
		p.ZeroGrad()
	}
	if _, _, err := tr.trainStep(b, lr); err != nil {
		t.Fatal(err)
	}
	// least-squares step size of each parameter: <delta, g> / <g, g>
	for _, p := range all {
		var dg, gg float64
		for i, g := range grads[p] {
			d := float64(values[p][i] - p.Value.Data[i])
			dg += d * float64(g)
			gg += float64(g) * float64(g)
		}
		if gg < 1e-12 {
			continue
		}
		want := lr
		if strings.HasPrefix(p.Name, "encoder.") {
			want = lr * scale
		}
		if got := dg / gg; math.Abs(got-want) > 0.02*want {
			t.Errorf("%s stepped with learning rate %.4g, want %.4g", p.Name, got, want)
		}
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	wrongChannels, err := nn.NewBackbone(nn.BackboneConfig{Arch: "resnet-small", InChannels: 3, ImageSize: 16}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ds   data.Dataset
		cfg  Config
		want []string
	}{
		{"unlabelled images", patterns{N: 32, Size: 16, Unlabelled: 4}, Config{Backbone: tinyBackbone}, []string{"8 of the 32", "no label"}},
		{"freeze past the stages", patterns{N: 32, Size: 16}, Config{Backbone: tinyBackbone, Freeze: 5}, []string{"freeze 5", "0..4"}},
		{"negative freeze", patterns{N: 32, Size: 16}, Config{Backbone: tinyBackbone, Freeze: -1}, []string{"-1"}},
		{"pretrained encoder of another shape", patterns{N: 32, Size: 16}, Config{Backbone: tinyBackbone, Pretrained: wrongChannels}, []string{"does not fit", "conv1.weight"}},
		{"no run directory", patterns{N: 32, Size: 16}, Config{Backbone: tinyBackbone, RunDir: "-"}, []string{"run directory"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.cfg.RunDir == "-" {
				c.cfg.RunDir = ""
			} else {
				c.cfg.RunDir = t.TempDir()
			}
			c.cfg.Steps = 1
			_, err := Run(context.Background(), c.ds, nil, c.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A short supervised run on 1000 MNIST digits classifies held-out digits
// far better than chance (10%); its checkpoint loads with methods.Load and
// gives the same test accuracy.
func TestMNISTEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("reads MNIST")
	}
	trainDS, err := data.Open("mnist", data.OpenOptions{Split: "train", Subset: 1000, Seed: 1, Resize: 16})
	if err != nil {
		t.Skipf("MNIST is not available: %v", err)
	}
	testDS, err := data.Open("mnist", data.OpenOptions{Split: "test", Subset: 500, Seed: 2, Resize: 16})
	if err != nil {
		t.Skipf("MNIST is not available: %v", err)
	}
	dir := t.TempDir()
	cfg := Config{RunDir: dir, Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16},
		Epochs: 2, BatchSize: 32, LR: 0.4, Seed: 1}
	res, err := Run(context.Background(), trainDS, testDS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Test == nil || res.Test.Top1 < 0.6 {
		t.Fatalf("test top-1 %v after %d steps, want well above chance (0.1)", res.Test, res.Steps)
	}
	t.Logf("test top-1 %.3f, top-5 %.3f after %d steps (%.0f images/s)", res.Test.Top1, res.Test.Top5, res.Steps, res.ImagesPerSec)
	m, ck, err := methods.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sup, ok := m.(*methods.Supervised)
	if !ok || ck.Method != "supervised" || ck.Metrics[TestTop1Key] != res.Test.Top1 {
		t.Fatalf("checkpoint holds %T, method %q, metrics %v", m, ck.Method, ck.Metrics)
	}
	ev, err := Evaluate(context.Background(), sup, testDS, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Top1 != res.Test.Top1 {
		t.Fatalf("the loaded checkpoint scores %v, the run %v", ev.Top1, res.Test.Top1)
	}
	recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	_, tops := runlog.Series(recs, TestTop1Key)
	if len(tops) != 2 {
		t.Fatalf("metrics hold %d test evaluations, want one per epoch (2)", len(tops))
	}
}

// The test set is evaluated (and the run checkpointed) on the epochs
// EvalEvery asks for, and always at the end.
func TestEvalEvery(t *testing.T) {
	cases := []struct {
		every  int
		epochs []float64 // epochs with a test evaluation
	}{
		{0, []float64{1, 2, 3}},
		{2, []float64{2, 3}},
		{-1, []float64{3}},
	}
	for _, c := range cases {
		dir := t.TempDir()
		cfg := Config{RunDir: dir, Backbone: tinyBackbone, Epochs: 3, BatchSize: 16, Workers: 1, EvalEvery: c.every}
		res, err := Run(context.Background(), patterns{N: 32, Size: 16}, patterns{N: 8, Size: 16}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		var got []float64
		for _, r := range recs {
			if _, ok := r.Value(TestTop1Key); ok {
				got = append(got, float64(r.Epoch))
			}
		}
		if !slices.Equal(got, c.epochs) || res.Test == nil || res.Steps != 6 || filepath.Base(res.CheckpointDir) != "step-000000006" {
			t.Errorf("EvalEvery %d: evaluations after epochs %v, want %v (steps %d, checkpoint %s)", c.every, got, c.epochs, res.Steps, res.CheckpointDir)
		}
	}
}
