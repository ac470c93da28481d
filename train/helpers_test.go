package train_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"selfsup/data"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/runlog"
	"selfsup/train"
)

// patterns is a tiny in-memory labelled dataset for training tests: n
// grayscale size x size images of four classes (horizontal stripes,
// vertical stripes, a checkerboard, a centred square), each with its own
// phase and brightness so no two images are equal.
type patterns struct {
	n, size int
}

func (p patterns) Name() string         { return fmt.Sprintf("patterns/%d", p.n) }
func (p patterns) Len() int             { return p.n }
func (p patterns) Label(i int) int      { return i % 4 }
func (p patterns) Classes() []string    { return []string{"rows", "cols", "checker", "square"} }
func (p patterns) Shape() (c, h, w int) { return 1, p.size, p.size }

func (p patterns) Image(i int, dst data.Image) (data.Image, error) {
	if i < 0 || i >= p.n {
		return dst, fmt.Errorf("%s: image index %d out of range [0, %d)", p.Name(), i, p.n)
	}
	s := p.size
	if cap(dst.Pix) < s*s {
		dst = data.NewImage(1, s, s)
	}
	dst = data.Image{C: 1, H: s, W: s, Pix: dst.Pix[:s*s]}
	phase := i / 4
	level := 0.4 + 0.6*float32(i%7)/6
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			var on bool
			switch i % 4 {
			case 0:
				on = (y+phase)%4 < 2
			case 1:
				on = (x+phase)%4 < 2
			case 2:
				on = (x/2+y/2+phase)%2 == 0
			case 3:
				d := s/4 + phase%3
				on = x >= d && x < s-d && y >= d && y < s-d
			}
			v := float32(0.05)
			if on {
				v = level
			}
			dst.Pix[y*s+x] = v
		}
	}
	return dst, nil
}

// tinySpec is SimCLR on the small ResNet for 1x16x16 images.
func tinySpec() methods.Spec {
	return methods.Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}}
}

// tinyData has 48 images: three batches of 16 per epoch, so the end of the
// first epoch falls on step 3.
var tinyData = patterns{n: 48, size: 16}

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
