//go:build amd64 && !purego

package tensor

import (
	"os"

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
