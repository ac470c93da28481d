package eval

import (
	"fmt"
	"math"
	"strings"

	"selfsup/tensor"
)

// Evaluation is the outcome of a classifier on a labelled feature set: top-1
// and top-5 accuracy as fractions in [0, 1], and the top-1 prediction for
// every row (kept so that callers can build confusion matrices or inspect
// mistakes without running the classifier again).
type Evaluation struct {
	// NumClasses is the number of classes the labels range over.
	NumClasses int
	// Top1 is the fraction of rows whose highest-scoring class is the label.
	Top1 float64
	// Top5 is the fraction of rows whose label is among the five
	// highest-scoring classes (1 when there are at most five classes, for
	// classifiers that rank every class).
	Top5 float64
	// Predictions holds the top-1 class of each row.
	Predictions []int
	// Labels holds the true class of each row (the caller's slice).
	Labels []int
}

// Confusion returns the confusion matrix of the evaluation's predictions.
func (e *Evaluation) Confusion() *Confusion {
	c, err := NewConfusion(e.Labels, e.Predictions, e.NumClasses)
	if err != nil {
		// Evaluations are built from validated labels and predictions.
		panic("eval: inconsistent Evaluation: " + err.Error())
	}
	return c
}

// TopKAccuracy returns the fraction of rows of scores ([N, C], higher means
// more likely) whose label is among the k highest-scoring classes. Ties are
// broken in favour of the lower class index, the same convention as Argmax,
// so a row whose scores are all equal counts as a hit only when its label is
// among the first k classes: ties never inflate the accuracy.
func TopKAccuracy(scores *tensor.Tensor, labels []int, k int) (float64, error) {
	const fn = "eval.TopKAccuracy"
	if k < 1 {
		return 0, fmt.Errorf("%s: k is %d, want at least 1", fn, k)
	}
	n, c, err := checkScores(fn, scores)
	if err != nil {
		return 0, err
	}
	if err := checkLabels(fn, "labels", labels, n, c); err != nil {
		return 0, err
	}
	hits := 0
	for i, y := range labels {
		if rankOf(scores.Data[i*c:(i+1)*c], y) < k {
			hits++
		}
	}
	return float64(hits) / float64(n), nil
}

// Argmax returns, for each row of scores ([N, C]), the index of its largest
// entry; ties go to the lower index.
func Argmax(scores *tensor.Tensor) ([]int, error) {
	n, c, err := checkScores("eval.Argmax", scores)
	if err != nil {
		return nil, err
	}
	out := make([]int, n)
	for i := range out {
		row := scores.Data[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out, nil
}

// Accuracy returns the fraction of predictions equal to their label.
func Accuracy(predictions, labels []int) (float64, error) {
	if len(predictions) != len(labels) {
		return 0, fmt.Errorf("eval.Accuracy: %d predictions for %d labels", len(predictions), len(labels))
	}
	if len(labels) == 0 {
		return 0, fmt.Errorf("eval.Accuracy: no labels")
	}
	hits := 0
	for i, p := range predictions {
		if p == labels[i] {
			hits++
		}
	}
	return float64(hits) / float64(len(labels)), nil
}

// rankOf returns how many classes outrank class y in row: those with a
// higher score, and those with an equal score and a lower index.
func rankOf(row []float32, y int) int {
	sy := row[y]
	r := 0
	for j, v := range row {
		if v > sy || (v == sy && j < y) {
			r++
		}
	}
	return r
}

// evaluateScores turns a validated [N, C] score matrix into an Evaluation.
func evaluateScores(scores *tensor.Tensor, labels []int) *Evaluation {
	n, c := scores.Dim(0), scores.Dim(1)
	e := &Evaluation{NumClasses: c, Predictions: make([]int, n), Labels: labels}
	top1, top5 := 0, 0
	for i, y := range labels {
		row := scores.Data[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		e.Predictions[i] = best
		r := rankOf(row, y)
		if r == 0 {
			top1++
		}
		if r < 5 {
			top5++
		}
	}
	e.Top1 = float64(top1) / float64(n)
	e.Top5 = float64(top5) / float64(n)
	return e
}

func checkScores(fn string, scores *tensor.Tensor) (n, c int, err error) {
	if scores == nil {
		return 0, 0, fmt.Errorf("%s: scores are nil", fn)
	}
	if scores.Dims() != 2 || scores.Dim(0) == 0 || scores.Dim(1) == 0 {
		return 0, 0, fmt.Errorf("%s: scores have shape %v, want a non-empty [N, C] matrix", fn, scores.Shape())
	}
	n, c = scores.Dim(0), scores.Dim(1)
	for i, v := range scores.Data {
		if math.IsNaN(float64(v)) {
			return 0, 0, fmt.Errorf("%s: scores contain NaN at row %d, class %d", fn, i/c, i%c)
		}
	}
	return n, c, nil
}

// Confusion is a confusion matrix: Counts[label*NumClasses+prediction] is the
// number of rows of class label predicted as prediction.
type Confusion struct {
	// NumClasses is the side of the matrix.
	NumClasses int
	// Counts is the row-major NumClasses x NumClasses matrix, rows indexed by
	// the true class and columns by the predicted class.
	Counts []int
}

// NewConfusion counts (label, prediction) pairs into a confusion matrix. All
// labels and predictions must lie in [0, numClasses).
func NewConfusion(labels, predictions []int, numClasses int) (*Confusion, error) {
	const fn = "eval.NewConfusion"
	if err := checkLabels(fn, "labels", labels, len(labels), numClasses); err != nil {
		return nil, err
	}
	if err := checkLabels(fn, "predictions", predictions, len(labels), numClasses); err != nil {
		return nil, err
	}
	c := &Confusion{NumClasses: numClasses, Counts: make([]int, numClasses*numClasses)}
	for i, y := range labels {
		c.Counts[y*numClasses+predictions[i]]++
	}
	return c, nil
}

// At returns the number of rows of class label predicted as class pred.
func (c *Confusion) At(label, pred int) int { return c.Counts[label*c.NumClasses+pred] }

// Total returns the number of rows counted.
func (c *Confusion) Total() int {
	t := 0
	for _, v := range c.Counts {
		t += v
	}
	return t
}

// Accuracy returns the fraction of rows on the diagonal (0 when empty).
func (c *Confusion) Accuracy() float64 {
	t, d := c.Total(), 0
	for k := 0; k < c.NumClasses; k++ {
		d += c.At(k, k)
	}
	if t == 0 {
		return 0
	}
	return float64(d) / float64(t)
}

// PerClassAccuracy returns, for each class, the fraction of its rows
// predicted correctly (its recall); NaN for a class with no rows, so that an
// absent class is never mistaken for a perfectly or totally wrong one.
func (c *Confusion) PerClassAccuracy() []float64 {
	out := make([]float64, c.NumClasses)
	for k := range out {
		row := c.Counts[k*c.NumClasses : (k+1)*c.NumClasses]
		n := 0
		for _, v := range row {
			n += v
		}
		if n == 0 {
			out[k] = math.NaN()
			continue
		}
		out[k] = float64(row[k]) / float64(n)
	}
	return out
}

// String renders the matrix as a text table, true classes down the side and
// predicted classes across the top.
func (c *Confusion) String() string {
	w := 1
	for _, v := range c.Counts {
		w = max(w, len(fmt.Sprint(v)))
	}
	w = max(w, len(fmt.Sprint(c.NumClasses-1)))
	var b strings.Builder
	fmt.Fprintf(&b, "%*s", w+1, "")
	for p := 0; p < c.NumClasses; p++ {
		fmt.Fprintf(&b, " %*d", w, p)
	}
	b.WriteByte('\n')
	for y := 0; y < c.NumClasses; y++ {
		fmt.Fprintf(&b, "%*d:", w, y)
		for p := 0; p < c.NumClasses; p++ {
			fmt.Fprintf(&b, " %*d", w, c.At(y, p))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
