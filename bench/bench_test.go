package bench

import (
	"strings"
	"testing"
)

func TestRunRejectsBadInput(t *testing.T) {
	if _, err := Run("nope", DefaultOptions); err == nil || !strings.Contains(err.Error(), "unknown workload") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Run("simclr-resnet-small", Options{Batch: 1, Iters: 1}); err == nil {
		t.Fatal("batch 1 accepted")
	}
}

func TestEveryWorkloadRunsAStep(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, w := range Workloads() {
		r, err := Run(w, Options{Batch: 4, Warmup: 0, Iters: 1})
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		if r.Throughput <= 0 || r.Workload != w {
			t.Fatalf("%s: %+v", w, r)
		}
	}
}

// BenchmarkWorkloads runs one step per iteration of each workload (for
// profiling with -cpuprofile; `selfsup bench` is the measurement).
func BenchmarkWorkloads(b *testing.B) {
	for _, w := range Workloads() {
		b.Run(w, func(b *testing.B) {
			step, _, err := workloads[w].setup(DefaultOptions)
			if err != nil {
				b.Fatal(err)
			}
			step()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := step(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
