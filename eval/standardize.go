package eval

import (
	"fmt"
	"math"

	"selfsup/tensor"
)

// DefaultStdEpsilon is the standard deviation below which FitStandardizer
// treats a feature as constant.
const DefaultStdEpsilon = 1e-6

// Standardizer maps each feature to zero mean and unit variance with
// statistics fitted on training data only, so that nothing about the test
// set leaks into the classifier.
type Standardizer struct {
	// Mean is the per-feature mean, shape [D].
	Mean *tensor.Tensor
	// Std is the per-feature standard deviation, shape [D]; features that
	// were constant on the training data have Std 1, so they map to 0 there
	// and are not blown up on other data.
	Std *tensor.Tensor
}

// FitStandardizer computes the per-column mean and (population) standard
// deviation of x ([N, D]) in float64 with two passes. Columns whose standard
// deviation is at most epsilon (DefaultStdEpsilon when epsilon is 0) get
// Std 1, as scikit-learn's StandardScaler does for constant features.
func FitStandardizer(x *tensor.Tensor, epsilon float64) (*Standardizer, error) {
	const fn = "eval.FitStandardizer"
	n, d, err := checkFeatures(fn, "features", x)
	if err != nil {
		return nil, err
	}
	if epsilon == 0 {
		epsilon = DefaultStdEpsilon
	}
	if !(epsilon > 0) || math.IsInf(epsilon, 0) {
		return nil, fmt.Errorf("%s: epsilon is %v, want a positive finite number", fn, epsilon)
	}
	mean := columnSums(x.Data, n, d, nil)
	for j := range mean {
		mean[j] /= float64(n)
	}
	variance := columnSums(x.Data, n, d, mean)
	s := &Standardizer{Mean: tensor.New(d), Std: tensor.New(d)}
	for j := range variance {
		sd := math.Sqrt(variance[j] / float64(n))
		if sd <= epsilon {
			sd = 1
		}
		s.Mean.Data[j] = float32(mean[j])
		s.Std.Data[j] = float32(sd)
	}
	return s, nil
}

// columnSums returns the per-column sums of x ([n, d]) in float64, or the
// sums of squared deviations from center when it is not nil, computed over
// row ranges in parallel.
func columnSums(x []float32, n, d int, center []float64) []float64 {
	workers := tensor.Workers()
	part := make([][]float64, workers)
	tensor.ParallelFor(n, 512, func(w, lo, hi int) {
		acc := make([]float64, d)
		for i := lo; i < hi; i++ {
			row := x[i*d : (i+1)*d]
			if center == nil {
				for j, v := range row {
					acc[j] += float64(v)
				}
				continue
			}
			for j, v := range row {
				t := float64(v) - center[j]
				acc[j] += t * t
			}
		}
		part[w] = acc
	})
	out := make([]float64, d)
	for _, p := range part {
		for j, v := range p {
			out[j] += v
		}
	}
	return out
}

// Dim returns the number of features the standardizer expects.
func (s *Standardizer) Dim() int { return s.Mean.Len() }

// Apply returns a new [N, D] tensor holding (x - Mean) / Std; x is unchanged.
func (s *Standardizer) Apply(x *tensor.Tensor) (*tensor.Tensor, error) {
	if _, _, err := s.check("eval.Standardizer.Apply", x); err != nil {
		return nil, err
	}
	out := x.Clone()
	s.apply(out.Data)
	return out, nil
}

// ApplyInPlace overwrites x ([N, D]) with (x - Mean) / Std, saving the copy
// Apply makes when the raw features are no longer needed.
func (s *Standardizer) ApplyInPlace(x *tensor.Tensor) error {
	if _, _, err := s.check("eval.Standardizer.ApplyInPlace", x); err != nil {
		return err
	}
	s.apply(x.Data)
	return nil
}

func (s *Standardizer) check(fn string, x *tensor.Tensor) (n, d int, err error) {
	if err := s.valid(fn); err != nil {
		return 0, 0, err
	}
	n, d, err = checkFeatures(fn, "features", x)
	if err != nil {
		return 0, 0, err
	}
	if d != s.Dim() {
		return 0, 0, fmt.Errorf("%s: features have %d columns, the standardizer was fitted on %d", fn, d, s.Dim())
	}
	return n, d, nil
}

// valid checks the standardizer's own tensors (they may come from a file).
func (s *Standardizer) valid(fn string) error {
	if s == nil || s.Mean == nil || s.Std == nil {
		return fmt.Errorf("%s: standardizer has no mean or std", fn)
	}
	if s.Mean.Dims() != 1 || s.Std.Dims() != 1 || s.Mean.Len() != s.Std.Len() || s.Mean.Len() == 0 {
		return fmt.Errorf("%s: mean %v and std %v must be vectors of one length", fn, s.Mean.Shape(), s.Std.Shape())
	}
	for j, v := range s.Mean.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: mean[%d] is %v", fn, j, v)
		}
	}
	for j, v := range s.Std.Data {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: std[%d] is %v, want a positive finite number", fn, j, v)
		}
	}
	return nil
}

// apply standardises the rows of data in place, in parallel.
func (s *Standardizer) apply(data []float32) {
	d := s.Dim()
	inv := s.inverse()
	tensor.ParallelFor(len(data)/d, 1024, func(_, lo, hi int) {
		standardizeRows(data[lo*d:hi*d], s.Mean.Data, inv)
	})
}

// inverse returns 1/Std.
func (s *Standardizer) inverse() []float32 {
	inv := make([]float32, s.Dim())
	for j, v := range s.Std.Data {
		inv[j] = 1 / v
	}
	return inv
}

// standardizeRows maps each row r of data (rows of len(mean)) to
// (r - mean) * inv on the calling goroutine.
func standardizeRows(data, mean, inv []float32) {
	d := len(mean)
	for i := 0; i+d <= len(data); i += d {
		row := data[i : i+d : i+d]
		for j := range row {
			row[j] = (row[j] - mean[j]) * inv[j]
		}
	}
}
