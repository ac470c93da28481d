package tensor

import "fmt"

func copyRunsGo(dst, src []float32, runs []int32) {
	for i := 0; i+2 < len(runs); i += 3 {
		d, s, n := int(runs[i]), int(runs[i+1]), int(runs[i+2])
		copy(dst[d:d+n], src[s:s+n])
	}
}

// checkRuns panics unless every run fits dst and src (once per call, so
// the assembly copy never reads or writes out of bounds).
func checkRuns(dstLen, srcLen int, runs []int32) {
	for i := 0; i+2 < len(runs); i += 3 {
		d, s, n := int(runs[i]), int(runs[i+1]), int(runs[i+2])
		if d < 0 || s < 0 || n < 0 || d+n > dstLen || s+n > srcLen {
			panic(fmt.Sprintf("tensor: copy run (%d, %d, %d) out of range (dst %d, src %d)", d, s, n, dstLen, srcLen))
		}
	}
}
