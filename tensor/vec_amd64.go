//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

//go:noescape
func reluAVX2(x, out *float32, n int)

//go:noescape
func addReluAVX2(a, b, out *float32, n int)

//go:noescape
func reluBackAVX2(y, grad, dst *float32, n int, acc bool)

//go:noescape
func axpbAVX2(x, out *float32, n int, a, b float32)

//go:noescape
func addToAVX2(dst, src *float32, n int)

var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// The vector paths handle the largest multiple of 32 elements; the caller
// finishes the rest in Go. Each returns how many elements it did.

func vecReLU(x, out []float32) int {
	n := len(x) &^ 31
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = out[n-1]
	reluAVX2(&x[0], &out[0], n)
	return n
}

func vecAddReLU(a, b, out []float32) int {
	n := len(a) &^ 31
	if !haveAVX2 || n == 0 {
		return 0
	}
	_, _ = b[n-1], out[n-1]
	addReluAVX2(&a[0], &b[0], &out[0], n)
	return n
}

func vecReLUBack(y, g, dst []float32, acc bool) int {
	n := len(y) &^ 31
	if !haveAVX2 || n == 0 {
		return 0
	}
	_, _ = g[n-1], dst[n-1]
	reluBackAVX2(&y[0], &g[0], &dst[0], n, acc)
	return n
}

func vecAXPB(x, out []float32, a, b float32) int {
	n := len(x) &^ 31
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = out[n-1]
	axpbAVX2(&x[0], &out[0], n, a, b)
	return n
}

func vecAddTo(dst, src []float32) int {
	n := len(dst) &^ 31
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = src[n-1]
	addToAVX2(&dst[0], &src[0], n)
	return n
}
