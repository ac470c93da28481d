package loader

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"selfsup/data"
	"selfsup/data/augment"
	"selfsup/tensor"
)

// collect runs one epoch and returns its batches (not released).
func collect(t *testing.T, l *Loader, epoch int) []Batch {
	t.Helper()
	var out []Batch
	it := l.Epoch(context.Background(), epoch)
	defer it.Close()
	for {
		b, err := it.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

func mustNew(t *testing.T, ds data.Dataset, cfg Config) *Loader {
	t.Helper()
	l, err := New(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestBatchShapesAndLabels(t *testing.T) {
	ds := &fakeDS{n: 23, c: 3, h: 16, w: 16}
	for _, dropLast := range []bool{false, true} {
		l := mustNew(t, ds, Config{BatchSize: 5, Views: twoViews(), Shuffle: true, DropLast: dropLast, Seed: 1, Workers: 2})
		batches := collect(t, l, 0)
		wantSteps := map[bool]int{false: 5, true: 4}[dropLast]
		if len(batches) != wantSteps || l.StepsPerEpoch() != wantSteps {
			t.Fatalf("DropLast=%v: %d batches, StepsPerEpoch %d, want %d", dropLast, len(batches), l.StepsPerEpoch(), wantSteps)
		}
		for s, b := range batches {
			n := 5
			if s == 4 {
				n = 3
			}
			if b.Step != s || b.Epoch != 0 || b.Len() != n || len(b.Labels) != n {
				t.Fatalf("batch %d: step %d epoch %d len %d labels %d, want %d rows", s, b.Step, b.Epoch, b.Len(), len(b.Labels), n)
			}
			for v, want := range [][]int{{n, 3, 12, 12}, {n, 3, 6, 6}} {
				if !tensor.SameShape(b.Views[v].Shape(), want) {
					t.Fatalf("batch %d view %d shape %v, want %v", s, v, b.Views[v].Shape(), want)
				}
			}
			for k, i := range b.Indices {
				if b.Labels[k] != ds.Label(i) {
					t.Fatalf("batch %d row %d: label %d for index %d, want %d", s, k, b.Labels[k], i, ds.Label(i))
				}
			}
			l.Release(b)
		}
	}
}

func TestEpochCoverage(t *testing.T) {
	ds := &fakeDS{n: 37, c: 1, h: 4, w: 4}
	cases := []struct {
		name     string
		shuffle  bool
		dropLast bool
		want     int // distinct indices per epoch
	}{
		{"shuffled", true, false, 37},
		{"in order", false, false, 37},
		{"shuffled, drop last", true, true, 32},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := mustNew(t, ds, Config{BatchSize: 8, Views: []augment.Transform{augment.Compose()}, Shuffle: tc.shuffle, DropLast: tc.dropLast, Seed: 9, Workers: 3})
			var orders [][]int
			for epoch := range 2 {
				seen := map[int]int{}
				var ord []int
				for _, b := range collect(t, l, epoch) {
					for _, i := range b.Indices {
						seen[i]++
						ord = append(ord, i)
					}
					l.Release(b)
				}
				if len(ord) != tc.want || len(seen) != tc.want {
					t.Fatalf("epoch %d: %d rows, %d distinct, want %d", epoch, len(ord), len(seen), tc.want)
				}
				for i, c := range seen {
					if c != 1 || i < 0 || i >= ds.n {
						t.Fatalf("index %d seen %d times", i, c)
					}
				}
				if want := l.Order(epoch)[:tc.want]; !equalInts(ord, want) {
					t.Fatalf("epoch %d visits %v, Order says %v", epoch, ord, want)
				}
				orders = append(orders, ord)
			}
			switch {
			case tc.shuffle && equalInts(orders[0], orders[1]):
				t.Error("two shuffled epochs have the same order")
			case !tc.shuffle && !equalInts(orders[0], seq(37)):
				t.Errorf("unshuffled order %v", orders[0])
			}
		})
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestContentsAreTheAugmentedImages rebuilds every row independently: view
// v of image i in epoch e is the pipeline applied with SampleSeed's
// generator.
func TestContentsAreTheAugmentedImages(t *testing.T) {
	ds := &fakeDS{n: 10, c: 3, h: 16, w: 16}
	views := twoViews()
	l := mustNew(t, ds, Config{BatchSize: 4, Views: views, Shuffle: true, Seed: 3, Workers: 2})
	for _, b := range collect(t, l, 2) {
		for k, i := range b.Indices {
			img, _ := ds.Image(i, data.Image{})
			for v, p := range views {
				want := p.Apply(data.Image{}, img, rand.New(rand.NewPCG(SampleSeed(3, 2, i, v))))
				n := len(want.Pix)
				got := b.Views[v].Data[k*n : (k+1)*n]
				for j := range got {
					if got[j] != want.Pix[j] {
						t.Fatalf("epoch 2 image %d view %d element %d: %v, want %v", i, v, j, got[j], want.Pix[j])
					}
				}
			}
		}
		l.Release(b)
	}
}

func TestReproducibleAcrossWorkers(t *testing.T) {
	ds := &fakeDS{n: 29, c: 3, h: 16, w: 16}
	run := func(workers, prefetch int, seed uint64) []Batch {
		l := mustNew(t, ds, Config{BatchSize: 6, Views: twoViews(), Shuffle: true, Seed: seed, Workers: workers, Prefetch: prefetch})
		return collect(t, l, 1)
	}
	a, b, c := run(1, 1, 5), run(3, 4, 5), run(2, 2, 6)
	if len(a) != len(b) {
		t.Fatalf("%d vs %d batches", len(a), len(b))
	}
	for s := range a {
		if !equalInts(a[s].Indices, b[s].Indices) || !equalInts(a[s].Labels, b[s].Labels) {
			t.Fatalf("batch %d: indices or labels differ between 1 and 3 workers", s)
		}
		for v := range a[s].Views {
			if !slices.Equal(a[s].Views[v].Data, b[s].Views[v].Data) {
				t.Fatalf("batch %d view %d differs between 1 and 3 workers", s, v)
			}
		}
	}
	if slices.Equal(a[0].Views[0].Data, c[0].Views[0].Data) {
		t.Error("another seed gave the same first batch")
	}
}

func TestResume(t *testing.T) {
	ds := &fakeDS{n: 30, c: 1, h: 8, w: 8}
	cfg := Config{BatchSize: 4, Views: []augment.Transform{augment.SimCLR(8, 0.5)}, Shuffle: true, Seed: 4, Workers: 2}
	l := mustNew(t, ds, cfg)
	full := collect(t, l, 3)
	it := l.Resume(context.Background(), 3, 5)
	defer it.Close()
	for s := 5; s < len(full); s++ {
		b, err := it.Next()
		if err != nil {
			t.Fatalf("step %d: %v", s, err)
		}
		if b.Step != s || !equalInts(b.Indices, full[s].Indices) || !slices.Equal(b.Views[0].Data, full[s].Views[0].Data) {
			t.Fatalf("resumed step %d differs from the full epoch's", s)
		}
	}
	if _, err := it.Next(); err != io.EOF {
		t.Fatalf("after the last batch: %v, want io.EOF", err)
	}
}

func TestErrorPropagation(t *testing.T) {
	base := runtime.NumGoroutine()
	ds := &fakeDS{n: 40, c: 3, h: 8, w: 8, bad: map[int]bool{13: true, 27: true}}
	l := mustNew(t, ds, Config{BatchSize: 4, Views: []augment.Transform{augment.Compose()}, Workers: 3})
	it := l.Epoch(context.Background(), 0)
	var err error
	good := 0
	for err == nil {
		var b Batch
		b, err = it.Next()
		if err == nil {
			good++
			l.Release(b)
		}
	}
	// Without shuffling, image 13 is in batch 3.
	if good != 3 || !strings.Contains(err.Error(), "fake/img0013.png: corrupt PNG header") || !strings.Contains(err.Error(), "image 13") {
		t.Fatalf("after %d good batches: %v", good, err)
	}
	if _, again := it.Next(); again != err {
		t.Fatalf("second Next gave %v, want the same error", again)
	}
	it.Close()
	goroutinesSettle(t, base)
}

// panicky is a transform with a bug.
type panicky struct{}

func (panicky) Apply(dst, src data.Image, r *rand.Rand) data.Image { panic("index out of range") }
func (panicky) OutShape(c, h, w int) (int, int, int, error)        { return c, h, w, nil }

// growing returns one more column than it promised for odd images.
type growing struct{}

func (growing) Apply(dst, src data.Image, r *rand.Rand) data.Image {
	return augment.CenterCrop{Size: src.H + src.H%2}.Apply(dst, src, r)
}
func (growing) OutShape(c, h, w int) (int, int, int, error) { return c, h, w, nil }

func TestWorkerFailuresBecomeErrors(t *testing.T) {
	cases := []struct {
		name string
		ds   data.Dataset
		view augment.Transform
		want string
	}{
		{"panic", &fakeDS{n: 8, c: 1, h: 4, w: 4}, panicky{}, "fake/train image 0 view 0: augmentation panicked: index out of range"},
		{"varying output size", &fakeDS{n: 8, c: 1, sizes: []int{4, 5}}, growing{}, "image 1 (1x5x5): view 0 produced 1x6x6, the batch holds 1x4x4"},
		{"identity on varying images", &fakeDS{n: 8, c: 3, sizes: []int{10, 12}}, augment.Compose(), "image 1 (3x12x12): view 0 produced 3x12x12, the batch holds 3x10x10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			l := mustNew(t, tc.ds, Config{BatchSize: 4, Views: []augment.Transform{tc.view}, Workers: 2})
			var err error
			for b, e := range l.Batches(context.Background(), 0) {
				if e != nil {
					err = e
					break
				}
				l.Release(b)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			goroutinesSettle(t, base)
		})
	}
}

func TestCancellationAndClose(t *testing.T) {
	ds := &fakeDS{n: 200, c: 3, h: 16, w: 16}
	cfg := Config{BatchSize: 8, Views: twoViews(), Shuffle: true, Workers: 3, Prefetch: 3}
	l := mustNew(t, ds, cfg)

	t.Run("cancel", func(t *testing.T) {
		base := runtime.NumGoroutine()
		ctx, cancel := context.WithCancel(context.Background())
		it := l.Epoch(ctx, 0)
		b, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		l.Release(b)
		cancel()
		if _, err := it.Next(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Next after cancel: %v", err)
		}
		it.Close()
		goroutinesSettle(t, base)
	})
	t.Run("close early", func(t *testing.T) {
		base := runtime.NumGoroutine()
		it := l.Epoch(context.Background(), 1)
		b, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		l.Release(b)
		it.Close()
		it.Close()
		if _, err := it.Next(); err != ErrClosed {
			t.Fatalf("Next after Close: %v", err)
		}
		goroutinesSettle(t, base)
	})
	t.Run("break out of range", func(t *testing.T) {
		base := runtime.NumGoroutine()
		n := 0
		for b, err := range l.Batches(context.Background(), 2) {
			if err != nil {
				t.Fatal(err)
			}
			l.Release(b)
			if n++; n == 2 {
				break
			}
		}
		goroutinesSettle(t, base)
	})
	t.Run("end of epoch", func(t *testing.T) {
		base := runtime.NumGoroutine()
		steps := 0
		for b, err := range l.Batches(context.Background(), 3) {
			if err != nil {
				t.Fatal(err)
			}
			l.Release(b)
			steps++
		}
		if steps != l.StepsPerEpoch() {
			t.Fatalf("%d steps, want %d", steps, l.StepsPerEpoch())
		}
		goroutinesSettle(t, base)
	})
}

func TestReleaseRecyclesBuffers(t *testing.T) {
	ds := &fakeDS{n: 64, c: 3, h: 16, w: 16}
	l := mustNew(t, ds, Config{BatchSize: 16, Views: twoViews(), Workers: 2, DropLast: true})
	b := collect(t, l, 0)[0]
	first := &b.Views[0].Data[0]
	l.Release(b)
	if b.Views[0].Data != nil {
		t.Fatal("Release left the tensor's data in place")
	}
	// The pool hands the same buffer back out for the next batch of that
	// shape (other buffers of the size may sit in the pool too).
	found := false
	for _, nb := range collect(t, l, 1) {
		found = found || &nb.Views[0].Data[0] == first
		l.Release(nb)
	}
	if !found {
		t.Error("released buffer was not reused")
	}
}

func TestConfigErrors(t *testing.T) {
	ds := &fakeDS{n: 10, c: 1, h: 28, w: 28}
	simclr := []augment.Transform{augment.SimCLR(28, 0.5)}
	cases := []struct {
		name string
		ds   data.Dataset
		cfg  Config
		want string
	}{
		{"nil dataset", nil, Config{BatchSize: 2, Views: simclr}, "nil dataset"},
		{"batch size", ds, Config{Views: simclr}, "batch size 0"},
		{"no views", ds, Config{BatchSize: 2}, "no views"},
		{"nil view", ds, Config{BatchSize: 2, Views: []augment.Transform{nil}}, "view 0 is nil"},
		{"negative workers", ds, Config{BatchSize: 2, Views: simclr, Workers: -1}, "worker count"},
		{"empty dataset", &fakeDS{c: 1, h: 2, w: 2}, Config{BatchSize: 2, Views: simclr}, "fake/train is empty"},
		{"drop last, too few", ds, Config{BatchSize: 11, DropLast: true, Views: simclr}, "fewer than one batch"},
		{"normalise channels", ds, Config{BatchSize: 2, Views: []augment.Transform{augment.MoCoV2(28)}}, "3 means for a 1-channel image"},
		{"view shapes count", ds, Config{BatchSize: 2, Views: simclr, ViewShapes: [][3]int{{1, 28, 28}, {1, 28, 28}}}, "2 view shapes for 1 views"},
		{"view shape mismatch", ds, Config{BatchSize: 2, Views: simclr, ViewShapes: [][3]int{{1, 32, 32}}}, "view 0 produces 1x28x28 images, the configuration expects 1x32x32"},
		{"probe fails", &fakeDS{n: 4, c: 3, sizes: []int{8}, bad: map[int]bool{0: true}}, Config{BatchSize: 2, Views: simclr}, "reading image 0 to size the views: fake/img0000.png"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.ds, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestVaryingSizesWithFixedCrop(t *testing.T) {
	ds := &fakeDS{n: 9, c: 3, sizes: []int{20, 31, 12}}
	l := mustNew(t, ds, Config{BatchSize: 3, Views: []augment.Transform{augment.SimCLR(16, 1), augment.Eval(16)}, Workers: 2})
	if got := l.ViewShapes(); got[0] != [3]int{3, 16, 16} || got[1] != [3]int{3, 16, 16} {
		t.Fatalf("view shapes %v", got)
	}
	for _, b := range collect(t, l, 0) {
		if !tensor.SameShape(b.Views[1].Shape(), []int{3, 3, 16, 16}) {
			t.Fatalf("eval view shape %v", b.Views[1].Shape())
		}
		l.Release(b)
	}
}

func TestThroughput(t *testing.T) {
	ds := &fakeDS{n: 50, c: 3, h: 32, w: 32}
	vps, err := Throughput(ds, Config{BatchSize: 16, Views: twoViews(), Shuffle: true, Workers: 2}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !(vps > 0) {
		t.Fatalf("throughput %v views/s", vps)
	}
	if _, err := Throughput(ds, Config{BatchSize: 16, Views: twoViews()}, 0); err == nil {
		t.Fatal("no error for 0 batches")
	}
}

// BenchmarkLoader measures data-only throughput of two SimCLR views of
// CIFAR-sized images; b.N counts batches of 64 images.
func BenchmarkLoader(b *testing.B) {
	ds := &fakeDS{n: 512, c: 3, h: 32, w: 32}
	p := augment.SimCLR(32, 0.5)
	l, err := New(ds, Config{BatchSize: 64, Views: []augment.Transform{p, p}, Shuffle: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	views := 0
	ctx := context.Background()
	it := l.Epoch(ctx, 0)
	epoch := 0
	for b.Loop() {
		bt, err := it.Next()
		if err == io.EOF {
			it.Close()
			epoch++
			it = l.Epoch(ctx, epoch)
			bt, err = it.Next()
		}
		if err != nil {
			b.Fatal(err)
		}
		views += bt.Len() * len(bt.Views)
		l.Release(bt)
	}
	it.Close()
	b.ReportMetric(float64(views)/b.Elapsed().Seconds(), "views/s")
}
