package methods

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/tensor"
)

// MAEConfig holds the masked autoencoder's settings (He et al. 2021).
type MAEConfig struct {
	// MaskRatio is the fraction of patches hidden from the encoder (0.75).
	MaskRatio float64
	// DecoderDim, DecoderDepth, DecoderHeads size the light decoder
	// (512/8/16 for ViT-B in the paper; 128/2/4 at CIFAR scale).
	DecoderDim, DecoderDepth, DecoderHeads int
	// NormPixLoss normalises each target patch by its own mean and variance
	// (the paper's better-representation option).
	NormPixLoss bool
	// FixedPosEmbed gives the encoder and the decoder fixed 2-D sine-cosine
	// position embeddings (nn.SinCosPosEmbed), as the MAE code does, instead
	// of learned ones; both widths must then be multiples of 4.
	FixedPosEmbed bool
}

// MAEModel is the masked autoencoder network: a ViT encoder that sees only
// the visible patches, and a light transformer decoder that sees the encoded
// visible patches plus a shared learnable mask token at every hidden
// position and predicts the pixels of every patch.
type MAEModel struct {
	Cfg       MAEConfig
	Encoder   *nn.ViT
	DecEmbed  *nn.Linear
	MaskToken *autograd.Var // [1, 1, DecoderDim]
	DecPos    *autograd.Var // [1, 1+T, DecoderDim]
	DecBlocks []*nn.Block
	DecNorm   *nn.LayerNorm
	DecPred   *nn.Linear
}

// NewMAEModel builds the decoder around encoder.
func NewMAEModel(encoder *nn.ViT, cfg MAEConfig, r *rand.Rand) (*MAEModel, error) {
	if cfg.MaskRatio <= 0 || cfg.MaskRatio >= 1 {
		return nil, fmt.Errorf("mae: mask ratio %v must be in (0, 1)", cfg.MaskRatio)
	}
	t := encoder.Cfg.NumPatches()
	p := encoder.Cfg.PatchSize
	m := &MAEModel{
		Cfg:       cfg,
		Encoder:   encoder,
		DecEmbed:  nn.NewLinear(encoder.Cfg.Dim, cfg.DecoderDim, true, r),
		MaskToken: autograd.Param(tensor.New(1, 1, cfg.DecoderDim), "mask_token"),
		DecPos:    autograd.Param(tensor.New(1, 1+t, cfg.DecoderDim), "decoder_pos_embed"),
		DecNorm:   nn.NewLayerNorm(cfg.DecoderDim, 1e-6),
		DecPred:   nn.NewLinear(cfg.DecoderDim, p*p*encoder.Cfg.InChannels, true, r),
	}
	for i := 0; i < cfg.DecoderDepth; i++ {
		b, err := nn.NewBlock(cfg.DecoderDim, cfg.DecoderHeads, 4*cfg.DecoderDim, r)
		if err != nil {
			return nil, fmt.Errorf("mae decoder: %w", err)
		}
		m.DecBlocks = append(m.DecBlocks, b)
	}
	dec := decoderModule{m}
	nn.InitViTWeights(dec, r)
	nn.TruncNormal(m.MaskToken.Value, 0.02, r)
	if !cfg.FixedPosEmbed {
		nn.TruncNormal(m.DecPos.Value, 0.02, r)
		return m, nil
	}
	if err := encoder.UseSinCosPosEmbed(); err != nil {
		return nil, fmt.Errorf("mae encoder: %w", err)
	}
	if err := nn.FixSinCosPosEmbed(m.DecPos, encoder.Cfg.ImageSize/p); err != nil {
		return nil, fmt.Errorf("mae decoder (decoder_dim): %w", err)
	}
	return m, nil
}

// decoderModule views the decoder's layers as a Module.
type decoderModule struct{ m *MAEModel }

func (d decoderModule) Collect(prefix string, s *nn.State) {
	m := d.m
	m.DecEmbed.Collect(prefix+"decoder_embed.", s)
	s.Param(prefix+"mask_token", m.MaskToken)
	s.Param(prefix+"decoder_pos_embed", m.DecPos)
	for i, b := range m.DecBlocks {
		b.Collect(fmt.Sprintf("%sdecoder_blocks.%d.", prefix, i), s)
	}
	m.DecNorm.Collect(prefix+"decoder_norm.", s)
	m.DecPred.Collect(prefix+"decoder_pred.", s)
}

func (d decoderModule) SetTraining(bool) {}

// Collect implements nn.Module (encoder under "encoder.", decoder names as
// in the MAE code).
func (m *MAEModel) Collect(prefix string, s *nn.State) {
	m.Encoder.Collect(prefix+"encoder.", s)
	decoderModule{m}.Collect(prefix, s)
}

// SetTraining implements nn.Module.
func (m *MAEModel) SetTraining(bool) {}

// MAEOutput is one forward pass: the loss, the per-patch predictions
// [B, T, p*p*C] (call Pred.Retain() before Backward to read them after it)
// and the mask (true = hidden) per patch.
type MAEOutput struct {
	Loss *autograd.Var
	Pred *autograd.Var
	Mask [][]bool
}

// Forward masks a random MaskRatio of each image's patches (uniformly,
// without replacement: MAEMask over uniform noise drawn from r), encodes the
// visible ones, decodes all and returns the mean squared error over the
// hidden patches.
func (m *MAEModel) Forward(imgs *tensor.Tensor, r *rand.Rand) MAEOutput {
	b, t := imgs.Dim(0), m.Encoder.Cfg.NumPatches()
	flat := make([]float64, b*t) // one allocation for the batch's noise
	noise := make([][]float64, b)
	for i := range noise {
		noise[i] = flat[i*t : (i+1)*t]
		for j := range noise[i] {
			noise[i][j] = r.Float64()
		}
	}
	visible, hidden := MAEMask(noise, m.VisiblePatches())
	return m.ForwardMasked(imgs, visible, hidden)
}

// VisiblePatches is the number of patches per image the encoder sees:
// T * (1 - MaskRatio), rounded down as the MAE code does, at least 1.
func (m *MAEModel) VisiblePatches() int {
	return max(1, int(float64(m.Encoder.Cfg.NumPatches())*(1-m.Cfg.MaskRatio)))
}

// MAEMask splits each image's patches by its per-patch noise the way the
// MAE code's random_masking does: the patches sorted by ascending noise,
// the first keep visible (in that order), the rest hidden.
func MAEMask(noise [][]float64, keep int) (visible, hidden [][]int) {
	visible = make([][]int, len(noise))
	hidden = make([][]int, len(noise))
	for i, row := range noise {
		order := make([]int, len(row))
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return row[order[a]] < row[order[b]] })
		visible[i], hidden[i] = order[:keep], order[keep:]
	}
	return visible, hidden
}

// ForwardMasked is Forward with the mask given: visible[i] lists the
// patches of image i the encoder sees, hidden[i] the others (every image
// the same number of each).
func (m *MAEModel) ForwardMasked(imgs *tensor.Tensor, visible, hidden [][]int) MAEOutput {
	enc := m.Encoder
	b := imgs.Dim(0)
	t := enc.Cfg.NumPatches()
	keep := len(visible[0])
	x := autograd.Const(imgs)
	mask := make([][]bool, b)
	for i := range mask {
		mask[i] = make([]bool, t)
		for _, j := range hidden[i] {
			mask[i][j] = true
		}
	}
	tokens := enc.EmbedPatches(x)                 // [B, T, D]
	vis := autograd.GatherTokens(tokens, visible) // [B, keep, D]
	tokens.Free()
	h := enc.PrependCLS(vis) // [B, 1+keep, D]
	vis.Free()
	h = enc.RunBlocks(h, 0, len(enc.Blocks))
	hn := enc.Norm.Forward(h)
	h.Free()
	d := m.DecEmbed.Forward(hn) // [B, 1+keep, Dd]
	hn.Free()
	dd := m.Cfg.DecoderDim
	// full decoder sequence: cls, then every patch position: the encoded
	// token where visible, the mask token where hidden
	maskTok := autograd.IndexSelect(autograd.Reshape(m.MaskToken, 1, dd), make([]int, b*t)) // [B*T, Dd]
	base := autograd.Reshape(maskTok, b, t, dd)
	decVis := autograd.Narrow(d, 1, 1, keep)
	full := autograd.ScatterTokens(base, decVis, visible) // [B, T, Dd]
	decVis.Free()
	cls := autograd.Narrow(d, 1, 0, 1)
	d.Free()
	seq := autograd.Add(autograd.Concat(1, cls, full), m.DecPos)
	cls.Free()
	full.Free()
	for _, blk := range m.DecBlocks {
		y := blk.Forward(seq)
		seq.Free()
		seq = y
	}
	sn := m.DecNorm.Forward(seq)
	seq.Free()
	predAll := m.DecPred.Forward(sn) // [B, 1+T, p*p*C]
	sn.Free()
	pred := autograd.Narrow(predAll, 1, 1, t)
	predAll.Free()
	// target patches, optionally normalised per patch
	target := nn.Patchify(x, enc.Cfg.PatchSize)
	tv := target.Value.Clone()
	if m.Cfg.NormPixLoss {
		normalisePatches(tv)
	}
	loss := maskedMSE(pred, tv, hidden)
	return MAEOutput{Loss: loss, Pred: pred, Mask: mask}
}

// normalisePatches standardises each patch vector (last dim) in place.
func normalisePatches(t *tensor.Tensor) {
	d := t.Dim(-1)
	for r := 0; r < t.Len()/d; r++ {
		row := t.Data[r*d : (r+1)*d]
		var s, ss float64
		for _, v := range row {
			s += float64(v)
		}
		mu := s / float64(d)
		for _, v := range row {
			ss += (float64(v) - mu) * (float64(v) - mu)
		}
		// unbiased variance, as torch's .var() in the MAE code
		std := float32(math.Sqrt(ss/float64(d-1) + 1e-6))
		for i, v := range row {
			row[i] = (v - float32(mu)) / std
		}
	}
}

// maskedMSE is the mean over hidden patches of the per-patch mean squared
// error between pred and target [B, T, P].
func maskedMSE(pred *autograd.Var, target *tensor.Tensor, hidden [][]int) *autograd.Var {
	ph := autograd.GatherTokens(pred, hidden)
	th := tensor.New(ph.Shape()...)
	t, p := target.Dim(1), target.Dim(2)
	k := len(hidden[0])
	for bi, row := range hidden {
		for i, j := range row {
			copy(th.Data[(bi*k+i)*p:(bi*k+i+1)*p], target.Data[(bi*t+j)*p:(bi*t+j+1)*p])
		}
	}
	return autograd.MSE(ph, autograd.Const(th))
}

// MAEParams are the masked autoencoder method's hyper-parameters (He et al.
// 2021; the decoder is sized down for small images).
type MAEParams struct {
	MaskRatio    float64 `json:"mask_ratio"`    // 0.75
	DecoderDim   int     `json:"decoder_dim"`   // 128 (512 in the paper)
	DecoderDepth int     `json:"decoder_depth"` // 2 (8)
	DecoderHeads int     `json:"decoder_heads"` // 4 (16)
	NormPixLoss  bool    `json:"norm_pix_loss"` // true
	// PosEmbed is "sincos" (fixed 2-D sine-cosine position embeddings in
	// the encoder and the decoder, the MAE code's choice) or "learned".
	PosEmbed string        `json:"pos_embed"`
	Augment  AugmentParams `json:"augment"`
}

// DefaultMAEParams returns the defaults.
func DefaultMAEParams() MAEParams {
	return MAEParams{MaskRatio: 0.75, DecoderDim: 128, DecoderDepth: 2, DecoderHeads: 4, NormPixLoss: true,
		PosEmbed: "sincos", Augment: AugmentParams{MinScale: 0.2, Flip: true}}
}

// MAE is the masked-autoencoder method: MAEModel trained on one lightly
// augmented view (random resized crop with scale (0.2, 1), flip).
type MAE struct {
	P     MAEParams
	Model *MAEModel
	views []augment.Transform
}

func init() {
	register("mae", "MAE: a ViT encodes the visible 25% of patches, a light decoder reconstructs the rest (He et al. 2021); ViT only",
		TrainDefaults{Optimizer: "adamw", LR: 1.5e-4, WeightDecay: 0.05, WarmupFrac: 0.1, Beta2: 0.95},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultMAEParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			if p.PosEmbed != "sincos" && p.PosEmbed != "learned" {
				return nil, fmt.Errorf("mae: pos_embed %q is neither \"sincos\" nor \"learned\"", p.PosEmbed)
			}
			enc, err := nn.NewBackbone(s.Backbone, r)
			if err != nil {
				return nil, err
			}
			vit, ok := enc.(*nn.ViT)
			if !ok {
				return nil, fmt.Errorf("mae needs a ViT backbone (--arch vit-tiny or vit-small), not %s", s.Backbone.Arch)
			}
			model, err := NewMAEModel(vit, MAEConfig{MaskRatio: p.MaskRatio, DecoderDim: p.DecoderDim,
				DecoderDepth: p.DecoderDepth, DecoderHeads: p.DecoderHeads, NormPixLoss: p.NormPixLoss, FixedPosEmbed: p.PosEmbed == "sincos"}, r)
			if err != nil {
				return nil, err
			}
			o := augment.Options{Size: viewSize(s), Scale: [2]float64{0.2, 1}, Ratio: augment.DefaultRatio, Flip: 0.5}
			o = p.Augment.apply(o, s.Backbone.InChannels)
			return &MAE{P: p, Model: model, views: []augment.Transform{o.Pipeline()}}, nil
		})
}

// Encoder implements Method.
func (m *MAE) Encoder() nn.Backbone { return m.Model.Encoder }

// Views implements Method.
func (m *MAE) Views() []augment.Transform { return m.views }

// Loss implements Method.
func (m *MAE) Loss(b loader.Batch, r *rand.Rand) Output {
	return Output{Loss: m.Model.Forward(b.Views[0], r).Loss}
}

// PretextMetrics implements PretextEvaluator: the masked-patch
// reconstruction error.
func (m *MAE) PretextMetrics(b loader.Batch, r *rand.Rand) map[string]float64 {
	return map[string]float64{"masked_mse": float64(m.Model.Forward(b.Views[0], r).Loss.Item())}
}

// AfterStep implements Method (nothing to update).
func (m *MAE) AfterStep(float64) {}

// Collect implements nn.Module.
func (m *MAE) Collect(prefix string, s *nn.State) { m.Model.Collect(prefix, s) }

// SetTraining implements nn.Module.
func (m *MAE) SetTraining(on bool) { m.Model.SetTraining(on) }
