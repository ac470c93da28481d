//go:build amd64 && !purego

package tensor

import (
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/cpu"
)

//go:noescape
func sgemm6x64AVX512(k int, a, b, c *float32, ldc int, load bool)

//go:noescape
func sgemm6x16AVX2(k int, a, b, c *float32, ldc int, load bool)

var (
	avx512Kernel = gemmKernel{name: "avx512", mr: 6, nr: 64, kc: 576, mc: 132, nc: 512, fn: sgemm6x64AVX512}
	avx2Kernel   = gemmKernel{name: "avx2", mr: 6, nr: 16, kc: 256, mc: 120, nc: 1024, fn: sgemm6x16AVX2}
)

// availableKernels lists the micro-kernels this CPU can run, fastest first.
func availableKernels() []gemmKernel {
	var ks []gemmKernel
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		ks = append(ks, avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, portableKernel)
}

func init() {
	if v := os.Getenv("SELFSUP_GEMM_BLOCK"); v != "" {
		var kc, mc, nc int
		if _, err := fmt.Sscanf(v, "%d,%d,%d", &kc, &mc, &nc); err == nil {
			active.kc, active.mc, active.nc = kc, mc, nc
		}
	}
}

// pickKernel takes the fastest kernel, or the one SELFSUP_GEMM names
// ("avx512", "avx2", "go") when it is available.
func pickKernel() gemmKernel {
	ks := availableKernels()
	if want := os.Getenv("SELFSUP_GEMM"); want != "" {
		for _, k := range ks {
			if k.name == want {
				return k
			}
		}
	}
	return ks[0]
}

//go:noescape
func fmaPeakAVX512(n int)

// FMAPeak measures this machine's single-precision FMA throughput in
// GFLOP/s with every worker running independent AVX-512 FMAs for about the
// given duration (0 when the CPU lacks AVX-512). The GEMM benchmarks report
// their share of it.
func FMAPeak(d time.Duration) float64 {
	if !cpu.X86.HasAVX512F {
		return 0
	}
	const iters = 1 << 20
	w := Workers()
	start := time.Now()
	rounds := 0
	for time.Since(start) < d {
		var wg sync.WaitGroup
		for i := 0; i < w; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fmaPeakAVX512(iters)
			}()
		}
		wg.Wait()
		rounds++
	}
	return float64(rounds*w) * iters * 768 / time.Since(start).Seconds() / 1e9
}
