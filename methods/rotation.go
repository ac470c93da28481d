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

// RotationParams are RotNet's hyper-parameters (Gidaris et al. 2018).
type RotationParams struct {
	// Rotations is the number of classes: 4 (0, 90, 180, 270 degrees, the
	// paper's choice), 2 (0 and 180) or 8 (45-degree steps; the odd ones
	// are sampled bilinearly, corners filled with 0).
	Rotations int `json:"rotations"`
	// HeadParams size the rotation classifier (two layers of the
	// encoder's width by default; RotNet put a classifier block on its conv
	// blocks).
	HeadParams
	// Augment holds the view recipe: a light random crop (scale from
	// MinScale, 0.6 by default; 1 turns it off) and the flip. RotNet used no
	// augmentation beyond the rotations.
	Augment AugmentParams `json:"augment"`
}

// DefaultRotationParams returns the paper's four rotations with a light
// crop and flip.
func DefaultRotationParams() RotationParams {
	return RotationParams{Rotations: 4, Augment: AugmentParams{MinScale: 0.6, Flip: true}}
}

// Rotation is RotNet (Gidaris et al. 2018): every image of the batch is
// shown in all its rotations, and a classifier on the encoder's pooled
// features says which rotation it sees. To recognise that a digit or a cat
// is upside down, the encoder has to learn what digits and cats look like.
type Rotation struct {
	P     RotationParams
	Enc   nn.Backbone
	Head  *nn.MLP
	views []augment.Transform
}

func init() {
	register("rotation", "RotNet: predict which of 4 rotations (0/90/180/270) an image shows (Gidaris et al. 2018)",
		TrainDefaults{Optimizer: "sgd", LR: 0.1, WeightDecay: 5e-4, Momentum: 0.9},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultRotationParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewRotation(s, p, r)
		})
}

// NewRotation builds RotNet on the backbone s describes.
func NewRotation(s Spec, p RotationParams, r *rand.Rand) (*Rotation, error) {
	if p.Rotations != 2 && p.Rotations != 4 && p.Rotations != 8 {
		return nil, fmt.Errorf("rotation: rotations = %d; want 2 (0/180), 4 (0/90/180/270) or 8 (45-degree steps)", p.Rotations)
	}
	if p.Augment.MinScale < 0 || p.Augment.MinScale > 1 {
		return nil, fmt.Errorf("rotation: augment.min_scale = %v must be in (0, 1]", p.Augment.MinScale)
	}
	enc, err := nn.NewBackbone(s.Backbone, r)
	if err != nil {
		return nil, err
	}
	head, err := newClassifier("rotation", p.HeadParams, enc.OutDim(), enc.OutDim(), p.Rotations, r)
	if err != nil {
		return nil, err
	}
	o := augment.Options{Size: viewSize(s), Scale: [2]float64{0.6, 1}, Ratio: augment.DefaultRatio, Flip: 0.5}
	o = p.Augment.apply(o, s.Backbone.InChannels)
	return &Rotation{P: p, Enc: enc, Head: head, views: []augment.Transform{o.Pipeline()}}, nil
}

// Encoder implements Method.
func (m *Rotation) Encoder() nn.Backbone { return m.Enc }

// Views implements Method (one view; the rotations are made in Loss).
func (m *Rotation) Views() []augment.Transform { return m.views }

// Angle is the rotation, in degrees counter-clockwise, that label k stands
// for.
func (m *Rotation) Angle(k int) float64 { return 360 * float64(k) / float64(m.P.Rotations) }

// Rotate stacks every rotation of the images x [N, C, H, W] into one pool
// tensor [R*N, C, H, W], rotation k in rows k*N..(k+1)*N-1, and returns the
// label of each row.
func (m *Rotation) Rotate(x *tensor.Tensor) (*tensor.Tensor, []int) {
	n := x.Dim(0)
	rot := m.P.Rotations
	out := tensor.Buffers.Get(append([]int{rot * n}, x.Shape()[1:]...)...)
	labels := make([]int, rot*n)
	for k := 0; k < rot; k++ {
		tensor.Rotate(out.Slice(k*n, (k+1)*n), x, m.Angle(k))
		for i := 0; i < n; i++ {
			labels[k*n+i] = k
		}
	}
	return out, labels
}

// forward classifies every rotation of the view.
func (m *Rotation) forward(b loader.Batch) Output {
	x, labels := m.Rotate(b.Views[0])
	h := m.Enc.Forward(autograd.Temp(x))
	logits := m.Head.Forward(h)
	h.Free()
	return classify(logits, labels, "rotation_acc")
}

// Loss implements Method: the cross-entropy of the rotation classifier over
// all rotations of every image (one batch of R*N, as in RotNet).
func (m *Rotation) Loss(b loader.Batch, _ *rand.Rand) Output { return m.forward(b) }

// PretextMetrics implements PretextEvaluator: rotation accuracy and loss.
func (m *Rotation) PretextMetrics(b loader.Batch, _ *rand.Rand) map[string]float64 {
	return pretextMetrics(m.forward(b), "rotation")
}

// AfterStep implements Method (nothing to update).
func (m *Rotation) AfterStep(float64) {}

// Collect implements nn.Module.
func (m *Rotation) Collect(prefix string, s *nn.State) {
	m.Enc.Collect(prefix+"encoder.", s)
	m.Head.Collect(prefix+"rotation_head.", s)
}

// SetTraining implements nn.Module.
func (m *Rotation) SetTraining(on bool) {
	m.Enc.SetTraining(on)
	m.Head.SetTraining(on)
}
