package methods

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"selfsup/autograd"
	"selfsup/color"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/tensor"
)

// SplitBrainParams are the split-brain autoencoder's hyper-parameters
// (Zhang, Isola, Efros 2017).
type SplitBrainParams struct {
	// Split names the two disjoint channel groups as "A|B", each a
	// comma-separated list of channel indices (after the colour conversion
	// of Space): "0|1,2" is L | ab in Lab, or R | GB without conversion.
	// Empty: channel 0 against all the others.
	Split string `json:"split"`
	// Space is the colour space the channels are split in: "lab" (3-channel
	// sRGB images converted to CIE Lab, scaled to L/50 - 1 and a/110,
	// b/110, about [-1, 1]: the paper's setting), "none" (the channels as
	// given: RGB, or RGB and depth), or empty: "lab" for 3 channels,
	// "none" otherwise.
	Space string `json:"space"`
	// HeadHidden is the width of each prediction head's hidden 3x3
	// convolutions, HeadLayers their number (at least 1). The paper's
	// network predicts through fc6 and fc7 (as convolutions) on top of the
	// conv5 features it is evaluated on, so that the last layers, not the
	// representation, specialise in the pixels.
	HeadHidden int `json:"head_hidden"`
	HeadLayers int `json:"head_layers"`
	// OutScale sets the prediction resolution: the image side divided by
	// OutScale, rounding up (4, about the paper's resolution).
	OutScale int `json:"out_scale"`
	// Loss is "classification" (the paper's best variant, "cl,cl": each
	// head predicts a distribution over quantised values of the other
	// group, trained with cross-entropy: L in LBins bins, ab in the
	// in-gamut bins of size BinSize) or "regression" (L2 on the scaled
	// channels, for any split). Empty: classification for the Lab split
	// of L against ab, regression otherwise.
	Loss string `json:"loss"`
	// LBins is the number of equal bins of L in [0, 100] (100, the
	// paper's); BinSize is the ab quantisation step (10, as in
	// colorization). Classification only.
	LBins   int     `json:"l_bins"`
	BinSize float64 `json:"bin_size"`
	// Augment holds the view recipe (random resized crop, flips; no colour
	// jitter, which would corrupt the cross-channel targets).
	Augment AugmentParams `json:"augment"`
}

// DefaultSplitBrainParams returns the defaults: channel 0 against the rest
// (L against ab for colour images), predicted at a quarter of the
// resolution.
func DefaultSplitBrainParams() SplitBrainParams {
	return SplitBrainParams{HeadHidden: 64, HeadLayers: 1, OutScale: 4, LBins: 100, BinSize: 10, Augment: AugmentParams{MinScale: 0.2, Flip: true}}
}

// SplitBrain is the split-brain autoencoder: two backbones on disjoint
// channel groups, each with a head predicting the other group's channels
// from its own (cross-channel prediction), the two losses summed. For
// colour images split into L and ab both directions are classifications
// over quantised values (L -> ab over the in-gamut ab bins, ab -> L over
// bins of L), the paper's best variant; other splits regress the scaled
// channels with L2 (the paper's regression variant). The representation is
// both backbones' pooled features concatenated (Encoder returns a
// SplitBrainEncoder).
type SplitBrain struct {
	P     SplitBrainParams
	Enc   *SplitBrainEncoder
	Heads [2]*splitHead
	// classify is true for the classification loss.
	classify bool
	// abBins are the ab bin centres [Q, 2] of the classification loss.
	abBins *tensor.Tensor
	// down pools the images to the prediction resolution for the targets.
	down    *resizer
	views   []augment.Transform
	scratch splitScratch
}

// splitScratch holds the classification labels of a step, reused across
// steps.
type splitScratch struct {
	ab, sw   []float32
	idx, bin []int32
	labels   []int
	counts   []int
}

// splitHead predicts one group's channels from the other's feature map at
// out x out: resize, 3x3 conv-BN-ReLU layers, 1x1 conv.
type splitHead struct {
	rs     *resizer
	Hidden []*convBN
	Pred   *nn.Conv2d
}

func newSplitHead(rs *resizer, in, hidden, layers, classes int, r *rand.Rand) *splitHead {
	h := &splitHead{rs: rs}
	for range layers {
		h.Hidden = append(h.Hidden, newConvBN(in, hidden, 3, r))
		in = hidden
	}
	h.Pred = newOutputConv(hidden, classes, 1, 1, r) // after the hidden layers: the seeds' draws stay as they were
	return h
}

func (h *splitHead) forward(f *autograd.Var) *autograd.Var {
	y := h.rs.forward(f)
	for _, l := range h.Hidden {
		z := l.forward(y)
		y.Free()
		y = z
	}
	out := h.Pred.Forward(y)
	y.Free()
	return out
}

// Collect names the first hidden layer "hidden." (as before head_layers
// existed, so older checkpoints load) and the others "hidden2.", ...
func (h *splitHead) Collect(prefix string, s *nn.State) {
	for i, l := range h.Hidden {
		name := "hidden."
		if i > 0 {
			name = fmt.Sprintf("hidden%d.", i+1)
		}
		l.Collect(prefix+name, s)
	}
	h.Pred.Collect(prefix+"pred.", s)
}

func (h *splitHead) SetTraining(on bool) {
	for _, l := range h.Hidden {
		l.SetTraining(on)
	}
}

func init() {
	register("splitbrain", "split-brain autoencoder: two sub-networks predict each other's channels (L <-> ab, or any channel split), features concatenated (Zhang et al. 2017); needs 2+ channels",
		// the paper trains with Adam in Caffe; no weight decay here
		TrainDefaults{Optimizer: "adamw", LR: 1e-3},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultSplitBrainParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewSplitBrain(s, p, r)
		})
}

// ParseChannelSplit parses "A|B" (comma-separated channel indices on each
// side) for images of c channels: both groups non-empty, disjoint, indices
// in [0, c). The groups need not cover every channel. Empty means "0|1..c-1".
func ParseChannelSplit(split string, c int) ([2][]int, error) {
	var g [2][]int
	if c < 2 {
		return g, fmt.Errorf("splitbrain: %d-channel images cannot be split into two channel groups (it needs at least 2 channels: colour, or e.g. RGB and depth)", c)
	}
	if split == "" {
		g[0] = []int{0}
		for i := 1; i < c; i++ {
			g[1] = append(g[1], i)
		}
		return g, nil
	}
	sides := strings.Split(split, "|")
	if len(sides) != 2 {
		return g, fmt.Errorf("splitbrain: split %q must be two channel lists separated by one '|', as in \"0|1,2\"", split)
	}
	seen := map[int]bool{}
	for i, side := range sides {
		for _, f := range strings.Split(side, ",") {
			f = strings.TrimSpace(f)
			k, err := strconv.Atoi(f)
			if err != nil {
				return g, fmt.Errorf("splitbrain: split %q: %q is not a channel index", split, f)
			}
			if k < 0 || k >= c {
				return g, fmt.Errorf("splitbrain: split %q: channel %d is out of range for %d-channel images", split, k, c)
			}
			if seen[k] {
				return g, fmt.Errorf("splitbrain: split %q: channel %d appears twice (the groups must be disjoint)", split, k)
			}
			seen[k] = true
			g[i] = append(g[i], k)
		}
	}
	return g, nil
}

// NewSplitBrain builds the split-brain autoencoder for the backbone s
// describes (each half gets its own copy, with its group's channel count).
func NewSplitBrain(s Spec, p SplitBrainParams, r *rand.Rand) (*SplitBrain, error) {
	c, size := s.Backbone.InChannels, viewSize(s)
	groups, err := ParseChannelSplit(p.Split, c)
	if err != nil {
		return nil, err
	}
	lab := false
	switch p.Space {
	case "":
		lab = c == 3
	case "lab":
		if c != 3 {
			return nil, fmt.Errorf("splitbrain: space \"lab\" needs 3-channel sRGB images, not %d channels (use \"none\")", c)
		}
		lab = true
	case "none":
	default:
		return nil, fmt.Errorf("splitbrain: space %q must be \"lab\", \"none\" or empty (lab for colour images)", p.Space)
	}
	if p.HeadHidden < 1 {
		return nil, fmt.Errorf("splitbrain: head_hidden %d must be at least 1", p.HeadHidden)
	}
	if p.HeadLayers < 1 || p.HeadLayers > 8 {
		return nil, fmt.Errorf("splitbrain: head_layers %d must be in [1, 8]", p.HeadLayers)
	}
	if p.OutScale < 1 || p.OutScale > size {
		return nil, fmt.Errorf("splitbrain: out_scale %d must be in [1, %d] (the image side)", p.OutScale, size)
	}
	out := (size + p.OutScale - 1) / p.OutScale
	m := &SplitBrain{P: p, Enc: &SplitBrainEncoder{Groups: groups, Lab: lab}, down: newResizer(size, size, out, out)}
	// the split is L | ab when one group is channel 0 alone and the other
	// holds the two remaining Lab channels
	isL := func(g []int) bool { return len(g) == 1 && g[0] == 0 }
	isLab := lab && len(groups[0])+len(groups[1]) == 3 && (isL(groups[0]) || isL(groups[1]))
	switch p.Loss {
	case "":
		m.classify = isLab
	case "classification":
		if !isLab {
			return nil, fmt.Errorf("splitbrain: loss \"classification\" quantises L and ab, so it needs colour images split into L and ab in Lab (split \"0|1,2\" or \"1,2|0\", space \"lab\"), not split %v in space %q: use loss \"regression\"", groups, p.Space)
		}
		m.classify = true
	case "regression":
	default:
		return nil, fmt.Errorf("splitbrain: loss %q must be \"classification\", \"regression\" or empty (classification for the L|ab split)", p.Loss)
	}
	// classes[i] is the width of head i's output: the other group's
	// channels (regression) or its number of bins (classification).
	var classes [2]int
	for i := range groups {
		classes[i] = len(groups[1-i])
	}
	if m.classify {
		if p.LBins < 2 || p.LBins > 1000 {
			return nil, fmt.Errorf("splitbrain: l_bins %d must be in [2, 1000]", p.LBins)
		}
		if p.BinSize < 1 || p.BinSize > 50 {
			return nil, fmt.Errorf("splitbrain: bin_size %v must be in [1, 50] (ab units)", p.BinSize)
		}
		m.abBins = gamutBins(p.BinSize)
		for i, g := range groups {
			if isL(g) { // this half sees L and predicts ab
				classes[i] = m.abBins.Dim(0)
			} else {
				classes[i] = p.LBins
			}
		}
	}
	for i, g := range groups {
		cfg := s.Backbone
		cfg.InChannels = len(g)
		enc, err := nn.NewBackbone(cfg, r)
		if err != nil {
			return nil, err
		}
		fc, fh, fw, err := backboneMapShape(enc, len(g), size)
		if err != nil {
			return nil, fmt.Errorf("splitbrain: %s on %dx%d images: %w", cfg.Arch, size, size, err)
		}
		m.Enc.Nets[i] = enc
		m.Heads[i] = newSplitHead(newResizer(fh, fw, out, out), fc, p.HeadHidden, p.HeadLayers, classes[i], r)
	}
	o := augment.Options{Size: size, Scale: [2]float64{0.2, 1}, Ratio: augment.DefaultRatio, Flip: 0.5}
	o = p.Augment.apply(o, c)
	o.Mean, o.Std = nil, nil // the targets are the raw channels
	m.views = []augment.Transform{o.Pipeline()}
	return m, nil
}

// predictions runs both halves on their groups of x and returns each
// head's loss against the other group, downsampled to the prediction
// resolution (adaptive average pooling): the mean squared error, or the
// cross-entropy against the bins of the targets. With the classification
// loss, acc holds each head's share of pixels whose most likely bin is the
// target's, and chance the share of the target's most common bin in the
// batch (what always naming it would score).
func (m *SplitBrain) predictions(x *tensor.Tensor) (errs [2]*autograd.Var, acc, chance [2]float64) {
	inputs := m.Enc.split(x)
	for i := range 2 {
		f := backboneMap(m.Enc.Nets[i], inputs[i])
		pred := m.Heads[i].forward(f)
		f.Free()
		var target *autograd.Var
		autograd.NoGrad(func() { target = m.down.forward(inputs[1-i]) })
		if m.classify {
			// Free is a no-op on values the graph still needs
			labels := m.binLabels(target.Value)
			target.Free()
			perm := autograd.Permute(pred, 0, 2, 3, 1)
			pred.Free()
			rows := autograd.Reshape(perm, -1, perm.Value.Dim(3))
			errs[i] = autograd.CrossEntropy(rows, labels, 0)
			acc[i], chance[i] = classAccuracy(rows.Value, labels), m.modeShare(labels, rows.Value.Dim(1))
			perm.Free()
			continue
		}
		errs[i] = autograd.MSE(pred, target)
		if !autograd.GradEnabled() {
			pred.Free()
			target.Free()
		}
	}
	freeInputs(inputs)
	return errs, acc, chance
}

// binLabels returns the class of every pixel of a downsampled target group
// [N, C, H, W] in (n, y, x) order: the bin of L (C = 1; scaled L/50 - 1
// back to [0, 100], LBins equal bins) or the nearest in-gamut ab bin
// (C = 2; scaled by 1/110). The slice is scratch, valid until the next
// call.
func (m *SplitBrain) binLabels(t *tensor.Tensor) []int {
	n, c, hw := t.Dim(0), t.Dim(1), t.Dim(2)*t.Dim(3)
	s := &m.scratch
	p := n * hw
	s.labels = growScratch(s.labels, p)
	labels := s.labels
	if c == 1 {
		for k, v := range t.Data[:p] {
			labels[k] = lightnessBin(v, m.P.LBins)
		}
		return labels
	}
	s.ab, s.sw, s.idx, s.bin = growScratch(s.ab, 2*p), growScratch(s.sw, p), growScratch(s.idx, p), growScratch(s.bin, p)
	for img := range n {
		a := t.Data[(2*img)*hw : (2*img+1)*hw]
		b := t.Data[(2*img+1)*hw : (2*img+2)*hw]
		for k := range hw {
			r := img*hw + k
			s.ab[2*r], s.ab[2*r+1] = a[k]*labScale, b[k]*labScale
		}
	}
	softEncode(s.ab, m.abBins, 1, 1, s.idx, s.sw, s.bin)
	for k, j := range s.bin {
		labels[k] = int(j)
	}
	return labels
}

// lightnessBin is the bin of a scaled lightness v = L/50 - 1 among bins
// equal bins of L in [0, 100] (values outside clamp to the end bins).
func lightnessBin(v float32, bins int) int {
	k := int(math.Floor(float64(v+1) * 50 * float64(bins) / 100))
	return min(max(k, 0), bins-1)
}

// modeShare is the share of the most common of labels in [0, q): what
// always naming that class would score.
func (m *SplitBrain) modeShare(labels []int, q int) float64 {
	m.scratch.counts = growScratch(m.scratch.counts, q)
	counts := m.scratch.counts
	clear(counts)
	most := 0
	for _, l := range labels {
		counts[l]++
		most = max(most, counts[l])
	}
	return float64(most) / float64(len(labels))
}

// Loss implements Method: the two cross-channel prediction losses summed.
func (m *SplitBrain) Loss(b loader.Batch, _ *rand.Rand) Output {
	e, acc, _ := m.predictions(b.Views[0])
	return Output{Loss: autograd.Add(e[0], e[1]), Metrics: m.metrics(e, acc)}
}

// metrics names each direction's loss and, for the classification loss,
// its accuracy ("a" is the split's first group).
func (m *SplitBrain) metrics(e [2]*autograd.Var, acc [2]float64) map[string]float64 {
	if !m.classify {
		return map[string]float64{"mse_a_to_b": float64(e[0].Item()), "mse_b_to_a": float64(e[1].Item())}
	}
	return map[string]float64{"ce_a_to_b": float64(e[0].Item()), "ce_b_to_a": float64(e[1].Item()),
		"acc_a_to_b": acc[0], "acc_b_to_a": acc[1]}
}

// PretextMetrics implements PretextEvaluator: each direction's mean squared
// error, or its cross-entropy, bin accuracy and chance level (the share of
// the batch's most common target bin).
func (m *SplitBrain) PretextMetrics(b loader.Batch, _ *rand.Rand) map[string]float64 {
	e, acc, chance := m.predictions(b.Views[0])
	res := m.metrics(e, acc)
	if m.classify {
		res["chance_a_to_b"], res["chance_b_to_a"] = chance[0], chance[1]
	}
	return res
}

// Encoder implements Method.
func (m *SplitBrain) Encoder() nn.Backbone { return m.Enc }

// Views implements Method.
func (m *SplitBrain) Views() []augment.Transform { return m.views }

// AfterStep implements Method (nothing to update).
func (m *SplitBrain) AfterStep(float64) {}

// Collect implements nn.Module.
func (m *SplitBrain) Collect(prefix string, s *nn.State) {
	m.Enc.Collect(prefix+"encoder.", s)
	m.Heads[0].Collect(prefix+"head_a.", s)
	m.Heads[1].Collect(prefix+"head_b.", s)
}

// SetTraining implements nn.Module.
func (m *SplitBrain) SetTraining(on bool) {
	m.Enc.SetTraining(on)
	m.Heads[0].SetTraining(on)
	m.Heads[1].SetTraining(on)
}

// SplitBrainEncoder is the split-brain representation as one nn.Backbone:
// it converts the input to Lab (when Lab is set), picks each group's
// channels, runs the group's backbone on them and concatenates the two
// outputs (features, or per-stage maps along the channel axis, tokens along
// the feature axis). The conversion and selection copy the input's values,
// so no gradient flows back to the input images (none is needed: they are
// data).
type SplitBrainEncoder struct {
	Groups [2][]int
	Nets   [2]nn.Backbone
	// Lab converts sRGB input to scaled Lab (see SplitBrainParams.Space)
	// before the split.
	Lab bool
}

// labScale maps CIE L in [0, 100] and a, b (about +-110) to about [-1, 1].
const labScale = 110

// scaledLab returns x [N, 3, H, W] in sRGB as scaled Lab in a pool tensor.
func scaledLab(x *tensor.Tensor) *tensor.Tensor {
	hw := x.Dim(2) * x.Dim(3)
	out := tensor.Buffers.Get(x.Shape()...)
	if err := color.RGBToLabPlanar(out.Data, x.Data, hw); err != nil {
		panic(&autograd.OpError{Op: "SplitBrainEncoder", Msg: err.Error()})
	}
	for i := 0; i < x.Dim(0); i++ {
		img := out.Data[i*3*hw : (i+1)*3*hw]
		for j := range img[:hw] {
			img[j] = img[j]/50 - 1
		}
		for j := hw; j < 3*hw; j++ {
			img[j] /= labScale
		}
	}
	return out
}

// split copies each group's channels of x [N, C, H, W] into its own tensor.
func (e *SplitBrainEncoder) split(x *tensor.Tensor) [2]*autograd.Var {
	s := x.Shape()
	want := 0
	for _, g := range e.Groups {
		for _, k := range g {
			want = max(want, k+1)
		}
	}
	if len(s) != 4 || s[1] < want || (e.Lab && s[1] != 3) {
		panic(&autograd.OpError{Op: "SplitBrainEncoder", Msg: fmt.Sprintf("input %v is not [N, C, H, W] with the %d channels the split %v needs (3 for Lab: %v)", s, want, e.Groups, e.Lab)})
	}
	if e.Lab {
		x = scaledLab(x)
		defer tensor.Buffers.Put(x)
	}
	n, c, hw := s[0], s[1], s[2]*s[3]
	var out [2]*autograd.Var
	for i, g := range e.Groups {
		t := tensor.Buffers.Get(n, len(g), s[2], s[3])
		for b := 0; b < n; b++ {
			for j, k := range g {
				copy(t.Data[(b*len(g)+j)*hw:(b*len(g)+j+1)*hw], x.Data[(b*c+k)*hw:(b*c+k+1)*hw])
			}
		}
		out[i] = autograd.Temp(t)
	}
	return out
}

// freeInputs returns the split inputs to the pool when no graph holds them.
func freeInputs(in [2]*autograd.Var) {
	if !autograd.GradEnabled() {
		in[0].Free()
		in[1].Free()
	}
}

// Forward implements nn.Layer: the two backbones' features concatenated,
// [N, OutDim].
func (e *SplitBrainEncoder) Forward(x *autograd.Var) *autograd.Var {
	in := e.split(x.Value)
	a := e.Nets[0].Forward(in[0])
	b := e.Nets[1].Forward(in[1])
	freeInputs(in)
	out := autograd.Concat(1, a, b)
	a.Free()
	b.Free()
	return out
}

// OutDim implements nn.Backbone: the sum of both halves' widths.
func (e *SplitBrainEncoder) OutDim() int { return e.Nets[0].OutDim() + e.Nets[1].OutDim() }

// NumStages implements nn.Backbone (both halves share the architecture).
func (e *SplitBrainEncoder) NumStages() int { return min(e.Nets[0].NumStages(), e.Nets[1].NumStages()) }

// ForwardStages implements nn.Backbone: each half's stage outputs,
// concatenated stage by stage (maps [N, C, H, W] along C, ViT tokens
// [N, T, D] along D).
func (e *SplitBrainEncoder) ForwardStages(x *autograd.Var, upto int, keep bool) []*autograd.Var {
	in := e.split(x.Value)
	a := e.Nets[0].ForwardStages(in[0], upto, keep)
	b := e.Nets[1].ForwardStages(in[1], upto, keep)
	freeInputs(in)
	out := make([]*autograd.Var, len(a))
	for i := range a {
		axis := 1
		if a[i].Value.Dims() == 3 {
			axis = 2
		}
		out[i] = autograd.Concat(axis, a[i], b[i])
		a[i].Free()
		b[i].Free()
	}
	return out
}

// StageModules implements nn.Backbone: stage i of both halves together, so
// freezing the first k stages freezes them in both.
func (e *SplitBrainEncoder) StageModules() []nn.Module {
	a, b := e.Nets[0].StageModules(), e.Nets[1].StageModules()
	out := make([]nn.Module, min(len(a), len(b)))
	for i := range out {
		out[i] = pairModule{a[i], b[i]}
	}
	return out
}

// Collect implements nn.Module: the halves under "a." and "b.".
func (e *SplitBrainEncoder) Collect(prefix string, s *nn.State) {
	pairModule{e.Nets[0], e.Nets[1]}.Collect(prefix, s)
}

// SetTraining implements nn.Module.
func (e *SplitBrainEncoder) SetTraining(on bool) {
	e.Nets[0].SetTraining(on)
	e.Nets[1].SetTraining(on)
}

// pairModule is two modules side by side, named "a." and "b.".
type pairModule [2]nn.Module

func (p pairModule) Collect(prefix string, s *nn.State) {
	p[0].Collect(prefix+"a.", s)
	p[1].Collect(prefix+"b.", s)
}

func (p pairModule) SetTraining(on bool) {
	p[0].SetTraining(on)
	p[1].SetTraining(on)
}
