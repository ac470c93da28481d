//go:build !amd64 || purego

package tensor

func vecReLU(x, out []float32) int                  { return 0 }
func vecAddReLU(a, b, out []float32) int            { return 0 }
func vecReLUBack(y, g, dst []float32, acc bool) int { return 0 }
func vecAXPB(x, out []float32, a, b float32) int    { return 0 }
func vecAddTo(dst, src []float32) int               { return 0 }
