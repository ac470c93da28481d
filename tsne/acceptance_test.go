package tsne_test

import (
	"context"
	"os"
	"testing"
	"time"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/tsne"
)

// slowTest skips t unless SELFSUP_SLOW=1 is set and -short is not: these
// tests embed thousands of MNIST images and take tens of seconds to
// minutes.
func slowTest(t *testing.T) {
	t.Helper()
	if testing.Short() || os.Getenv("SELFSUP_SLOW") != "1" {
		t.Skip("slow: set SELFSUP_SLOW=1 (and leave out -short) to run")
	}
}

// mnistPixels returns the raw pixels of n test images of MNIST (a seeded
// random subset) with their labels.
func mnistPixels(t *testing.T, n int) *eval.Features {
	t.Helper()
	ds, err := data.Open("mnist", data.OpenOptions{Split: "test", Subset: n})
	if err != nil {
		t.Fatal(err)
	}
	f, err := eval.PixelFeatures(ds)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// embedAndScore embeds f with cfg and returns the leave-one-out 5-NN
// accuracy in the plane and the time t-SNE took.
func embedAndScore(t *testing.T, f *eval.Features, cfg tsne.Config) (*tsne.Result, float64, time.Duration) {
	t.Helper()
	start := time.Now()
	res, err := tsne.Embed(context.Background(), f.X, cfg)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	knn := eval.MajorityKNNConfig(5)
	knn.ExcludeSelf = true
	ev, err := eval.KNN(res.Y, f.Labels, res.Y, f.Labels, 10, knn)
	if err != nil {
		t.Fatal(err)
	}
	return res, ev.Top1, took
}

// TestMNIST2000Exact is the acceptance test of the exact method: 2000 MNIST
// test images from raw pixels, 5-NN accuracy in the plane >= 0.85 in under
// a minute on two cores.
func TestMNIST2000Exact(t *testing.T) {
	slowTest(t)
	f := mnistPixels(t, 2000)
	res, acc, took := embedAndScore(t, f, tsne.Config{})
	t.Logf("%v t-SNE of 2000 MNIST test images: 5-NN accuracy %.4f, KL %.4f, %v", res.Method, acc, res.KL, took.Round(time.Millisecond))
	if res.Method != tsne.Exact {
		t.Errorf("method %v, want exact", res.Method)
	}
	if acc < 0.85 {
		t.Errorf("5-NN accuracy %.4f, want >= 0.85", acc)
	}
	if took > time.Minute {
		t.Errorf("took %v, want under a minute", took)
	}
}

// TestMNIST10000BarnesHut embeds the whole MNIST test set with Barnes-Hut
// (the default above 5000 points): a few minutes at most.
func TestMNIST10000BarnesHut(t *testing.T) {
	slowTest(t)
	f := mnistPixels(t, 10000)
	res, acc, took := embedAndScore(t, f, tsne.Config{})
	t.Logf("%v t-SNE of 10000 MNIST test images: 5-NN accuracy %.4f, KL %.4f, %v", res.Method, acc, res.KL, took.Round(time.Millisecond))
	if res.Method != tsne.BarnesHut {
		t.Errorf("method %v, want barnes-hut", res.Method)
	}
	if acc < 0.85 {
		t.Errorf("5-NN accuracy %.4f, want >= 0.85", acc)
	}
	if took > 5*time.Minute {
		t.Errorf("took %v, want at most 5 minutes", took)
	}
}
