package tsne

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/tensor"
)

// TestEmbedSeparatesClusters embeds three well-separated Gaussian clusters
// with every method and initialisation: the 5-NN accuracy in the plane must
// be (nearly) perfect. The 60-D input also exercises the PCA to 50.
func TestEmbedSeparatesClusters(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	x, labels := gaussianClusters(rng, 300, 60, 3, 8)
	cases := []struct {
		name string
		cfg  Config
		want Method
	}{
		{"auto is exact", Config{}, Exact},
		{"barnes-hut", Config{Method: BarnesHut}, BarnesHut},
		{"pca init", Config{Init: InitPCA}, Exact},
		{"no pca, perplexity 10", Config{PCADims: -1, Perplexity: 10, Iterations: 500}, Exact},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var kls []float64
			c.cfg.Progress = func(p Progress) { kls = append(kls, p.KL) }
			res, err := Embed(context.Background(), x, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Method != c.want {
				t.Errorf("method %v, want %v", res.Method, c.want)
			}
			wantDims := 50
			if c.cfg.PCADims < 0 {
				wantDims = 60
			}
			if res.InputDims != wantDims || res.LearningRate != 50 {
				t.Errorf("input dims %d, learning rate %v: want %d and 50", res.InputDims, res.LearningRate, wantDims)
			}
			if acc := knnAccuracy(t, res.Y, labels, 5); acc < 0.99 {
				t.Errorf("5-NN accuracy %.3f, want >= 0.99", acc)
			}
			iters := c.cfg.Iterations
			if iters == 0 {
				iters = DefaultIterations
			}
			if len(kls) != iters/DefaultProgressEvery {
				t.Fatalf("%d progress reports, want %d", len(kls), iters/DefaultProgressEvery)
			}
			// The KL divergence falls once exaggeration is over.
			last := kls[len(kls)-1]
			if last != res.KL || !(last < kls[DefaultExaggerationIters/DefaultProgressEvery]) || !(last > 0) {
				t.Errorf("KL over the run %v, result %v: want positive, falling after exaggeration", kls, res.KL)
			}
			// Centred embedding.
			var mx, my float64
			for i := 0; i < 300; i++ {
				mx += float64(res.Y.Data[2*i])
				my += float64(res.Y.Data[2*i+1])
			}
			if math.Abs(mx/300) > 1e-3 || math.Abs(my/300) > 1e-3 {
				t.Errorf("embedding mean (%v, %v), want 0", mx/300, my/300)
			}
		})
	}
}

// TestEmbedDeterministic: the same seed gives the same embedding, another
// seed another one.
func TestEmbedDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	x, _ := gaussianClusters(rng, 120, 8, 3, 5)
	for _, m := range []Method{Exact, BarnesHut} {
		run := func(seed uint64) *tensor.Tensor {
			res, err := Embed(context.Background(), x, Config{Method: m, Iterations: 300, Perplexity: 10, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			return res.Y
		}
		a, b, c := run(1), run(1), run(2)
		same, differ := true, false
		for i := range a.Data {
			same = same && a.Data[i] == b.Data[i]
			differ = differ || a.Data[i] != c.Data[i]
		}
		if !same || !differ {
			t.Errorf("%v: same seed identical %v (want true), other seed differs %v (want true)", m, same, differ)
		}
	}
}

func TestEmbedBadInput(t *testing.T) {
	x := tensor.New(100, 3)
	for i := range x.Data {
		x.Data[i] = float32(i % 7)
	}
	nan := tensor.New(10, 2)
	nan.Data[5] = float32(math.Inf(1))
	cases := []struct {
		name string
		x    *tensor.Tensor
		cfg  Config
		want string
	}{
		{"nil", nil, Config{}, "nil"},
		{"3-D", tensor.New(4, 3, 2), Config{}, "2-D"},
		{"infinite", nan, Config{Perplexity: 2}, "+Inf at row 2, column 1"},
		{"perplexity too high", x, Config{Perplexity: 40}, "perplexity 40 is too high for 100 points: it must be below (N-1)/3 = 33"},
		{"perplexity at the limit", x, Config{Perplexity: 33}, "below (N-1)/3 = 33"},
		{"perplexity below 1", x, Config{Perplexity: 0.5}, "perplexity is 0.5"},
		{"too few points", tensor.New(4, 2), Config{Perplexity: 1}, "too few"},
		{"negative iterations", x, Config{Iterations: -1}, "iterations"},
		{"negative learning rate", x, Config{LearningRate: -1}, "learning rate"},
		{"NaN learning rate", x, Config{LearningRate: math.NaN()}, "learning rate"},
		{"exaggeration below 1", x, Config{Exaggeration: 0.5}, "exaggeration"},
		{"negative theta", x, Config{Theta: -0.1}, "theta"},
		{"unknown method", x, Config{Method: 7}, "unknown method"},
		{"unknown init", x, Config{Init: 3}, "unknown initialisation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Embed(context.Background(), c.x, c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestEmbedCancelled(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	x, _ := gaussianClusters(rng, 60, 4, 2, 5)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := Embed(ctx, x, Config{Perplexity: 5, ProgressEvery: 10, Progress: func(Progress) {
		calls++
		cancel()
	}})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("error %v after %d progress calls, want context.Canceled after 1", err, calls)
	}
}

// TestEmbedDiverges: an absurd learning rate must be reported, not
// returned as an embedding of NaNs.
func TestEmbedDiverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	x, _ := gaussianClusters(rng, 60, 4, 2, 5)
	_, err := Embed(context.Background(), x, Config{Perplexity: 5, LearningRate: 1e300, Iterations: 100})
	if err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Errorf("error %v, want a divergence", err)
	}
}
