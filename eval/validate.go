package eval

import (
	"fmt"
	"math"

	"selfsup/tensor"
)

// checkFeatures verifies that x is a finite 2-D [N, D] tensor with N >= 1 and
// D >= 1 and returns N and D. what names the argument in errors.
func checkFeatures(fn, what string, x *tensor.Tensor) (n, d int, err error) {
	if x == nil {
		return 0, 0, fmt.Errorf("%s: %s are nil", fn, what)
	}
	if x.Dims() != 2 {
		return 0, 0, fmt.Errorf("%s: %s have shape %v, want a 2-D [N, D] matrix", fn, what, x.Shape())
	}
	n, d = x.Dim(0), x.Dim(1)
	if n == 0 || d == 0 {
		return 0, 0, fmt.Errorf("%s: %s have shape %v, want at least one row and one column", fn, what, x.Shape())
	}
	if len(x.Data) != n*d {
		return 0, 0, fmt.Errorf("%s: %s hold %d values for shape %v", fn, what, len(x.Data), x.Shape())
	}
	if i := firstNonFinite(x.Data); i >= 0 {
		return 0, 0, fmt.Errorf("%s: %s contain %v at row %d, column %d", fn, what, x.Data[i], i/d, i%d)
	}
	return n, d, nil
}

// firstNonFinite returns the index of the first NaN or infinity in v, or -1.
// It tests the exponent bits (all ones for NaN and Inf), one comparison per
// element, so checking 60000 x 784 features costs a few milliseconds.
func firstNonFinite(v []float32) int {
	const exp = 0x7f800000
	for i, x := range v {
		if math.Float32bits(x)&exp == exp {
			return i
		}
	}
	return -1
}

// checkLabels verifies that labels has n entries, all in [0, numClasses).
func checkLabels(fn, what string, labels []int, n, numClasses int) error {
	if numClasses < 1 {
		return fmt.Errorf("%s: numClasses is %d, want at least 1", fn, numClasses)
	}
	if len(labels) != n {
		return fmt.Errorf("%s: %s have %d entries for %d feature rows", fn, what, len(labels), n)
	}
	for i, y := range labels {
		if y < 0 || y >= numClasses {
			return fmt.Errorf("%s: %s[%d] is %d, outside [0, %d)", fn, what, i, y, numClasses)
		}
	}
	return nil
}
