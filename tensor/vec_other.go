//go:build !amd64 || purego

package tensor

func vecReLU(x, out []float32) int                  { return 0 }
func vecAddReLU(a, b, out []float32) int            { return 0 }
func vecReLUBack(y, g, dst []float32, acc bool) int { return 0 }
func vecAXPB(x, out []float32, a, b float32) int    { return 0 }
func vecAddTo(dst, src []float32) int               { return 0 }

func vecSum(x []float32) (float32, int)                              { return 0, 0 }
func vecSumSqDev(x []float32, mu float32) (float32, int)             { return 0, 0 }
func vecDotDev(dy, x []float32, mu float32) (float32, float32, int)  { return 0, 0, 0 }
func vecBNBack(dy, x, dx []float32, k1, k3, c float32, acc bool) int { return 0 }
func vecAXPBReLU(x, out []float32, a, b float32) int                 { return 0 }

func copyRuns(dst, src []float32, runs []int32) { copyRunsGo(dst, src, runs) }

func vecGELU(x, out []float32) int                  { return 0 }
func vecGELUBack(x, g, dst []float32, acc bool) int { return 0 }
