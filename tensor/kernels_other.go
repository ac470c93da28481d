//go:build !amd64 || purego

package tensor

func availableKernels() []gemmKernel { return []gemmKernel{portableKernel} }

func pickKernel() gemmKernel { return portableKernel }
