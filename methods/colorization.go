package methods

import (
	"fmt"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/color"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/tensor"
)

// ColorizationParams are the colorization method's hyper-parameters
// (Zhang, Isola and Efros 2016, "Colorful Image Colorization").
type ColorizationParams struct {
	// Variant is "classification" (the paper's: a distribution over
	// quantised ab bins) or "regression" (its L2 baseline on ab).
	Variant string `json:"variant"`
	// Grid is the side of the predicted ab grid; 0 means a quarter of the
	// image side, the paper's output resolution (8 at 32 pixels).
	Grid int `json:"grid"`
	// BinSize is the ab quantisation step (10); the in-gamut bins are
	// those some sRGB colour falls into (261 at size 10).
	BinSize float64 `json:"bin_size"`
	// SoftK and SoftSigma are the soft encoding: the SoftK (5) nearest bins
	// of a target colour, weighted by a Gaussian of width SoftSigma (5).
	SoftK     int     `json:"soft_k"`
	SoftSigma float64 `json:"soft_sigma"`
	// Rebalance weights each pixel's loss by the rarity of its colour
	// (true); PriorSigma (5) smooths the empirical distribution and
	// PriorLambda (0.5) mixes it with the uniform one.
	Rebalance   bool    `json:"rebalance"`
	PriorSigma  float64 `json:"prior_sigma"`
	PriorLambda float64 `json:"prior_lambda"`
	// Temperature of the annealed-mean decoding (0.38).
	Temperature float64 `json:"temperature"`
	// DecoderDim is the width of the decoder's 3x3 convolution (128; the
	// paper's conv8 block has 256 channels at ImageNet scale).
	DecoderDim int `json:"decoder_dim"`
	// Augment is the view recipe: crops of scale (MinScale, 1), default
	// 0.5, and flips. Colour jitter never applies: colours are the labels.
	Augment AugmentParams `json:"augment"`
}

// DefaultColorizationParams returns the paper's settings (the decoder is
// sized down for 32-pixel images).
func DefaultColorizationParams() ColorizationParams {
	return ColorizationParams{Variant: "classification", BinSize: 10, SoftK: 5, SoftSigma: 5, Rebalance: true,
		PriorSigma: 5, PriorLambda: 0.5, Temperature: 0.38, DecoderDim: 128,
		Augment: AugmentParams{MinScale: 0.5, Flip: true}}
}

// Colorization predicts the colour channels of an image from its lightness
// (Zhang, Isola and Efros 2016): images are converted to CIE Lab, the
// backbone (built with one input channel) sees the normalised L channel,
// and a small decoder maps its last feature map, upsampled, to the ab
// channels on a grid of a quarter of the image's resolution. The
// classification variant predicts a distribution over the in-gamut ab bins,
// trained with soft-encoded targets and a cross-entropy whose pixels are
// weighted by the rarity of their colour; colours are decoded as the
// annealed mean (temperature 0.38). The regression variant predicts ab
// (divided by 110) with an L2 loss.
//
// The empirical colour distribution behind the rebalancing weights is
// measured on the training batches themselves (the paper measures it once on
// ImageNet): a running mean of the nearest-bin histogram, kept in the state
// dict ("ab_prior", with the pixel count "ab_prior_pixels") so that it is
// saved with checkpoints; after ten million pixels it becomes an
// exponential moving average.
//
// Encoder returns a LightnessBackbone: the backbone behind a conversion of
// RGB input to its normalised L channel, so that evaluations feeding whole
// colour images measure the features the pretext task trained.
type Colorization struct {
	P   ColorizationParams
	Net nn.Backbone // the 1-channel backbone
	// Up is the decoder's first layer: nearest upsampling by this factor
	// from the backbone's last feature map to the ab grid.
	Up         int
	Conv       *nn.Conv2d
	BN         *nn.BatchNorm
	Out        *nn.Linear     // per-pixel output layer (a 1x1 convolution): bin logits or ab
	Bins       *tensor.Tensor // [Q, 2] ab bin centres; nil for regression
	Prior      *tensor.Tensor // [Q] empirical bin distribution
	PriorCount *tensor.Tensor // [1] pixels behind Prior
	enc        *LightnessBackbone
	views      []augment.Transform
	size, grid int
	kernel     []float64 // prior smoothing kernel, made on first use
	scratch    colorScratch
}

// colorScratch holds the per-step label buffers, reused across steps.
type colorScratch struct {
	ab, sw, hist []float32
	idx, nearest []int32
	argmax       []int32
	weights      []float32
}

// regressionScale divides ab for the regression variant (the range of a
// and b, as in the reference PyTorch code's ab_norm).
const regressionScale = 110

// priorHorizon is the pixel count after which the running colour
// distribution turns into an exponential moving average.
const priorHorizon = 1e7

func init() {
	register("colorization", "colorization: predict the ab colour channels from the lightness L, as classes over quantised ab bins with rebalancing (Zhang et al. 2016); colour images only",
		TrainDefaults{Optimizer: "adamw", LR: 2e-4, WeightDecay: 1e-3},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultColorizationParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewColorization(s, p, r)
		})
}

// NewColorization builds the method for the spec's backbone (trained on one
// channel whatever the spec's input channels say, which must be 3).
func NewColorization(s Spec, p ColorizationParams, r *rand.Rand) (*Colorization, error) {
	if s.Backbone.InChannels != 3 {
		return nil, fmt.Errorf("colorization needs colour images (3 channels), but the data has %d: use a colour dataset such as synthetic:shapes or cifar10:DIR", s.Backbone.InChannels)
	}
	size := s.Backbone.ImageSize
	grid := p.Grid
	if grid == 0 {
		grid = max(1, size/4)
	}
	if err := p.check(size, grid); err != nil {
		return nil, err
	}
	cfg := s.Backbone
	cfg.InChannels = 1
	net, err := nn.NewBackbone(cfg, r)
	if err != nil {
		return nil, err
	}
	ch, side, w, err := backboneMapShape(net, 1, size)
	if err != nil {
		return nil, err
	}
	if side != w || grid%side != 0 {
		return nil, fmt.Errorf("colorization: grid %d is not a multiple of the %dx%d feature map of %s at %d pixels (try grid %d)", grid, side, side, cfg.Arch, size, side*max(1, grid/side))
	}
	m := &Colorization{P: p, Net: net, Up: grid / side, size: size, grid: grid,
		Conv: nn.NewConv2d(ch, p.DecoderDim, 3, 1, 1, false, r), BN: nn.NewBatchNorm(p.DecoderDim, true)}
	outputs := 2
	if p.Variant == "classification" {
		m.Bins = gamutBins(p.BinSize)
		outputs = m.Bins.Dim(0)
		if p.SoftK > outputs {
			return nil, fmt.Errorf("colorization: soft_k %d is more than the %d in-gamut bins", p.SoftK, outputs)
		}
		m.Prior, m.PriorCount = tensor.New(outputs), tensor.New(1)
	}
	m.Out = nn.NewLinear(p.DecoderDim, outputs, true, r)
	m.enc = &LightnessBackbone{Backbone: net}
	o := augment.Options{Size: size, Scale: [2]float64{0.5, 1}, Ratio: augment.DefaultRatio, Flip: 0.5}
	o = p.Augment.apply(o, 3)
	o.Jitter, o.Grayscale, o.Mean, o.Std = augment.ColorJitter{}, 0, nil, nil
	m.views = []augment.Transform{o.Pipeline()}
	return m, nil
}

// check validates the parameters for images of the given size.
func (p ColorizationParams) check(size, grid int) error {
	switch {
	case p.Variant != "classification" && p.Variant != "regression":
		return fmt.Errorf("colorization: variant %q must be classification or regression", p.Variant)
	case grid < 1 || size%grid != 0:
		return fmt.Errorf("colorization: grid %d must be positive and divide the image size %d", grid, size)
	case !(p.BinSize >= 2 && p.BinSize <= 50):
		return fmt.Errorf("colorization: bin_size %v must lie in [2, 50] (ab units; a and b span about 200)", p.BinSize)
	case p.SoftK < 1 || p.SoftK > maxSoftK:
		return fmt.Errorf("colorization: soft_k %d must lie in [1, %d]", p.SoftK, maxSoftK)
	case !(p.SoftSigma > 0):
		return fmt.Errorf("colorization: soft_sigma %v must be positive", p.SoftSigma)
	case !(p.PriorSigma >= 0):
		return fmt.Errorf("colorization: prior_sigma %v must not be negative", p.PriorSigma)
	case !(p.PriorLambda > 0 && p.PriorLambda <= 1):
		return fmt.Errorf("colorization: prior_lambda %v must lie in (0, 1]", p.PriorLambda)
	case !(p.Temperature > 0 && p.Temperature <= 10):
		return fmt.Errorf("colorization: temperature %v must lie in (0, 10]", p.Temperature)
	case p.DecoderDim < 1:
		return fmt.Errorf("colorization: decoder_dim %d must be positive", p.DecoderDim)
	}
	return nil
}

// forward maps normalised lightness [N, 1, H, W] to per-pixel outputs
// [N*G*G, K] (rows in (n, y, x) order): bin logits or scaled ab.
func (m *Colorization) forward(l *autograd.Var) *autograd.Var {
	f := backboneMap(m.Net, l)
	if m.Up > 1 {
		u := autograd.UpsampleNearest(f, m.Up)
		f.Free()
		f = u
	}
	c := m.Conv.Forward(f)
	f.Free()
	h := m.BN.ForwardReLU(c)
	c.Free()
	perm := autograd.Permute(h, 0, 2, 3, 1)
	h.Free()
	out := m.Out.Forward(autograd.Reshape(perm, -1, m.P.DecoderDim))
	perm.Free()
	return out
}

// prepare converts a batch of RGB views to the network input (normalised L,
// a pool buffer owned by the returned Var) and the cell-mean ab targets
// (m.scratch.ab, two values per output pixel).
func (m *Colorization) prepare(x *tensor.Tensor) (*autograd.Var, []float32) {
	n, h, w := x.Dim(0), x.Dim(2), x.Dim(3)
	lab := tensor.Buffers.Get(x.Shape()...)
	defer tensor.Buffers.Put(lab)
	if err := color.RGBToLabPlanar(lab.Data, x.Data, h*w); err != nil {
		panic(&autograd.OpError{Op: "colorization", Msg: err.Error()})
	}
	l := tensor.Buffers.Get(n, 1, h, w)
	for i := range n {
		normaliseL(l.Data[i*h*w:(i+1)*h*w], lab.Data[3*i*h*w:(3*i+1)*h*w])
	}
	p := n * m.grid * m.grid
	m.scratch.ab = growScratch(m.scratch.ab, 2*p)
	cellMeans(m.scratch.ab, lab, m.grid)
	return autograd.Temp(l), m.scratch.ab
}

// checkViews rejects batches the network cannot take.
func (m *Colorization) checkViews(x *tensor.Tensor) {
	if s := x.Shape(); len(s) != 4 || s[1] != 3 || s[2] != m.size || s[3] != m.size {
		panic(&autograd.OpError{Op: "colorization", Msg: fmt.Sprintf("views %v: want [N, 3, %d, %d] RGB images", s, m.size, m.size)})
	}
}

// Encoder implements Method: the backbone behind the RGB-to-L conversion.
func (m *Colorization) Encoder() nn.Backbone { return m.enc }

// Views implements Method.
func (m *Colorization) Views() []augment.Transform { return m.views }

// Loss implements Method: the rebalanced soft-target cross-entropy (or the
// L2 loss on ab), with the batch's nearest-bin accuracy as a metric.
func (m *Colorization) Loss(b loader.Batch, _ *rand.Rand) Output {
	x := b.Views[0]
	m.checkViews(x)
	l, ab := m.prepare(x)
	out := m.forward(l)
	if m.P.Variant == "regression" {
		return Output{Loss: autograd.MSE(out, autograd.Temp(scaledAB(ab)))}
	}
	nearest := m.encode(ab)
	m.updatePrior(nearest)
	var weights []float32
	if m.P.Rebalance {
		weights = m.classWeights()
	}
	loss := softTargetLoss(out, m.scratch.idx, m.scratch.sw, nearest, weights, m.P.SoftK)
	return Output{Loss: loss, Metrics: map[string]float64{"bin_accuracy": m.binAccuracy(out.Value, nearest)}}
}

// softTargetLoss is -sum(T * log_softmax(logits)) for the weighted soft
// targets T (see softTargets): the paper's equation 2, averaged over
// pixels.
func softTargetLoss(logits *autograd.Var, idx []int32, sw []float32, nearest []int32, weights []float32, k int) *autograd.Var {
	t := tensor.Buffers.Get(logits.Shape()...)
	softTargets(t, idx, sw, nearest, weights, k)
	return autograd.Neg(autograd.Sum(autograd.Mul(autograd.LogSoftmax(logits), autograd.Temp(t))))
}

// encode soft-encodes ab rows into m.scratch (idx, sw) and returns the
// nearest bins.
func (m *Colorization) encode(ab []float32) []int32 {
	p, k := len(ab)/2, m.P.SoftK
	s := &m.scratch
	s.idx, s.sw, s.nearest = growScratch(s.idx, p*k), growScratch(s.sw, p*k), growScratch(s.nearest, p)
	softEncode(ab, m.Bins, k, m.P.SoftSigma, s.idx, s.sw, s.nearest)
	return s.nearest
}

// updatePrior adds a batch's nearest-bin histogram to the running colour
// distribution.
func (m *Colorization) updatePrior(nearest []int32) {
	q := m.Bins.Dim(0)
	s := &m.scratch
	s.hist = growScratch(s.hist, q)
	clear(s.hist)
	for _, j := range nearest {
		s.hist[j]++
	}
	seen := float64(m.PriorCount.Data[0])
	add := float64(len(nearest))
	keep := min(seen, priorHorizon) / (min(seen, priorHorizon) + add)
	for j := range q {
		m.Prior.Data[j] = float32(keep*float64(m.Prior.Data[j]) + (1-keep)*float64(s.hist[j])/add)
	}
	m.PriorCount.Data[0] = float32(seen + add)
}

// classWeights returns the rebalancing weight of every bin from the current
// prior.
func (m *Colorization) classWeights() []float32 {
	if m.kernel == nil {
		m.kernel = smoothingKernel(m.Bins, m.P.PriorSigma)
	}
	s := &m.scratch
	s.weights = growScratch(s.weights, m.Bins.Dim(0))
	if err := classWeights(s.weights, m.Prior.Data, m.kernel, m.P.PriorLambda); err != nil {
		panic(&autograd.OpError{Op: "colorization", Msg: err.Error()})
	}
	return s.weights
}

// binAccuracy is the share of pixels whose most likely bin is the one
// nearest their true colour.
func (m *Colorization) binAccuracy(logits *tensor.Tensor, nearest []int32) float64 {
	m.scratch.argmax = growScratch(m.scratch.argmax, len(nearest))
	colorRowArgmax(logits, m.scratch.argmax)
	hit := 0
	for i, j := range nearest {
		if m.scratch.argmax[i] == j {
			hit++
		}
	}
	return float64(hit) / float64(len(nearest))
}

// modeBinAccuracy is the share of pixels whose nearest bin is the most
// common bin of the colour prior (0 before the prior has seen any pixel).
func (m *Colorization) modeBinAccuracy(nearest []int32) float64 {
	if m.PriorCount.Data[0] == 0 {
		return 0
	}
	var mode [1]int32
	colorRowArgmax(m.Prior.Reshape(1, m.Prior.Dim(0)), mode[:])
	hit := 0
	for _, j := range nearest {
		if j == mode[0] {
			hit++
		}
	}
	return float64(hit) / float64(len(nearest))
}

// decodeAB turns the network's outputs into ab rows [P, 2]: the annealed
// mean sum_q softmax(logits/T)_q * bin_q, or the rescaled regression.
func (m *Colorization) decodeAB(out *autograd.Var) *autograd.Var {
	if m.P.Variant == "regression" {
		return autograd.Scale(out, regressionScale)
	}
	return annealedMean(out, m.Bins, m.P.Temperature)
}

// annealedMean is the paper's equation 5: the mean of the bin centres [Q, 2]
// under the distribution of the logits [P, Q] sharpened by temperature t.
func annealedMean(logits *autograd.Var, bins *tensor.Tensor, t float64) *autograd.Var {
	return autograd.MatMul(autograd.Softmax(autograd.Scale(logits, float32(1/t))), autograd.Const(bins), false, false)
}

// PretextMetrics implements PretextEvaluator: the mean Euclidean ab error
// of the decoded colours on the output grid ("ab_error", ab units), and for
// the classification variant the share of pixels whose most likely bin is
// the nearest to the true colour ("bin_accuracy"). Each comes with the
// score of a predictor that ignores the image, its chance level:
// "grey_ab_error" leaves every pixel grey (ab = 0), and "mode_bin_accuracy"
// always names the most common bin of the colour prior.
func (m *Colorization) PretextMetrics(b loader.Batch, _ *rand.Rand) map[string]float64 {
	x := b.Views[0]
	m.checkViews(x)
	l, ab := m.prepare(x)
	out := m.forward(l)
	l.Free()
	pred := m.decodeAB(out)
	res := map[string]float64{"ab_error": colorABError(pred.Value.Data, ab), "grey_ab_error": colorABError(nil, ab)}
	if m.P.Variant == "classification" {
		nearest := m.encode(ab)
		res["bin_accuracy"] = m.binAccuracy(out.Value, nearest)
		res["mode_bin_accuracy"] = m.modeBinAccuracy(nearest)
	}
	pred.Free()
	out.Free()
	return res
}

// PredictAB colourises images: x is [N, 3, S, S] RGB (only its lightness is
// used) or [N, 1, S, S] grey levels, S the image size the method was built
// for; the result is the predicted ab [N, 2, G, G] on the output grid (the
// annealed mean for the classification variant). It switches the method to
// evaluation mode (batch norm with its running statistics; call
// SetTraining(true) before training on) and records no gradients.
func (m *Colorization) PredictAB(x *tensor.Tensor) (*tensor.Tensor, error) {
	s := x.Shape()
	if len(s) != 4 || (s[1] != 1 && s[1] != 3) || s[2] != m.size || s[3] != m.size {
		return nil, fmt.Errorf("colorization: images %v: want [N, 3, %d, %d] or [N, 1, %d, %d]", s, m.size, m.size, m.size, m.size)
	}
	n := s[0]
	out := tensor.New(n, 2, m.grid, m.grid)
	m.SetTraining(false)
	err := autograd.Guard(func() error {
		autograd.NoGrad(func() {
			l := normalisedLightness(x)
			y := m.forward(l)
			l.Free()
			ab := m.decodeAB(y)
			y.Free()
			g2 := m.grid * m.grid
			for r := range n * g2 { // rows (n, y, x) -> planes [n, 2, y, x]
				img, pix := r/g2, r%g2
				out.Data[img*2*g2+pix] = ab.Value.Data[2*r]
				out.Data[img*2*g2+g2+pix] = ab.Value.Data[2*r+1]
			}
			ab.Free()
		})
		return nil
	})
	return out, err
}

// Grid is the side of the predicted ab grid.
func (m *Colorization) Grid() int { return m.grid }

// ImageSize is the side of the images the method was built for.
func (m *Colorization) ImageSize() int { return m.size }

// AfterStep implements Method (the prior is updated in Loss).
func (m *Colorization) AfterStep(float64) {}

// Collect implements nn.Module: the backbone under "encoder.", the decoder
// under "decoder.", and the ab bins and colour prior as buffers.
func (m *Colorization) Collect(prefix string, s *nn.State) {
	m.Net.Collect(prefix+"encoder.", s)
	m.Conv.Collect(prefix+"decoder.conv.", s)
	m.BN.Collect(prefix+"decoder.bn.", s)
	m.Out.Collect(prefix+"decoder.out.", s)
	s.Buffer(prefix+"ab_bins", m.Bins)
	s.Buffer(prefix+"ab_prior", m.Prior)
	s.Buffer(prefix+"ab_prior_pixels", m.PriorCount)
}

// SetTraining implements nn.Module.
func (m *Colorization) SetTraining(on bool) {
	m.Net.SetTraining(on)
	m.BN.SetTraining(on)
}

// scaledAB returns ab / regressionScale as a [P, 2] pool tensor.
func scaledAB(ab []float32) *tensor.Tensor {
	t := tensor.Buffers.Get(len(ab)/2, 2)
	for i, v := range ab {
		t.Data[i] = v / regressionScale
	}
	return t
}

// lNorm maps L in [0, 100] to the network's input, (L - 50) / 100, as the
// reference PyTorch code normalises it.
func lNorm(l float32) float32 { return (l - 50) / 100 }

// normaliseL writes lNorm of an L plane.
func normaliseL(dst, l []float32) {
	for i, v := range l {
		dst[i] = lNorm(v)
	}
}

// normalisedLightness returns the network input for images x [N, 3, H, W]
// (sRGB) or [N, 1, H, W] (grey levels) as a Var owning a pool buffer.
func normalisedLightness(x *tensor.Tensor) *autograd.Var {
	s := x.Shape()
	if len(s) != 4 || (s[1] != 1 && s[1] != 3) {
		panic(&autograd.OpError{Op: "colorization encoder", Msg: fmt.Sprintf("input %v: want [N, 3, H, W] RGB or [N, 1, H, W] grey images", s)})
	}
	n, plane := s[0], s[2]*s[3]
	l := tensor.Buffers.Get(n, 1, s[2], s[3])
	var err error
	if s[1] == 3 {
		err = color.LightnessPlanar(l.Data, x.Data, plane)
	} else {
		err = color.GrayLightness(l.Data, x.Data)
	}
	if err != nil {
		panic(&autograd.OpError{Op: "colorization encoder", Msg: err.Error()})
	}
	normaliseL(l.Data, l.Data)
	return autograd.Temp(l)
}

// LightnessBackbone is a backbone trained on the normalised L channel,
// (L - 50) / 100, behind a conversion of its input: RGB images [N, 3, H, W]
// in [0, 1] (or grey levels [N, 1, H, W]) are converted to lightness before
// the wrapped 1-channel network sees them. It is what Colorization.Encoder
// returns, so that kNN and linear probes, which feed the images as they
// are, evaluate the features the pretext task trained. The conversion is
// data preprocessing: no gradient flows back to the input images. Every
// other method delegates to Net, so stages, state names and training mode
// are those of the wrapped backbone.
type LightnessBackbone struct {
	// Backbone is the wrapped network; its methods other than Forward
	// and ForwardStages are LightnessBackbone's.
	nn.Backbone
}

// lightness converts the input to the wrapped network's.
func (b *LightnessBackbone) lightness(x *autograd.Var) *autograd.Var {
	return normalisedLightness(x.Value)
}

// releaseLightness frees the converted input when no backward pass can need it.
func releaseLightness(l *autograd.Var) {
	if !autograd.GradEnabled() {
		l.Free()
	}
}

// Forward implements nn.Layer: the wrapped backbone's pooled features of
// the lightness of x.
func (b *LightnessBackbone) Forward(x *autograd.Var) *autograd.Var {
	l := b.lightness(x)
	y := b.Backbone.Forward(l)
	releaseLightness(l)
	return y
}

// ForwardStages implements nn.Backbone on the lightness of x.
func (b *LightnessBackbone) ForwardStages(x *autograd.Var, upto int, keep bool) []*autograd.Var {
	l := b.lightness(x)
	ys := b.Backbone.ForwardStages(l, upto, keep)
	releaseLightness(l)
	return ys
}

// growScratch returns s resized to n, reusing its storage when large
// enough: per-step label buffers kept across steps.
func growScratch[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
