package train_test

import (
	"math"
	"os"
	"path/filepath"
	"selfsup/internal/testsets"
	"testing"

	"selfsup/methods"
	"selfsup/nn"
	"selfsup/runlog"
	"selfsup/train"
)

// patterns is the tiny four-class dataset of the tests (testsets.Patterns).
type patterns = testsets.Patterns

// tinySpec is SimCLR on the small ResNet for 1x16x16 images.
func tinySpec() methods.Spec {
	return methods.Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}}
}

// tinyData has 48 images: three batches of 16 per epoch, so the end of the
// first epoch falls on step 3.
var tinyData = patterns{N: 48, Size: 16}

// tinyConfig is a 6-step run into dir with checkpoints every 2 steps.
func tinyConfig(dir string) train.Config {
	return train.Config{RunDir: dir, Steps: 6, BatchSize: 16, CheckpointEvery: 2, Seed: 7, Workers: 1, WarmupSteps: -1}
}

// weights copies every parameter and buffer of m.
func weights(m methods.Method) map[string][]float32 {
	out := map[string][]float32{}
	for name, t := range nn.StateDict("", m) {
		out[name] = append([]float32(nil), t.Data...)
	}
	return out
}

// sameBits fails t unless a and b hold the same tensors bit for bit.
func sameBits(t *testing.T, a, b map[string][]float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d tensors vs %d", len(a), len(b))
	}
	diffs := 0
	for name, x := range a {
		y, ok := b[name]
		if !ok {
			t.Fatalf("tensor %s missing", name)
		}
		if len(x) != len(y) {
			t.Fatalf("tensor %s: %d vs %d values", name, len(x), len(y))
		}
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				if diffs < 5 {
					t.Errorf("tensor %s[%d]: %v vs %v", name, i, x[i], y[i])
				}
				diffs++
				break
			}
		}
	}
	if diffs > 0 {
		t.Fatalf("%d of %d tensors differ", diffs, len(a))
	}
}

// lossSteps returns the steps of the metrics records that carry a loss (the
// per-step records; epoch summaries carry epoch_loss instead).
func lossSteps(t *testing.T, runDir string) []int64 {
	t.Helper()
	recs, err := runlog.ReadMetrics(filepath.Join(runDir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var steps []int64
	for _, r := range recs {
		if v, ok := r.Value("loss"); ok {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("step %d: loss %v", r.Step, v)
			}
			steps = append(steps, r.Step)
		}
	}
	return steps
}

// wantSteps fails t unless steps is 1..n in order.
func wantSteps(t *testing.T, steps []int64, n int64) {
	t.Helper()
	if int64(len(steps)) != n {
		t.Fatalf("metrics hold loss records for steps %v, want 1..%d", steps, n)
	}
	for i, s := range steps {
		if s != int64(i+1) {
			t.Fatalf("metrics hold loss records for steps %v, want 1..%d", steps, n)
		}
	}
}

// exists fails t unless path is a non-empty file.
func exists(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() == 0 {
		t.Fatalf("%s is empty", path)
	}
}
