package train_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/methods"
	"selfsup/runlog"
	"selfsup/train"
)

// recording wraps a dataset and remembers which images were read.
type recording struct {
	data.Dataset
	mu   sync.Mutex
	read map[int]bool
}

func newRecording(ds data.Dataset) *recording { return &recording{Dataset: ds, read: map[int]bool{}} }

func (r *recording) Image(i int, dst data.Image) (data.Image, error) {
	r.mu.Lock()
	r.read[i] = true
	r.mu.Unlock()
	return r.Dataset.Image(i, dst)
}

// indices returns the images read so far, sorted, and forgets them.
func (r *recording) indices() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for i := range r.read {
		out = append(out, i)
	}
	clear(r.read)
	slices.Sort(out)
	return out
}

// unlabeled hides every label of a dataset.
type unlabeled struct{ data.Dataset }

func (unlabeled) Label(int) int        { return -1 }
func (unlabeled) Classes() []string    { return nil }
func (u unlabeled) Name() string       { return "unlabeled " + u.Dataset.Name() }
func (unlabeled) Shape() (c, h, w int) { return 1, 16, 16 }

// monitorQuery is 32 patterns images that tinyData (the first 48) lacks.
func monitorQuery(t *testing.T) data.Dataset {
	t.Helper()
	idx := make([]int, 32)
	for i := range idx {
		idx[i] = 48 + i
	}
	q, err := data.Subset(patterns{N: 80, Size: 16}, idx)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// tinyMethod builds tinySpec's method with random weights.
func tinyMethod(t *testing.T) methods.Method {
	t.Helper()
	m, err := methods.Build(tinySpec(), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestKNNMonitorRefusesBadSetups(t *testing.T) {
	q := monitorQuery(t)
	cases := []struct {
		name        string
		bank, query data.Dataset
		cfg         train.MonitorConfig
		want        string
	}{
		{"unlabeled bank", unlabeled{tinyData}, q, train.MonitorConfig{}, "bank dataset unlabeled patterns/48 has no labels"},
		{"unlabeled query", tinyData, unlabeled{q}, train.MonitorConfig{}, "query dataset unlabeled"},
		{"no query", tinyData, nil, train.MonitorConfig{}, "both needed"},
		{"negative every", tinyData, q, train.MonitorConfig{Every: -1}, "every -1"},
		{"negative bank", tinyData, q, train.MonitorConfig{BankSize: -5}, "bank -5"},
		{"negative temperature", tinyData, q, train.MonitorConfig{Temperature: -0.1}, "temperature -0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hook, err := train.KNNMonitor(tc.bank, tc.query, tc.cfg)
			if err == nil || hook != nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("hook %v, error %v; want an error mentioning %q", hook != nil, err, tc.want)
			}
		})
	}
}

// TestKNNMonitorMatchesEval: with subsets as large as the data, the monitor
// is eval knn on all of it; it runs only on every Every-th epoch.
func TestKNNMonitorMatchesEval(t *testing.T) {
	m := tinyMethod(t)
	q := monitorQuery(t)
	hook, err := train.KNNMonitor(tinyData, q, train.MonitorConfig{Every: 2, BankSize: 1000, QuerySize: 1000, K: 10})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := hook(1, m); err != nil || out != nil {
		t.Fatalf("epoch 1 of every 2: %v, %v; want nothing", out, err)
	}
	m.SetTraining(true)
	out, err := hook(2, m)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := out[train.KNNTop1Key]
	if !ok || len(out) != 1 {
		t.Fatalf("epoch 2: %v, want only %s", out, train.KNNTop1Key)
	}

	ctx := context.Background()
	b, err := eval.Extract(ctx, m.Encoder(), tinyData, eval.ExtractConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := eval.Extract(ctx, m.Encoder(), q, eval.ExtractConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := eval.DefaultKNNConfig()
	cfg.K = 10
	want, err := eval.KNN(b.X, b.Labels, f.X, f.Labels, 4, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got != want.Top1 {
		t.Errorf("monitor top-1 %v, eval.KNN on the same images %v", got, want.Top1)
	}
	// Four distinct patterns: even random convolutional features beat
	// chance (0.25) by far.
	if got < 0.5 || got > 1 {
		t.Errorf("top-1 %v, want in [0.5, 1]", got)
	}
}

// TestKNNMonitorSubsets: the subsets are class-balanced, of the requested
// size, fixed at construction and reproducible from the seed.
func TestKNNMonitorSubsets(t *testing.T) {
	m := tinyMethod(t)
	bank, query := newRecording(patterns{N: 80, Size: 16}), newRecording(monitorQuery(t))
	picks := func(seed uint64) (b, q []int) {
		t.Helper()
		hook, err := train.KNNMonitor(bank, query, train.MonitorConfig{BankSize: 20, QuerySize: 8, Seed: seed, K: 5})
		if err != nil {
			t.Fatal(err)
		}
		for epoch := 1; epoch <= 2; epoch++ {
			if _, err := hook(epoch, m); err != nil {
				t.Fatal(err)
			}
			nb, nq := bank.indices(), query.indices()
			if epoch > 1 && (!slices.Equal(nb, b) || !slices.Equal(nq, q)) {
				t.Errorf("seed %d: epoch %d read bank %v query %v, epoch 1 %v and %v", seed, epoch, nb, nq, b, q)
			}
			b, q = nb, nq
		}
		return b, q
	}
	b1, q1 := picks(1)
	if len(b1) != 20 || len(q1) != 8 {
		t.Fatalf("read %d bank and %d query images, want 20 and 8", len(b1), len(q1))
	}
	perClass := map[int]int{}
	for _, i := range b1 {
		perClass[i%4]++
	}
	if fmt.Sprint(perClass) != "map[0:5 1:5 2:5 3:5]" {
		t.Errorf("bank images per class %v, want 5 each", perClass)
	}
	if b, q := picks(1); !slices.Equal(b, b1) || !slices.Equal(q, q1) {
		t.Errorf("seed 1 again picked %v and %v, first %v and %v", b, q, b1, q1)
	}
	if b, _ := picks(2); slices.Equal(b, b1) {
		t.Errorf("seeds 1 and 2 picked the same bank %v", b)
	}
}

func TestKNNMonitorCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hook, err := train.KNNMonitor(tinyData, monitorQuery(t), train.MonitorConfig{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := hook(1, tinyMethod(t)); out != nil || err != nil {
		t.Errorf("cancelled: %v, %v; want nothing", out, err)
	}
}

// TestKNNMonitorInRun: the hook's accuracy lands in the epoch records of a
// training run.
func TestKNNMonitorInRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(dir)
	hook, err := train.KNNMonitor(tinyData, monitorQuery(t), train.MonitorConfig{K: 10})
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnEpoch = hook
	if _, err := train.Run(context.Background(), tinySpec(), tinyData, cfg); err != nil {
		t.Fatal(err)
	}
	recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var at []int64
	for _, r := range recs {
		if v, ok := r.Value(train.KNNTop1Key); ok {
			if _, ok := r.Value("epoch_loss"); !ok || v < 0 || v > 1 {
				t.Errorf("record at step %d: %s %v, epoch_loss present %v", r.Step, train.KNNTop1Key, v, ok)
			}
			at = append(at, r.Step)
		}
	}
	if !slices.Equal(at, []int64{3, 6}) {
		t.Errorf("%s logged at steps %v, want 3 and 6 (the two epoch ends)", train.KNNTop1Key, at)
	}
}
