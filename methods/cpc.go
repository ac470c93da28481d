package methods

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/tensor"
)

// CPCParams are the image CPC's hyper-parameters (Hénaff et al. 2019,
// "CPC v2": patches of 64 with stride 32 on 224-pixel images).
type CPCParams struct {
	// Patch and Stride cut each image into an overlapping grid (0: a
	// quarter of the image and half of that, as 64/32 on 256-pixel crops).
	Patch  int `json:"patch"`
	Stride int `json:"stride"`
	// Steps is how many rows below the context predicts (CPC v2: up to 5
	// on a 7x7 grid; 2 by default here for small grids).
	Steps int `json:"steps"`
	// ContextDim is the width of the context network.
	ContextDim int `json:"context_dim"`
	// Tau is the InfoNCE temperature. The scores are cosine similarities
	// (predictions and targets L2-normalised), which need one: at 1 the
	// loss cannot fall far below its chance level log(N) (the paper's raw
	// bilinear scores set their own scale instead).
	Tau     float32       `json:"tau"`
	Augment AugmentParams `json:"augment"`
}

// DefaultCPCParams returns the defaults.
func DefaultCPCParams() CPCParams {
	return CPCParams{Steps: 2, ContextDim: 256, Tau: 0.1, Augment: AugmentParams{MinScale: 0.5, Flip: true}}
}

// CPC is contrastive predictive coding on images (van den Oord et al. 2018;
// Hénaff et al. 2019): the encoder embeds every patch of an overlapping
// grid, a causal context network summarises the rows above each position
// (and its own row), and a linear map per offset k predicts the embedding k
// rows below; InfoNCE picks it out among all patch embeddings of the batch.
// The context network here is two causal 3x3 convolutions (CPC v2 uses a
// deeper PixelCNN-style stack).
type CPC struct {
	P       CPCParams
	Enc     nn.Backbone
	Context []*nn.Conv2d
	Predict []*nn.Linear // one per offset k = 1..Steps
	views   []augment.Transform
	grid    int
}

func init() {
	register("cpc", "CPC: a causal context over a grid of patch embeddings predicts the rows below with InfoNCE (Hénaff et al. 2019)",
		TrainDefaults{Optimizer: "adamw", LR: 2e-3, WeightDecay: 1e-5, WarmupFrac: 0.05},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultCPCParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewCPC(s, p, r)
		})
}

// NewCPC builds CPC on the backbone s describes; the backbone embeds
// patches (and, for evaluation, whole images).
func NewCPC(s Spec, p CPCParams, r *rand.Rand) (*CPC, error) {
	size := viewSize(s)
	if p.Patch == 0 {
		p.Patch = max(size/4+size/8, 4)
	}
	if p.Stride == 0 {
		p.Stride = max(p.Patch/2, 1)
	}
	if p.Patch > size || p.Stride < 1 {
		return nil, fmt.Errorf("cpc: patch %d with stride %d does not fit %d-pixel images", p.Patch, p.Stride, size)
	}
	grid := (size-p.Patch)/p.Stride + 1
	if p.Steps < 1 || p.Steps >= grid {
		return nil, fmt.Errorf("cpc: %d prediction steps need a grid of more rows than %d (patch %d, stride %d on %d pixels)", p.Steps, grid, p.Patch, p.Stride, size)
	}
	if err := checkPositive("cpc", "tau", float64(p.Tau)); err != nil {
		return nil, err
	}
	// the backbone is built for whole images (evaluation); on the smaller
	// patches a ResNet pools over what is there and a ViT resamples its
	// position embedding
	enc, err := nn.NewBackbone(s.Backbone, r)
	if err != nil {
		return nil, err
	}
	d := enc.OutDim()
	m := &CPC{P: p, Enc: enc, grid: grid}
	m.Context = []*nn.Conv2d{nn.NewConv2d(d, p.ContextDim, 3, 1, 0, true, r), nn.NewConv2d(p.ContextDim, p.ContextDim, 3, 1, 0, true, r)}
	for k := 0; k < p.Steps; k++ {
		m.Predict = append(m.Predict, nn.NewLinear(p.ContextDim, d, false, r))
	}
	o := augment.SimCLROptions(size, 0.5)
	o.Scale = [2]float64{0.5, 1}
	o = p.Augment.apply(o, s.Backbone.InChannels)
	m.views = []augment.Transform{o.Pipeline()}
	return m, nil
}

// Encoder implements Method: the encoder applied as in training, to the
// image's patch grid, its features averaged over the patches (CPC v2's
// evaluation: a linear classifier on the mean-pooled grid of patch
// features). The bare backbone is m.Enc.
func (m *CPC) Encoder() nn.Backbone {
	return &PatchGridBackbone{Backbone: m.Enc, Patch: m.P.Patch, Stride: m.P.Stride}
}

// Views implements Method (one view per image; the patches are its parts).
func (m *CPC) Views() []augment.Transform { return m.views }

// causal applies a 3x3 convolution whose output at row r sees rows r-2..r
// only: two zero rows above, one zero column each side, no padding below.
func causal(x *autograd.Var, c *nn.Conv2d) *autograd.Var {
	s := x.Shape()
	b, ch, h, w := s[0], s[1], s[2], s[3]
	top := autograd.Const(tensor.New(b, ch, 2, w))
	x = autograd.Concat(2, top, x)
	side := autograd.Const(tensor.New(b, ch, h+2, 1))
	x = autograd.Concat(3, side, x, side)
	return c.Forward(x)
}

// Loss implements Method.
func (m *CPC) Loss(b loader.Batch, _ *rand.Rand) Output {
	patches, gh, gw := tensor.ExtractPatches(b.Views[0], m.P.Patch, m.P.Stride)
	n := b.Views[0].Dim(0)
	z := m.Enc.Forward(autograd.Temp(patches)) // [n*gh*gw, D]
	d := z.Shape()[1]
	// [n, gh, gw, D] -> [n, D, gh, gw] for the context convolutions
	grid := autograd.Permute(autograd.Reshape(z, n, gh, gw, d), 0, 3, 1, 2)
	c := autograd.ReLU(causal(grid, m.Context[0]))
	c = causal(c, m.Context[1]) // [n, C, gh, gw]
	cd := m.P.ContextDim
	ctx := autograd.Permute(c, 0, 2, 3, 1) // [n, gh, gw, C]
	zn := autograd.L2Normalize(z, 1e-12)
	var total *autograd.Var
	for k := 1; k <= m.P.Steps; k++ {
		rows := gh - k
		// contexts of rows 0..gh-k-1 predict rows k..gh-1
		src := autograd.Reshape(autograd.Narrow(ctx, 1, 0, rows), n*rows*gw, cd)
		pred := autograd.L2Normalize(m.Predict[k-1].Forward(src), 1e-12) // [n*rows*gw, D]
		logits := autograd.Scale(autograd.MatMul(pred, zn, false, true), 1/m.P.Tau)
		targets := make([]int, 0, n*rows*gw)
		for i := 0; i < n; i++ {
			for r := 0; r < rows; r++ {
				for col := 0; col < gw; col++ {
					targets = append(targets, (i*gh+r+k)*gw+col)
				}
			}
		}
		l := autograd.CrossEntropy(logits, targets, 0)
		if total == nil {
			total = l
		} else {
			total = autograd.Add(total, l)
		}
	}
	total = autograd.Scale(total, 1/float32(m.P.Steps))
	chance := math.Log(float64(n * gh * gw))
	return Output{Loss: total, Embedding: z, Metrics: map[string]float64{"chance_loss": chance}}
}

// AfterStep implements Method (nothing to update).
func (m *CPC) AfterStep(float64) {}

// Collect implements nn.Module.
func (m *CPC) Collect(prefix string, s *nn.State) {
	m.Enc.Collect(prefix+"encoder.", s)
	for i, c := range m.Context {
		c.Collect(fmt.Sprintf("%scontext.%d.", prefix, i), s)
	}
	for i, p := range m.Predict {
		p.Collect(fmt.Sprintf("%spredict.%d.", prefix, i), s)
	}
}

// SetTraining implements nn.Module.
func (m *CPC) SetTraining(on bool) { m.Enc.SetTraining(on) }

// PatchGridBackbone applies a backbone to an overlapping grid of patches of
// each image (Patch pixels, Stride apart, as tensor.ExtractPatches cuts
// them) and reports the image's features as the mean over its patches: the
// representation an encoder trained on patches (CPC) is evaluated with.
type PatchGridBackbone struct {
	// Backbone is the patch encoder; its methods other than Forward and
	// ForwardStages are PatchGridBackbone's.
	nn.Backbone
	Patch, Stride int
}

// Forward implements nn.Layer: [N, C, H, W] -> [N, OutDim], the mean of the
// patches' pooled features.
func (b *PatchGridBackbone) Forward(x *autograd.Var) *autograd.Var {
	patches, gh, gw := tensor.ExtractPatches(x.Value, b.Patch, b.Stride)
	n := x.Value.Dim(0)
	z := b.Backbone.Forward(autograd.Temp(patches)) // [n*gh*gw, D]
	return autograd.MeanAxis(autograd.Reshape(z, n, gh*gw, z.Shape()[1]), 1, false)
}

// ForwardStages implements nn.Backbone: every stage's patch feature maps
// [N*gh*gw, C, h, w] tiled into one map per image, [N, C, gh*h, gw*w] (the
// patches in grid order), so that global pooling averages over the patches.
func (b *PatchGridBackbone) ForwardStages(x *autograd.Var, upto int, keep bool) []*autograd.Var {
	patches, gh, gw := tensor.ExtractPatches(x.Value, b.Patch, b.Stride)
	n := x.Value.Dim(0)
	ys := b.Backbone.ForwardStages(autograd.Temp(patches), upto, keep)
	for i, y := range ys {
		s := y.Shape()
		if len(s) != 4 { // a token sequence (ViT): average the patches' tokens
			ys[i] = autograd.MeanAxis(autograd.Reshape(y, append([]int{n, gh * gw}, s[1:]...)...), 1, false)
			continue
		}
		c, h, w := s[1], s[2], s[3]
		t := autograd.Permute(autograd.Reshape(y, n, gh, gw, c, h, w), 0, 3, 1, 4, 2, 5)
		ys[i] = autograd.Reshape(t, n, c, gh*h, gw*w)
	}
	return ys
}
