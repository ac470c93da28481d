package eval

import (
	"fmt"
	"math"

	"selfsup/tensor"
)

// Names under which LinearClassifier.Tensors exposes its parameters, for
// the checkpoint package to store.
const (
	LinearWeightName = "weight"
	LinearBiasName   = "bias"
	LinearMeanName   = "mean"
	LinearStdName    = "std"
)

// LinearClassifier is a trained linear probe: multinomial logistic
// regression on standardised features. The logits of a raw feature row x
// are W ((x - Mean) / Std) + B.
type LinearClassifier struct {
	// W holds the weights, [C, D].
	W *tensor.Tensor
	// B holds the biases, [C].
	B *tensor.Tensor
	// Mean and Std are the training features' per-column statistics, [D].
	Mean, Std *tensor.Tensor
}

// NumClasses returns C.
func (lc *LinearClassifier) NumClasses() int { return lc.W.Dim(0) }

// Dim returns D, the number of features the classifier expects.
func (lc *LinearClassifier) Dim() int { return lc.W.Dim(1) }

// Tensors returns the classifier's parameters by name (LinearWeightName,
// LinearBiasName, LinearMeanName, LinearStdName): the form the checkpoint
// package stores. The tensors are shared, not copied.
func (lc *LinearClassifier) Tensors() map[string]*tensor.Tensor {
	return map[string]*tensor.Tensor{
		LinearWeightName: lc.W,
		LinearBiasName:   lc.B,
		LinearMeanName:   lc.Mean,
		LinearStdName:    lc.Std,
	}
}

// LinearClassifierFromTensors rebuilds a classifier from the map Tensors
// returns (as read back from a checkpoint). It checks that all four tensors
// are present, that their shapes agree (W [C, D], B [C], Mean and Std [D]),
// that every value is finite and that Std is positive, and reports the
// first problem as an error. The tensors are used, not copied.
func LinearClassifierFromTensors(m map[string]*tensor.Tensor) (*LinearClassifier, error) {
	const fn = "eval.LinearClassifierFromTensors"
	get := func(name string) (*tensor.Tensor, error) {
		t, ok := m[name]
		if !ok || t == nil {
			return nil, fmt.Errorf("%s: tensor %q is missing", fn, name)
		}
		return t, nil
	}
	lc := &LinearClassifier{}
	var err error
	if lc.W, err = get(LinearWeightName); err != nil {
		return nil, err
	}
	if lc.B, err = get(LinearBiasName); err != nil {
		return nil, err
	}
	if lc.Mean, err = get(LinearMeanName); err != nil {
		return nil, err
	}
	if lc.Std, err = get(LinearStdName); err != nil {
		return nil, err
	}
	for name := range m {
		switch name {
		case LinearWeightName, LinearBiasName, LinearMeanName, LinearStdName:
		default:
			return nil, fmt.Errorf("%s: unexpected tensor %q", fn, name)
		}
	}
	if err := lc.valid(fn); err != nil {
		return nil, err
	}
	return lc, nil
}

// valid checks shapes and values.
func (lc *LinearClassifier) valid(fn string) error {
	if lc == nil || lc.W == nil || lc.B == nil || lc.Mean == nil || lc.Std == nil {
		return fmt.Errorf("%s: classifier is missing a tensor", fn)
	}
	if lc.W.Dims() != 2 || lc.W.Dim(0) < 1 || lc.W.Dim(1) < 1 {
		return fmt.Errorf("%s: weight has shape %v, want [C, D] with C, D >= 1", fn, lc.W.Shape())
	}
	c, d := lc.W.Dim(0), lc.W.Dim(1)
	for _, t := range []struct {
		name string
		t    *tensor.Tensor
		n    int
	}{{LinearBiasName, lc.B, c}, {LinearMeanName, lc.Mean, d}, {LinearStdName, lc.Std, d}} {
		if t.t.Dims() != 1 || t.t.Dim(0) != t.n {
			return fmt.Errorf("%s: %s has shape %v, want [%d] to match weight %v", fn, t.name, t.t.Shape(), t.n, lc.W.Shape())
		}
	}
	for _, t := range []struct {
		name string
		t    *tensor.Tensor
	}{{LinearWeightName, lc.W}, {LinearBiasName, lc.B}, {LinearMeanName, lc.Mean}, {LinearStdName, lc.Std}} {
		for i, v := range t.t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s: %s[%d] is %v", fn, t.name, i, v)
			}
			if t.name == LinearStdName && !(v > 0) {
				return fmt.Errorf("%s: std[%d] is %v, want a positive number", fn, i, v)
			}
		}
	}
	return nil
}

// Logits returns the class scores W ((x - Mean) / Std) + B of the rows of x
// ([N, D]) as an [N, C] tensor; x is unchanged. Rows are standardised chunk
// by chunk into scratch memory and the chunks run in parallel.
func (lc *LinearClassifier) Logits(x *tensor.Tensor) (*tensor.Tensor, error) {
	const fn = "eval.LinearClassifier.Logits"
	if err := lc.valid(fn); err != nil {
		return nil, err
	}
	return lc.logits(fn, x)
}

func (lc *LinearClassifier) logits(fn string, x *tensor.Tensor) (*tensor.Tensor, error) {
	n, d, err := checkFeatures(fn, "features", x)
	if err != nil {
		return nil, err
	}
	if d != lc.Dim() {
		return nil, fmt.Errorf("%s: features have %d columns, the classifier expects %d", fn, d, lc.Dim())
	}
	c := lc.NumClasses()
	out := tensor.New(n, c)
	inv := (&Standardizer{Mean: lc.Mean, Std: lc.Std}).inverse()
	workers := tensor.Workers()
	rows := min(softmaxChunk, max(1, (n+workers-1)/workers))
	chunks := (n + rows - 1) / rows
	scratch := make([][]float32, workers)
	tensor.ParallelFor(chunks, 1, func(w, lo, hi int) {
		if scratch[w] == nil {
			scratch[w] = make([]float32, rows*d)
		}
		buf := scratch[w]
		for ch := lo; ch < hi; ch++ {
			r0, r1 := ch*rows, min((ch+1)*rows, n)
			xc := buf[:(r1-r0)*d]
			copy(xc, x.Data[r0*d:r1*d])
			standardizeRows(xc, lc.Mean.Data, inv)
			oc := out.Data[r0*c : r1*c]
			tensor.GemmSerial(false, true, r1-r0, c, d, 1, xc, d, lc.W.Data, d, 0, oc, c)
			for r := 0; r < r1-r0; r++ {
				row := oc[r*c : (r+1)*c]
				for j, b := range lc.B.Data {
					row[j] += b
				}
			}
		}
	})
	return out, nil
}

// Probabilities returns softmax(Logits(x)), [N, C], each row summing to 1.
func (lc *LinearClassifier) Probabilities(x *tensor.Tensor) (*tensor.Tensor, error) {
	const fn = "eval.LinearClassifier.Probabilities"
	if err := lc.valid(fn); err != nil {
		return nil, err
	}
	z, err := lc.logits(fn, x)
	if err != nil {
		return nil, err
	}
	c := lc.NumClasses()
	tensor.ParallelFor(z.Dim(0), 256, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			row := z.Data[i*c : (i+1)*c]
			mx := float32(math.Inf(-1))
			for _, v := range row {
				mx = max(mx, v)
			}
			sum := 0.0
			for j, v := range row {
				e := math.Exp(float64(v - mx))
				row[j] = float32(e)
				sum += e
			}
			inv := float32(1 / sum)
			for j := range row {
				row[j] *= inv
			}
		}
	})
	return z, nil
}

// Predict returns the most likely class of every row of x (ties to the
// lower class index).
func (lc *LinearClassifier) Predict(x *tensor.Tensor) ([]int, error) {
	z, err := lc.Logits(x)
	if err != nil {
		return nil, err
	}
	return Argmax(z)
}

// Evaluate returns top-1 and top-5 accuracy of the classifier on x with the
// given labels, and its prediction for every row.
func (lc *LinearClassifier) Evaluate(x *tensor.Tensor, labels []int) (*Evaluation, error) {
	const fn = "eval.LinearClassifier.Evaluate"
	if err := lc.valid(fn); err != nil {
		return nil, err
	}
	z, err := lc.logits(fn, x)
	if err != nil {
		return nil, err
	}
	if err := checkLabels(fn, "labels", labels, z.Dim(0), lc.NumClasses()); err != nil {
		return nil, err
	}
	return evaluateScores(z, labels), nil
}

// Loss returns the mean cross-entropy of the classifier on x with the given
// labels (no weight-decay term): the quantity the probe minimises, measured
// on any feature set.
func (lc *LinearClassifier) Loss(x *tensor.Tensor, labels []int) (float64, error) {
	const fn = "eval.LinearClassifier.Loss"
	if err := lc.valid(fn); err != nil {
		return 0, err
	}
	z, err := lc.logits(fn, x)
	if err != nil {
		return 0, err
	}
	c := lc.NumClasses()
	if err := checkLabels(fn, "labels", labels, z.Dim(0), c); err != nil {
		return 0, err
	}
	total := 0.0
	for i, y := range labels {
		row := z.Data[i*c : (i+1)*c]
		mx := float32(math.Inf(-1))
		for _, v := range row {
			mx = max(mx, v)
		}
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(float64(v - mx))
		}
		total += math.Log(sum) - float64(row[y]-mx)
	}
	return total / float64(len(labels)), nil
}
