package methods

import (
	"fmt"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/nn"
	"selfsup/tensor"
)

// HeadParams size the classifier of a classification pretext task
// (rotation, relative patch location, jigsaw).
type HeadParams struct {
	// HiddenDim is the width of the hidden layer of the two-layer head
	// (Linear, BatchNorm, ReLU, Linear); 0 means the method's default.
	HiddenDim int `json:"hidden_dim"`
	// Linear replaces the two-layer head by one Linear layer on the
	// features.
	Linear bool `json:"linear_head"`
}

// newClassifier builds a pretext classifier from in features to classes.
func newClassifier(method string, h HeadParams, in, defaultHidden, classes int, r *rand.Rand) (*nn.MLP, error) {
	dims := []int{in, classes}
	if !h.Linear {
		hidden := h.HiddenDim
		if hidden == 0 {
			hidden = defaultHidden
		}
		if hidden < 0 {
			return nil, fmt.Errorf("%s: hidden_dim %d must not be negative", method, h.HiddenDim)
		}
		dims = []int{in, hidden, classes}
	}
	head, err := nn.NewMLP(nn.MLPConfig{Dims: dims, HiddenBN: true}, r)
	if err != nil {
		return nil, fmt.Errorf("%s head: %w", method, err)
	}
	return head, nil
}

// classify is the shared end of the classification pretext tasks: the
// cross-entropy of logits against the labels the method made, and the
// accuracy, logged under name.
func classify(logits *autograd.Var, targets []int, name string) Output {
	acc := classAccuracy(logits.Value, targets)
	l := autograd.CrossEntropy(logits, targets, 0)
	return Output{Loss: l, Metrics: map[string]float64{name: acc}}
}

// pretextMetrics turns a classification step into the held-out metrics: the
// accuracy under name and the loss under name's task ("rotation_loss").
func pretextMetrics(o Output, task string) map[string]float64 {
	m := map[string]float64{task + "_loss": float64(o.Loss.Item())}
	for k, v := range o.Metrics {
		m[k] = v
	}
	return m
}

// classAccuracy is the fraction of rows of logits [N, K] whose largest entry
// is at the target (ties go to the lower index, so they never count as hits
// by luck).
func classAccuracy(logits *tensor.Tensor, targets []int) float64 {
	k := logits.Dim(1)
	hits := 0
	for i, t := range targets {
		row := logits.Data[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == t {
			hits++
		}
	}
	return float64(hits) / float64(max(len(targets), 1))
}
