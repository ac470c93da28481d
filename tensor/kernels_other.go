//go:build !amd64 || purego

package tensor

import "time"

func availableKernels() []gemmKernel { return []gemmKernel{portableKernel} }

func pickKernel() gemmKernel { return portableKernel }

// FMAPeak is 0 where the AVX-512 peak test does not exist.
func FMAPeak(time.Duration) float64 { return 0 }
