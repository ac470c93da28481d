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

// InpaintingParams are the context encoder's hyper-parameters (Pathak et
// al. 2016).
type InpaintingParams struct {
	// Mask is "center" (one central square, the paper's main setting) or
	// "random" (several random squares, the paper's "random block" masks).
	Mask string `json:"mask"`
	// MaskArea is the fraction of the image the mask hides: the central
	// square's area (0.25, i.e. half the side, as the paper's 64 of 128
	// pixels), or the most the random blocks may cover.
	MaskArea float64 `json:"mask_area"`
	// Fill is the value the hidden pixels are set to in the encoder's input
	// (the paper fills with the mean pixel; 0.5 here, the middle of [0, 1],
	// since the views are not normalised).
	Fill float64 `json:"fill"`
	// ChannelFC puts the paper's channel-wise fully connected layer between
	// encoder and decoder, so every decoder unit sees the whole map.
	ChannelFC bool `json:"channel_fc"`
	// DecoderWidth is the decoder's first width, halved at every 2x
	// upsampling step down to 16 (the paper's AlexNet-sized decoder starts
	// at 256 channels; 64 suits 28-32 pixel images).
	DecoderWidth int `json:"decoder_width"`
	// Adversarial adds the paper's adversarial loss with a small
	// discriminator (see Inpainting.Loss for how the two-player game is
	// written as one objective).
	Adversarial bool `json:"adversarial"`
	// LambdaRec and LambdaAdv weigh the generator's reconstruction and
	// adversarial terms (0.999 and 0.001 in the paper).
	LambdaRec float64 `json:"lambda_rec"`
	LambdaAdv float64 `json:"lambda_adv"`
	// DiscWidth is the discriminator's first convolution width (doubled per
	// stride-2 convolution, up to 8x).
	DiscWidth int `json:"disc_width"`
	// Augment holds the view recipe (a random resized crop of scale
	// (MinScale, 1) and optional flips).
	Augment AugmentParams `json:"augment"`
}

// DefaultInpaintingParams returns the defaults: the paper's central mask of
// a quarter of the area, its channel-wise FC, its loss weights with the
// adversarial term on (it trains stably here: on MNIST the discriminator's
// accuracy settles near 0.9 without winning outright, and the
// reconstruction error follows the L2-only run), and a decoder and
// discriminator sized for 28-32 pixel images.
func DefaultInpaintingParams() InpaintingParams {
	return InpaintingParams{Mask: "center", MaskArea: 0.25, Fill: 0.5, ChannelFC: true, DecoderWidth: 64,
		Adversarial: true, LambdaRec: 0.999, LambdaAdv: 0.001, DiscWidth: 32,
		Augment: AugmentParams{MinScale: 0.5, Flip: true}}
}

// Inpainting is the context encoder: the backbone encodes an image whose
// masked region is filled with a constant, a decoder (channel-wise FC,
// then bilinear 2x upsampling + 3x3 convolutions, since there is no
// transposed convolution) predicts the whole image, and the L2 loss is
// taken over the masked region only. The backbone, evaluated on full
// images, is the representation.
type Inpainting struct {
	P   InpaintingParams
	Enc nn.Backbone
	// CFC is the channel-wise FC (nil when ChannelFC is off).
	CFC *channelFC
	// Bottleneck (1x1 convolution, BN, ReLU) mixes channels after the FC
	// and sets the decoder width.
	Bottleneck *convBN
	// Up are the upsampling steps, the last one reaching the image size.
	Up []*upBlock
	// Out maps to the image channels.
	Out *nn.Conv2d
	// Disc is the discriminator (nil without the adversarial loss).
	Disc *discriminator

	channels, size int
	views          []augment.Transform
}

// convBN is a convolution without bias followed by batch norm and ReLU.
type convBN struct {
	Conv *nn.Conv2d
	BN   *nn.BatchNorm
}

func newConvBN(in, out, k int, r *rand.Rand) *convBN {
	return &convBN{Conv: nn.NewConv2d(in, out, k, 1, k/2, false, r), BN: nn.NewBatchNorm(out, true)}
}

func (c *convBN) forward(x *autograd.Var) *autograd.Var {
	y := c.Conv.Forward(x)
	z := c.BN.ForwardReLU(y)
	y.Free()
	return z
}

func (c *convBN) Collect(prefix string, s *nn.State) {
	c.Conv.Collect(prefix+"conv.", s)
	c.BN.Collect(prefix+"bn.", s)
}

func (c *convBN) SetTraining(on bool) { c.BN.SetTraining(on) }

// upBlock resizes its input to the next size and applies a 3x3 conv-BN-ReLU.
type upBlock struct {
	rs   *resizer
	Conv *convBN
}

func (u *upBlock) forward(x *autograd.Var) *autograd.Var {
	y := u.rs.forward(x)
	z := u.Conv.forward(y)
	y.Free()
	return z
}

func init() {
	register("inpainting", "context encoder: inpaint a masked region (central square or random blocks) from its context, L2 on the hole, optional adversarial loss (Pathak et al. 2016)",
		// the paper: Adam, lr 2e-4 at batch 64 (scaled here to a batch of
		// 256), no weight decay; its beta1 of 0.5 is not configurable here
		TrainDefaults{Optimizer: "adamw", LR: 8e-4},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultInpaintingParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewInpainting(s, p, r)
		})
}

// upsampleSizes lists the decoder's output sizes from a feature map of side
// from up to side to: each step doubles, the first one rounding (so that
// halving back from to, rounding up, retraces them).
func upsampleSizes(from, to int) []int {
	var out []int
	for s := to; s > from; s = (s + 1) / 2 {
		out = append([]int{s}, out...)
	}
	return out
}

// NewInpainting builds the context encoder on the backbone s describes.
func NewInpainting(s Spec, p InpaintingParams, r *rand.Rand) (*Inpainting, error) {
	switch p.Mask {
	case "center", "random":
	default:
		return nil, fmt.Errorf("inpainting: mask %q must be \"center\" or \"random\"", p.Mask)
	}
	if !(p.MaskArea > 0 && p.MaskArea < 1) {
		return nil, fmt.Errorf("inpainting: mask_area %v must be in (0, 1)", p.MaskArea)
	}
	if math.IsNaN(p.Fill) || math.IsInf(p.Fill, 0) {
		return nil, fmt.Errorf("inpainting: fill %v must be a finite number", p.Fill)
	}
	if p.DecoderWidth < 1 {
		return nil, fmt.Errorf("inpainting: decoder_width %d must be at least 1", p.DecoderWidth)
	}
	if p.Adversarial {
		if p.DiscWidth < 1 {
			return nil, fmt.Errorf("inpainting: disc_width %d must be at least 1", p.DiscWidth)
		}
		if !(p.LambdaAdv > 0) {
			return nil, fmt.Errorf("inpainting: lambda_adv %v must be positive with the adversarial loss", p.LambdaAdv)
		}
	}
	if !(p.LambdaRec > 0) {
		return nil, fmt.Errorf("inpainting: lambda_rec %v must be positive", p.LambdaRec)
	}
	size, c := viewSize(s), s.Backbone.InChannels
	if side := maskSide(size, p.MaskArea); p.Mask == "center" && side >= size {
		return nil, fmt.Errorf("inpainting: a mask of area %v hides the whole %dx%d image", p.MaskArea, size, size)
	}
	enc, err := nn.NewBackbone(s.Backbone, r)
	if err != nil {
		return nil, err
	}
	fc, fh, fw, err := backboneMapShape(enc, c, size)
	if err != nil {
		return nil, fmt.Errorf("inpainting: %s on %dx%d images: %w", s.Backbone.Arch, size, size, err)
	}
	if fh != fw || fh > size {
		return nil, fmt.Errorf("inpainting: %s gives a %dx%d feature map for %dx%d images; the decoder needs a square map no larger than the image", s.Backbone.Arch, fh, fw, size, size)
	}
	m := &Inpainting{P: p, Enc: enc, channels: c, size: size}
	if p.ChannelFC {
		m.CFC = newChannelFC(fc, fh*fw, r)
	}
	m.Bottleneck = newConvBN(fc, p.DecoderWidth, 1, r)
	cin, from := p.DecoderWidth, fh
	for _, to := range upsampleSizes(fh, size) {
		cout := max(cin/2, min(16, cin))
		m.Up = append(m.Up, &upBlock{rs: newResizer(from, from, to, to), Conv: newConvBN(cin, cout, 3, r)})
		cin, from = cout, to
	}
	m.Out = newOutputConv(cin, c, 3, 1, r)
	if p.Adversarial {
		m.Disc = newDiscriminator(c, size, p.DiscWidth, r)
	}
	o := augment.Options{Size: size, Scale: [2]float64{0.5, 1}, Ratio: augment.DefaultRatio, Flip: 0.5}
	o = p.Augment.apply(o, c)
	m.views = []augment.Transform{o.Pipeline()}
	return m, nil
}

// maskSide is the side of the central square hiding area of a size x size
// image (at least one pixel).
func maskSide(size int, area float64) int {
	return max(1, int(math.Round(float64(size)*math.Sqrt(area))))
}

// fillMask writes one image's mask (1 = hidden) into dst [size*size] and
// returns how many pixels it hides. "center" hides the central square of
// the given area; "random" drops squares of side size/8 to size/4 at random
// places (they may overlap) as long as the covered fraction stays within
// area, stopping after 64 tries, and always hides at least one square.
func fillMask(dst []float32, size int, mode string, area float64, r *rand.Rand) int {
	clear(dst)
	if mode == "center" {
		side := maskSide(size, area)
		off := (size - side) / 2
		for y := off; y < off+side; y++ {
			for x := off; x < off+side; x++ {
				dst[y*size+x] = 1
			}
		}
		return side * side
	}
	limit := int(area * float64(size*size))
	lo, hi := max(1, size/8), max(1, size/4)
	covered := 0
	for try := 0; try < 64 && covered < limit; try++ {
		side := lo + r.IntN(hi-lo+1)
		y0, x0 := r.IntN(size-side+1), r.IntN(size-side+1)
		added := 0
		for y := y0; y < y0+side; y++ {
			for x := x0; x < x0+side; x++ {
				if dst[y*size+x] == 0 {
					added++
				}
			}
		}
		if covered > 0 && covered+added > limit {
			continue
		}
		for y := y0; y < y0+side; y++ {
			for x := x0; x < x0+side; x++ {
				dst[y*size+x] = 1
			}
		}
		covered += added
	}
	return covered
}

// inpaintPass is one reconstruction: the prediction of every pixel, the
// mask (broadcast over channels), the kept context x * (1 - mask) and the
// masked mean squared error.
type inpaintPass struct {
	pred, mask, context, rec *autograd.Var
}

// reconstruct masks x [N, C, H, W], encodes and decodes it and computes the
// L2 loss on the hidden pixels: sum(mask * (pred - x)^2) over the hidden
// pixels' count times C.
func (m *Inpainting) reconstruct(x *tensor.Tensor, r *rand.Rand) inpaintPass {
	s := x.Shape()
	if len(s) != 4 || s[1] != m.channels || s[2] != m.size || s[3] != m.size {
		panic(&autograd.OpError{Op: "inpainting", Msg: fmt.Sprintf("views %v are not [N, %d, %d, %d]", s, m.channels, m.size, m.size)})
	}
	n, c, hw := s[0], s[1], s[2]*s[3]
	mask := tensor.Buffers.Get(n, 1, s[2], s[3])
	in := tensor.Buffers.Get(s...)
	ctx := tensor.Buffers.Get(s...)
	hidden := 0
	fill := float32(m.P.Fill)
	for i := 0; i < n; i++ {
		mk := mask.Data[i*hw : (i+1)*hw]
		hidden += fillMask(mk, m.size, m.P.Mask, m.P.MaskArea, r)
		for ch := 0; ch < c; ch++ {
			off := (i*c + ch) * hw
			for j, v := range x.Data[off : off+hw] {
				keep := v * (1 - mk[j])
				ctx.Data[off+j] = keep
				in.Data[off+j] = keep + fill*mk[j]
			}
		}
	}
	inV := autograd.Temp(in)
	pred := m.decode(backboneMap(m.Enc, inV))
	maskV := autograd.Temp(mask)
	d := autograd.Sub(pred, autograd.Const(x))
	sq := autograd.Square(d)
	d.Free()
	ms := autograd.Mul(sq, maskV)
	sq.Free()
	sum := autograd.Sum(ms)
	ms.Free()
	rec := autograd.Scale(sum, 1/float32(hidden*c))
	if !autograd.GradEnabled() {
		inV.Free()
	}
	return inpaintPass{pred: pred, mask: maskV, context: autograd.Temp(ctx), rec: rec}
}

// decode maps the encoder's feature map to an image.
func (m *Inpainting) decode(f *autograd.Var) *autograd.Var {
	if m.CFC != nil {
		g := m.CFC.forward(f)
		f.Free()
		f = g
	}
	h := m.Bottleneck.forward(f)
	f.Free()
	for _, u := range m.Up {
		g := u.forward(h)
		h.Free()
		h = g
	}
	out := m.Out.Forward(h)
	h.Free()
	return out
}

// free returns the pass's buffers when no graph holds them (evaluation).
func (p inpaintPass) free() {
	if !autograd.GradEnabled() {
		p.pred.Free()
		p.mask.Free()
		p.context.Free()
	}
}

// Encoder implements Method.
func (m *Inpainting) Encoder() nn.Backbone { return m.Enc }

// Views implements Method.
func (m *Inpainting) Views() []augment.Transform { return m.views }

// realLabel and fakeLabel are the discriminator's two classes.
const (
	fakeLabel = 0
	realLabel = 1
)

// Loss implements Method. Without the adversarial term it is the masked L2
// reconstruction error. With it, the two-player game becomes one objective
// for the single optimizer that steps all parameters:
//
//	LambdaRec * rec + LambdaAdv * CE(D'(G), real)   (generator)
//	+ CE(D(x), real) + CE(D(detach(G)), fake)       (discriminator)
//
// where G is the image with the prediction pasted into the hole, CE the
// two-class cross-entropy (the stable form of -log D) and D' the
// discriminator with its weights wrapped as constants: the same values,
// no gradient. So the generator's term reaches only the encoder and
// decoder (through G), and the discriminator's terms reach only the
// discriminator (G is detached there), as with the paper's alternating
// updates.
func (m *Inpainting) Loss(b loader.Batch, r *rand.Rand) Output {
	pass := m.reconstruct(b.Views[0], r)
	metrics := map[string]float64{"rec_mse": float64(pass.rec.Item())}
	if m.Disc == nil {
		return Output{Loss: pass.rec, Metrics: metrics}
	}
	x := b.Views[0]
	n := x.Dim(0)
	comp := autograd.Add(autograd.Mul(pass.pred, pass.mask), pass.context)
	fixed := tensor.Buffers.Get(comp.Shape()...)
	copy(fixed.Data, comp.Value.Data)
	realY, fakeY := repeatLabel(n, realLabel), repeatLabel(n, fakeLabel)
	gAdv := autograd.CrossEntropy(m.Disc.frozen().forward(comp), realY, 0)
	dReal := m.Disc.forward(autograd.Const(x))
	dFake := m.Disc.forward(autograd.Temp(fixed))
	metrics["disc_acc"] = (twoClassAccuracy(dReal.Value, realLabel) + twoClassAccuracy(dFake.Value, fakeLabel)) / 2
	dLoss := autograd.Add(autograd.CrossEntropy(dReal, realY, 0), autograd.CrossEntropy(dFake, fakeY, 0))
	metrics["adv_g"] = float64(gAdv.Item())
	metrics["disc_loss"] = float64(dLoss.Item())
	gen := autograd.Add(autograd.Scale(pass.rec, float32(m.P.LambdaRec)), autograd.Scale(gAdv, float32(m.P.LambdaAdv)))
	return Output{Loss: autograd.Add(gen, dLoss), Metrics: metrics}
}

// repeatLabel returns n copies of class.
func repeatLabel(n, class int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = class
	}
	return out
}

// twoClassAccuracy is the fraction of rows of two-class logits [N, 2] that pick
// class.
func twoClassAccuracy(logits *tensor.Tensor, class int) float64 {
	n := logits.Dim(0)
	hits := 0
	for i := 0; i < n; i++ {
		if (logits.Data[2*i+1] > logits.Data[2*i]) == (class == 1) {
			hits++
		}
	}
	return float64(hits) / float64(n)
}

// PretextMetrics implements PretextEvaluator: the mean squared error of the
// reconstruction over the hidden pixels.
func (m *Inpainting) PretextMetrics(b loader.Batch, r *rand.Rand) map[string]float64 {
	pass := m.reconstruct(b.Views[0], r)
	defer pass.free()
	return map[string]float64{"masked_mse": float64(pass.rec.Item())}
}

// AfterStep implements Method (nothing to update).
func (m *Inpainting) AfterStep(float64) {}

// Collect implements nn.Module.
func (m *Inpainting) Collect(prefix string, s *nn.State) {
	m.Enc.Collect(prefix+"encoder.", s)
	if m.CFC != nil {
		m.CFC.Collect(prefix+"decoder.channel_fc.", s)
	}
	m.Bottleneck.Collect(prefix+"decoder.bottleneck.", s)
	for i, u := range m.Up {
		u.Conv.Collect(fmt.Sprintf("%sdecoder.up.%d.", prefix, i), s)
	}
	m.Out.Collect(prefix+"decoder.out.", s)
	if m.Disc != nil {
		m.Disc.Collect(prefix+"discriminator.", s)
	}
}

// SetTraining implements nn.Module.
func (m *Inpainting) SetTraining(on bool) {
	m.Enc.SetTraining(on)
	m.Bottleneck.SetTraining(on)
	for _, u := range m.Up {
		u.Conv.SetTraining(on)
	}
}

// discriminator is the adversarial critic: stride-2 3x3 convolutions with
// LeakyReLU(0.2) until the map is at most 4x4 (at most five), then a linear
// layer to two logits (fake, real). It has no batch norm, so its frozen
// twin needs nothing but the weights.
type discriminator struct {
	Convs []*nn.Conv2d
	FC    *nn.Linear
}

func newDiscriminator(c, size, width int, r *rand.Rand) *discriminator {
	d := &discriminator{}
	cin, w, s := c, width, size
	for len(d.Convs) == 0 || (s > 4 && len(d.Convs) < 5) {
		d.Convs = append(d.Convs, newOutputConv(cin, w, 3, 2, r))
		cin, s = w, (s+1)/2
		w = min(2*w, 8*width)
	}
	d.FC = nn.NewLinear(cin*s*s, 2, true, r)
	return d
}

func (d *discriminator) forward(x *autograd.Var) *autograd.Var {
	h := x
	for _, c := range d.Convs {
		y := c.Forward(h)
		if h != x {
			h.Free()
		}
		h = autograd.LeakyReLU(y, 0.2)
		y.Free()
	}
	out := d.FC.Forward(autograd.Flatten(h))
	h.Free()
	return out
}

// frozen returns the discriminator with the same weight tensors wrapped as
// constants: its output passes gradients to its input only.
func (d *discriminator) frozen() *discriminator {
	f := &discriminator{FC: &nn.Linear{Weight: autograd.Const(d.FC.Weight.Value), Bias: autograd.Const(d.FC.Bias.Value)}}
	for _, c := range d.Convs {
		f.Convs = append(f.Convs, &nn.Conv2d{Weight: autograd.Const(c.Weight.Value), Bias: autograd.Const(c.Bias.Value), Stride: c.Stride, Pad: c.Pad})
	}
	return f
}

func (d *discriminator) Collect(prefix string, s *nn.State) {
	for i, c := range d.Convs {
		c.Collect(fmt.Sprintf("%sconv.%d.", prefix, i), s)
	}
	d.FC.Collect(prefix+"fc.", s)
}
