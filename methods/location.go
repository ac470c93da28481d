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

// LocationParams are the relative patch location task's hyper-parameters
// (Doersch et al. 2015), sized for small images (see AutoGrid).
type LocationParams struct {
	// Patch is the side of a patch in pixels (0: the largest that fits
	// with the gap and jitter, 7 on 28-pixel images; the paper cut 96-pixel
	// patches from about 400-pixel images).
	Patch int `json:"patch"`
	// Gap is the space between neighbouring patches (-1: AutoGrid's, twice
	// the jitter; the paper left half a patch).
	Gap int `json:"gap"`
	// Jitter moves every patch by up to this many pixels each way (-1:
	// AutoGrid's, max(1, size/32); the paper's was 7 of 96).
	Jitter int `json:"jitter"`
	// Pairs is how many of the 8 neighbours each centre patch is paired
	// with per step (1 in the paper; up to 8 reuses the centre's encoding).
	Pairs int `json:"pairs"`
	// Normalize standardises each patch by its own mean and standard
	// deviation (the paper's per-patch normalisation), so brightness and
	// contrast do not give the position away.
	Normalize bool `json:"normalize"`
	// HeadParams size the classifier on the two concatenated features (a
	// hidden layer of the encoder's width by default; the paper had
	// fc7-fc8 on its fc6 pair).
	HeadParams
	// Augment holds the view the patches are cut from: a light crop (0.6)
	// and flip by default.
	Augment AugmentParams `json:"augment"`
}

// DefaultLocationParams returns the paper's task (one neighbour per
// centre, jitter, per-patch normalisation) with the grid sized from the
// image.
func DefaultLocationParams() LocationParams {
	return LocationParams{Gap: -1, Jitter: -1, Pairs: 1, Normalize: true, Augment: AugmentParams{MinScale: 0.6, Flip: true}}
}

// Location is relative patch location, or context prediction (Doersch et
// al. 2015): a 3x3 grid of patches with gaps and jitter is cut from each
// image; the shared encoder embeds the centre patch and a random neighbour,
// and a classifier on the two concatenated features says which of the 8
// neighbours it was. Knowing that an eye sits above a nose, or that a
// stroke continues to the lower left, takes an understanding of objects.
type Location struct {
	P     LocationParams
	Grid  PatchGrid
	Enc   nn.Backbone
	Head  *nn.MLP
	views []augment.Transform
	wins  []tensor.Window
	pos   [][9][2]int
}

func init() {
	register("location", "relative patch location: predict which of the 8 neighbours of a centre patch another patch is (Doersch et al. 2015)",
		TrainDefaults{Optimizer: "sgd", LR: 0.1, WeightDecay: 5e-4, Momentum: 0.9},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultLocationParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewLocation(s, p, r)
		})
	registerResolver("location", func(s Spec, _ RunInfo) (Spec, error) {
		p := DefaultLocationParams()
		if err := decodeParams(s, &p); err != nil {
			return s, err
		}
		if _, err := resolveGrid("location", viewSize(s), &p.Patch, &p.Gap, &p.Jitter); err != nil {
			return s, err
		}
		s.Params = ParamsJSON(p)
		return s, nil
	})
}

// NewLocation builds the relative patch location task on the backbone s
// describes; the encoder is built for whole images (what is evaluated) and
// runs on patches in training.
func NewLocation(s Spec, p LocationParams, r *rand.Rand) (*Location, error) {
	g, err := resolveGrid("location", viewSize(s), &p.Patch, &p.Gap, &p.Jitter)
	if err != nil {
		return nil, err
	}
	if p.Pairs < 1 || p.Pairs > 8 {
		return nil, fmt.Errorf("location: pairs = %d; each centre patch has 1 to 8 neighbours", p.Pairs)
	}
	if p.Augment.MinScale < 0 || p.Augment.MinScale > 1 {
		return nil, fmt.Errorf("location: augment.min_scale = %v must be in (0, 1]", p.Augment.MinScale)
	}
	enc, err := nn.NewBackbone(s.Backbone, r)
	if err != nil {
		return nil, err
	}
	d := enc.OutDim()
	head, err := newClassifier("location", p.HeadParams, 2*d, d, 8, r)
	if err != nil {
		return nil, err
	}
	o := augment.Options{Size: viewSize(s), Scale: [2]float64{0.6, 1}, Ratio: augment.DefaultRatio, Flip: 0.5}
	o = p.Augment.apply(o, s.Backbone.InChannels)
	return &Location{P: p, Grid: g, Enc: enc, Head: head, views: []augment.Transform{o.Pipeline()}}, nil
}

// neighbourCells lists the grid cells (row-major, 4 the centre) of the 8
// labels: top-left, top, top-right, left, right, bottom-left, bottom,
// bottom-right.
var neighbourCells = [8]int{0, 1, 2, 3, 5, 6, 7, 8}

// LocationOffset returns the grid offset (rows, columns; each -1, 0 or 1)
// of the neighbour that label stands for, relative to the centre patch.
func LocationOffset(label int) (dy, dx int, err error) {
	if label < 0 || label >= 8 {
		return 0, 0, fmt.Errorf("location: label %d outside 0..7", label)
	}
	c := neighbourCells[label]
	return c/3 - 1, c%3 - 1, nil
}

// LocationLabel is LocationOffset's inverse: the label of the neighbour at
// grid offset (dy, dx) from the centre.
func LocationLabel(dy, dx int) (int, error) {
	if dy < -1 || dy > 1 || dx < -1 || dx > 1 || (dy == 0 && dx == 0) {
		return 0, fmt.Errorf("location: offset (%d, %d) is not one of the 8 neighbours", dy, dx)
	}
	c := (dy+1)*3 + dx + 1
	for l, cell := range neighbourCells {
		if cell == c {
			return l, nil
		}
	}
	panic("unreachable")
}

// Encoder implements Method.
func (m *Location) Encoder() nn.Backbone { return m.Enc }

// Views implements Method (one view; the patches are cut in Loss).
func (m *Location) Views() []augment.Transform { return m.views }

// Patches cuts the task's input out of the images x [N, C, H, W]: one pool
// tensor holding the N centre patches, then for each image its Pairs
// neighbour patches (image-major), and the label of each neighbour.
func (m *Location) Patches(x *tensor.Tensor, r *rand.Rand) (*tensor.Tensor, []int) {
	n, k := x.Dim(0), m.P.Pairs
	if cap(m.pos) < n {
		m.pos = make([][9][2]int, n)
	}
	m.pos = m.pos[:n]
	m.wins = m.wins[:0]
	for i := range m.pos {
		m.Grid.Sample(r, &m.pos[i])
		m.wins = append(m.wins, window(i, &m.pos[i], 4))
	}
	labels := make([]int, 0, n*k)
	var order [8]int
	for i := range m.pos {
		for j := range order {
			order[j] = j
		}
		// the first k of a random shuffle: k distinct neighbours
		for j := 0; j < k; j++ {
			s := j + r.IntN(8-j)
			order[j], order[s] = order[s], order[j]
			labels = append(labels, order[j])
			m.wins = append(m.wins, window(i, &m.pos[i], neighbourCells[order[j]]))
		}
	}
	return cropPatches(x, m.wins, m.Grid.Patch, m.P.Normalize), labels
}

// forward encodes centre and neighbour patches in one batch and classifies
// each (centre, neighbour) pair.
func (m *Location) forward(b loader.Batch, r *rand.Rand) Output {
	x := b.Views[0]
	n, k := x.Dim(0), m.P.Pairs
	patches, labels := m.Patches(x, r)
	z := m.Enc.Forward(autograd.Temp(patches)) // [n + n*k, D]
	centre := autograd.Narrow(z, 0, 0, n)
	if k > 1 {
		idx := make([]int, n*k)
		for i := range idx {
			idx[i] = i / k
		}
		centre = autograd.IndexSelect(centre, idx)
	}
	pair := autograd.Concat(1, centre, autograd.Narrow(z, 0, n, n*k)) // [n*k, 2D]
	return classify(m.Head.Forward(pair), labels, "location_acc")
}

// Loss implements Method: the 8-way cross-entropy over the batch's pairs.
func (m *Location) Loss(b loader.Batch, r *rand.Rand) Output { return m.forward(b, r) }

// PretextMetrics implements PretextEvaluator: location accuracy and loss.
func (m *Location) PretextMetrics(b loader.Batch, r *rand.Rand) map[string]float64 {
	return pretextMetrics(m.forward(b, r), "location")
}

// AfterStep implements Method (nothing to update).
func (m *Location) AfterStep(float64) {}

// Collect implements nn.Module.
func (m *Location) Collect(prefix string, s *nn.State) {
	m.Enc.Collect(prefix+"encoder.", s)
	m.Head.Collect(prefix+"location_head.", s)
}

// SetTraining implements nn.Module.
func (m *Location) SetTraining(on bool) {
	m.Enc.SetTraining(on)
	m.Head.SetTraining(on)
}
