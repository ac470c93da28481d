package tensor

import "unsafe"

// unsafeSlice views n float32s starting at p. Kernels receive packed panels
// as pointers (the assembly calling convention); the Go kernel turns them back
// into bounds-checked slices.
func unsafeSlice(p *float32, n int) []float32 { return unsafe.Slice(p, n) }
