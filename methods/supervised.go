package methods

import (
	"fmt"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/tensor"
)

// SupervisedParams are the hyper-parameters of the supervised baseline.
type SupervisedParams struct {
	// Classes is the number of classes of the linear head (default 10).
	Classes int `json:"classes"`
	// LabelSmoothing is the cross-entropy's label smoothing (default 0).
	LabelSmoothing float32 `json:"label_smoothing,omitempty"`
	// Augment is the light training augmentation: a random resized crop of
	// scale (MinScale, 1) (default 0.5) and, with Flip, horizontal flips
	// (off by default: mirroring changes the class of some digits).
	Augment AugmentParams `json:"augment"`
}

// DefaultSupervisedParams are the defaults: 10 classes, crops of scale
// (0.5, 1), no flips, no label smoothing.
func DefaultSupervisedParams() SupervisedParams {
	return SupervisedParams{Classes: 10, Augment: AugmentParams{MinScale: 0.5}}
}

// Supervised is not a self-supervised method but the baseline every one of
// them is measured against: the same encoder with a linear classifier head,
// trained end to end with cross-entropy on the labels. Registered as
// "supervised", it makes `selfsup pretrain --method supervised` the
// supervised trainer and lets its checkpoints be evaluated like any other;
// fine-tuning (package finetune) builds it around a pretrained encoder.
// Its batches must be labelled.
type Supervised struct {
	P    SupervisedParams
	Enc  nn.Backbone
	Head *nn.Linear
	view augment.Transform
}

func init() {
	register("supervised", "supervised baseline: the encoder and a linear head trained with cross-entropy on the labels (needs labelled data)",
		TrainDefaults{Optimizer: "sgd", LR: 0.1, WeightDecay: 1e-4, Momentum: 0.9, WarmupFrac: 0.05},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultSupervisedParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewSupervised(s, p, r)
		})
}

// NewSupervised builds the encoder s describes and a linear head of
// p.Classes outputs after it.
func NewSupervised(s Spec, p SupervisedParams, r *rand.Rand) (*Supervised, error) {
	if p.Classes < 2 {
		return nil, fmt.Errorf("supervised: %d classes; the head needs at least 2", p.Classes)
	}
	if p.LabelSmoothing < 0 || p.LabelSmoothing >= 1 {
		return nil, fmt.Errorf("supervised: label smoothing %v outside [0, 1)", p.LabelSmoothing)
	}
	if p.Augment.MinScale < 0 || p.Augment.MinScale > 1 {
		return nil, fmt.Errorf("supervised: crop scale %v outside (0, 1]", p.Augment.MinScale)
	}
	enc, err := nn.NewBackbone(s.Backbone, r)
	if err != nil {
		return nil, err
	}
	m := &Supervised{P: p, Enc: enc, Head: nn.NewLinear(enc.OutDim(), p.Classes, true, r)}
	o := augment.Options{Size: viewSize(s), Scale: [2]float64{0.5, 1}, Ratio: augment.DefaultRatio}
	if p.Augment.MinScale > 0 {
		o.Scale[0] = p.Augment.MinScale
	}
	if p.Augment.Flip {
		o.Flip = 0.5
	}
	m.view = o.Pipeline()
	return m, nil
}

// Encoder implements Method.
func (m *Supervised) Encoder() nn.Backbone { return m.Enc }

// Views implements Method: one lightly augmented view.
func (m *Supervised) Views() []augment.Transform { return []augment.Transform{m.view} }

// Logits maps images [N, C, H, W] to class scores [N, Classes].
func (m *Supervised) Logits(x *autograd.Var) *autograd.Var {
	h := m.Enc.Forward(x)
	z := m.Head.Forward(h)
	h.Free()
	return z
}

// Loss implements Method: the mean cross-entropy of the head's scores
// against the batch's labels, with the batch's top-1 accuracy as metric
// "top1". An unlabelled image or a label the head does not have stops the
// step with an error (an *autograd.OpError panic, which the trainer turns
// into an error).
func (m *Supervised) Loss(b loader.Batch, _ *rand.Rand) Output {
	return m.LossOn(autograd.Const(b.Views[0]), b)
}

// LossOn is Loss with the batch's images given as x (b.Views[0] wrapped as
// the caller needs: fine-tuning with frozen stages passes it as a Var that
// requires a gradient, so that every activation stays on the tape).
func (m *Supervised) LossOn(x *autograd.Var, b loader.Batch) Output {
	m.checkLabels(b)
	z := m.Logits(x)
	top1 := batchTop1(z.Value, b.Labels)
	return Output{Loss: autograd.CrossEntropy(z, b.Labels, m.P.LabelSmoothing), Metrics: map[string]float64{"top1": top1}}
}

// PretextMetrics implements PretextEvaluator: for the supervised baseline
// the "pretext task" is the task itself, so the held-out metric is top-1
// accuracy (on the method's lightly augmented view).
func (m *Supervised) PretextMetrics(b loader.Batch, _ *rand.Rand) map[string]float64 {
	m.checkLabels(b)
	z := m.Logits(autograd.Const(b.Views[0]))
	defer z.Free()
	return map[string]float64{"top1": batchTop1(z.Value, b.Labels)}
}

// checkLabels panics with an *autograd.OpError naming the first image of b
// without a usable label.
func (m *Supervised) checkLabels(b loader.Batch) {
	for k, l := range b.Labels {
		idx := k
		if k < len(b.Indices) {
			idx = b.Indices[k]
		}
		switch {
		case l < 0:
			panic(&autograd.OpError{Op: "supervised", Msg: fmt.Sprintf(
				"image %d of the dataset has no label: supervised training needs labelled images (this data is unlabelled or has labels hidden)", idx)})
		case l >= m.P.Classes:
			panic(&autograd.OpError{Op: "supervised", Msg: fmt.Sprintf(
				"image %d of the dataset has label %d, but the head has %d classes (set the classes parameter, e.g. --params '{\"classes\":%d}')", idx, l, m.P.Classes, l+1)})
		}
	}
}

// batchTop1 is the fraction of rows of scores [N, C] whose largest entry is
// at the label (ties to the lower class).
func batchTop1(scores *tensor.Tensor, labels []int) float64 {
	n, c := scores.Dim(0), scores.Dim(1)
	hits := 0
	for i := 0; i < n; i++ {
		row := scores.Data[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == labels[i] {
			hits++
		}
	}
	return float64(hits) / float64(max(n, 1))
}

// AfterStep implements Method (nothing to update).
func (m *Supervised) AfterStep(float64) {}

// Collect implements nn.Module: the encoder under "encoder.", the head
// under "head.".
func (m *Supervised) Collect(prefix string, s *nn.State) {
	m.Enc.Collect(prefix+"encoder.", s)
	m.Head.Collect(prefix+"head.", s)
}

// SetTraining implements nn.Module.
func (m *Supervised) SetTraining(on bool) {
	m.Enc.SetTraining(on)
	m.Head.SetTraining(on)
}
