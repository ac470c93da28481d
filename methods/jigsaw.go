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

// JigsawParams are the jigsaw puzzle's hyper-parameters (Noroozi & Favaro
// 2016), with the tiles sized for small images (see AutoGrid).
type JigsawParams struct {
	// Permutations is P, the number of puzzles (classes): 64 by default;
	// the paper compares 100 and 1000 and trains its final model with
	// 1000.
	Permutations int `json:"permutations"`
	// Selection is the greedy rule that picks them from the 9! orders:
	// "maxmin" (largest minimum Hamming distance, the default) or "maxmean"
	// (the paper's Algorithm 1, largest average distance).
	Selection string `json:"selection"`
	// MinDistance, when positive, requires the chosen set's minimum Hamming
	// distance to be at least this (2..9); a set that large cannot exist or
	// was not found is an error.
	MinDistance int `json:"min_distance"`
	// PermSeed seeds the selection. The set is also stored in checkpoints,
	// so a loaded model keeps its puzzles.
	PermSeed uint64 `json:"perm_seed"`
	// Patch, Gap and Jitter lay out the 3x3 tiles as in relative patch
	// location (0 and -1: AutoGrid's, 7/2/1 on 28 pixels; the paper cut
	// 64-pixel tiles at random from each 75-pixel cell of a 225 crop).
	Patch  int `json:"patch"`
	Gap    int `json:"gap"`
	Jitter int `json:"jitter"`
	// Normalize standardises each tile by its own mean and standard
	// deviation, as the paper does, so that tiles cannot be matched by
	// their brightness.
	Normalize bool `json:"normalize"`
	// HeadParams size the classifier on the nine concatenated tile
	// features (a hidden layer of twice the encoder's width by default;
	// the paper had fc7 of 4096).
	HeadParams
	// Augment holds the view the tiles are cut from: a light crop (0.6)
	// and flip by default.
	Augment AugmentParams `json:"augment"`
}

// DefaultJigsawParams returns 64 max-min permutations, the grid sized from
// the image, and per-tile normalisation.
func DefaultJigsawParams() JigsawParams {
	return JigsawParams{Permutations: 64, Selection: SelectMaxMin, Gap: -1, Jitter: -1, Normalize: true,
		Augment: AugmentParams{MinScale: 0.6, Flip: true}}
}

// Jigsaw is the jigsaw puzzle task (Noroozi & Favaro 2016): each image is
// cut into a 3x3 grid of tiles (with gaps and jitter), the tiles are
// shuffled by one of P fixed permutations, the shared encoder (a siamese
// network of nine branches) embeds each tile, and a classifier on the nine
// concatenated features names the permutation. Solving it needs the parts
// of objects and where they go.
type Jigsaw struct {
	P    JigsawParams
	Grid PatchGrid
	Enc  nn.Backbone
	Head *nn.MLP
	// Perms holds the permutation set [P, 9] as a buffer (saved with the
	// checkpoint): row p lists, for each input position, the grid cell
	// whose tile is shown there.
	Perms *tensor.Tensor
	views []augment.Transform
	wins  []tensor.Window
}

func init() {
	register("jigsaw", "jigsaw puzzle: name which of P permutations shuffled an image's 3x3 tiles (Noroozi & Favaro 2016)",
		TrainDefaults{Optimizer: "sgd", LR: 0.1, WeightDecay: 5e-4, Momentum: 0.9},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultJigsawParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewJigsaw(s, p, r)
		})
	registerResolver("jigsaw", func(s Spec, _ RunInfo) (Spec, error) {
		p := DefaultJigsawParams()
		if err := decodeParams(s, &p); err != nil {
			return s, err
		}
		if _, err := resolveGrid("jigsaw", viewSize(s), &p.Patch, &p.Gap, &p.Jitter); err != nil {
			return s, err
		}
		s.Params = ParamsJSON(p)
		return s, nil
	})
}

// NewJigsaw builds the jigsaw task on the backbone s describes; the
// encoder is built for whole images (what is evaluated) and runs on tiles
// in training.
func NewJigsaw(s Spec, p JigsawParams, r *rand.Rand) (*Jigsaw, error) {
	g, err := resolveGrid("jigsaw", viewSize(s), &p.Patch, &p.Gap, &p.Jitter)
	if err != nil {
		return nil, err
	}
	if p.Augment.MinScale < 0 || p.Augment.MinScale > 1 {
		return nil, fmt.Errorf("jigsaw: augment.min_scale = %v must be in (0, 1]", p.Augment.MinScale)
	}
	if p.Permutations < 2 || p.Permutations > numTilePerms {
		return nil, fmt.Errorf("jigsaw: permutations = %d; want 2 to 9! = %d", p.Permutations, numTilePerms)
	}
	if err := checkDistanceBound(p.Permutations, p.MinDistance); err != nil {
		return nil, err
	}
	perms, err := JigsawPermutations(p.Permutations, p.PermSeed, p.Selection)
	if err != nil {
		return nil, err
	}
	if err := checkMinDistance(perms, p.MinDistance, p.Selection); err != nil {
		return nil, err
	}
	enc, err := nn.NewBackbone(s.Backbone, r)
	if err != nil {
		return nil, err
	}
	d := enc.OutDim()
	head, err := newClassifier("jigsaw", p.HeadParams, 9*d, 2*d, p.Permutations, r)
	if err != nil {
		return nil, err
	}
	buf := tensor.New(len(perms), 9)
	for i, pm := range perms {
		for k, t := range pm {
			buf.Data[i*9+k] = float32(t)
		}
	}
	o := augment.Options{Size: viewSize(s), Scale: [2]float64{0.6, 1}, Ratio: augment.DefaultRatio, Flip: 0.5}
	o = p.Augment.apply(o, s.Backbone.InChannels)
	return &Jigsaw{P: p, Grid: g, Enc: enc, Head: head, Perms: buf, views: []augment.Transform{o.Pipeline()}}, nil
}

// Permutation returns row label of the permutation set: for each input
// position, the grid cell whose tile goes there.
func (m *Jigsaw) Permutation(label int) [9]uint8 {
	var p [9]uint8
	for k := range p {
		p[k] = uint8(m.Perms.Data[label*9+k])
	}
	return p
}

// Label finds the permutation that arranges the tiles as order (the grid
// cell shown at each position): the class a perfect solver would answer.
func (m *Jigsaw) Label(order [9]uint8) (int, bool) {
	for l := 0; l < m.Perms.Dim(0); l++ {
		if m.Permutation(l) == order {
			return l, true
		}
	}
	return 0, false
}

// checkPerms makes sure the permutation buffer (perhaps loaded from a
// checkpoint) holds orders of the 9 tiles, and stops the step with an error
// the trainer reports (an autograd.OpError) if not.
func (m *Jigsaw) checkPerms() {
	s := m.Perms.Shape()
	if len(s) != 2 || s[1] != 9 || s[0] != m.P.Permutations {
		panic(&autograd.OpError{Op: "jigsaw", Msg: fmt.Sprintf("permutation buffer has shape %v, want [%d 9]", s, m.P.Permutations)})
	}
	for l := 0; l < s[0]; l++ {
		var seen [9]bool
		for _, v := range m.Perms.Data[l*9 : (l+1)*9] {
			if v < 0 || v > 8 || v != float32(int(v)) || seen[int(v)] {
				panic(&autograd.OpError{Op: "jigsaw", Msg: fmt.Sprintf("permutation %d is %v, not an order of the 9 tiles (a damaged checkpoint?)", l, m.Perms.Data[l*9:(l+1)*9])})
			}
			seen[int(v)] = true
		}
	}
}

// Encoder implements Method.
func (m *Jigsaw) Encoder() nn.Backbone { return m.Enc }

// Views implements Method (one view; the tiles are cut in Loss).
func (m *Jigsaw) Views() []augment.Transform { return m.views }

// Tiles cuts the puzzles out of the images x [N, C, H, W]: a pool tensor
// [9N, C, t, t] holding each image's nine tiles in shuffled order (tile k
// of image i at row 9i+k), and each image's permutation label, drawn
// uniformly from the set.
func (m *Jigsaw) Tiles(x *tensor.Tensor, r *rand.Rand) (*tensor.Tensor, []int) {
	m.checkPerms()
	n := x.Dim(0)
	labels := make([]int, n)
	m.wins = m.wins[:0]
	var pos [9][2]int
	for i := range labels {
		m.Grid.Sample(r, &pos)
		labels[i] = r.IntN(m.Perms.Dim(0))
		for _, cell := range m.Permutation(labels[i]) {
			m.wins = append(m.wins, window(i, &pos, int(cell)))
		}
	}
	return cropPatches(x, m.wins, m.Grid.Patch, m.P.Normalize), labels
}

// forward encodes all tiles as one batch and classifies each image's nine
// concatenated tile features.
func (m *Jigsaw) forward(b loader.Batch, r *rand.Rand) Output {
	n := b.Views[0].Dim(0)
	tiles, labels := m.Tiles(b.Views[0], r)
	z := m.Enc.Forward(autograd.Temp(tiles)) // [9n, D]
	feat := autograd.Reshape(z, n, 9*z.Shape()[1])
	return classify(m.Head.Forward(feat), labels, "jigsaw_acc")
}

// Loss implements Method: the P-way cross-entropy of the permutation
// classifier.
func (m *Jigsaw) Loss(b loader.Batch, r *rand.Rand) Output { return m.forward(b, r) }

// PretextMetrics implements PretextEvaluator: jigsaw accuracy and loss.
func (m *Jigsaw) PretextMetrics(b loader.Batch, r *rand.Rand) map[string]float64 {
	return pretextMetrics(m.forward(b, r), "jigsaw")
}

// AfterStep implements Method (nothing to update).
func (m *Jigsaw) AfterStep(float64) {}

// Collect implements nn.Module; the permutation set is the buffer
// "permutations".
func (m *Jigsaw) Collect(prefix string, s *nn.State) {
	m.Enc.Collect(prefix+"encoder.", s)
	m.Head.Collect(prefix+"jigsaw_head.", s)
	s.Buffer(prefix+"permutations", m.Perms)
}

// SetTraining implements nn.Module.
func (m *Jigsaw) SetTraining(on bool) {
	m.Enc.SetTraining(on)
	m.Head.SetTraining(on)
}
