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

//go:noescape
func sumAVX2(x *float32, n int) float32

//go:noescape
func sumSqDevAVX2(x *float32, n int, mu float32) float32

//go:noescape
func dotDevAVX2(dy, x *float32, n int, mu float32) (sdy, sdyx float32)

//go:noescape
func bnBackAVX2(dy, x, dx *float32, n int, k1, k3, c float32, acc bool)

//go:noescape
func axpbReluAVX2(x, out *float32, n int, a, b float32)

func vecSum(x []float32) (float32, int) {
	n := len(x) &^ 31
	if !haveAVX2 || n == 0 {
		return 0, 0
	}
	return sumAVX2(&x[0], n), n
}

func vecSumSqDev(x []float32, mu float32) (float32, int) {
	n := len(x) &^ 31
	if !haveAVX2 || n == 0 {
		return 0, 0
	}
	return sumSqDevAVX2(&x[0], n, mu), n
}

func vecDotDev(dy, x []float32, mu float32) (float32, float32, int) {
	n := len(x) &^ 15
	if !haveAVX2 || n == 0 {
		return 0, 0, 0
	}
	_ = dy[n-1]
	a, b := dotDevAVX2(&dy[0], &x[0], n, mu)
	return a, b, n
}

func vecBNBack(dy, x, dx []float32, k1, k3, c float32, acc bool) int {
	n := len(x) &^ 15
	if !haveAVX2 || n == 0 {
		return 0
	}
	_, _ = dy[n-1], dx[n-1]
	bnBackAVX2(&dy[0], &x[0], &dx[0], n, k1, k3, c, acc)
	return n
}

func vecAXPBReLU(x, out []float32, a, b float32) int {
	n := len(x) &^ 31
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = out[n-1]
	axpbReluAVX2(&x[0], &out[0], n, a, b)
	return n
}

//go:noescape
func copyRunsAVX512(dst, src *float32, runs *int32, nruns int)

var haveAVX512 = cpu.X86.HasAVX512F

// copyRuns copies runs of floats: for each (dstOff, srcOff, n) triple,
// dst[dstOff:dstOff+n] = src[srcOff:srcOff+n]. The caller guarantees the
// bounds (checked once by checkRuns).
func copyRuns(dst, src []float32, runs []int32) {
	if haveAVX512 && len(runs) > 0 {
		copyRunsAVX512(&dst[0], &src[0], &runs[0], len(runs)/3)
		return
	}
	copyRunsGo(dst, src, runs)
}
