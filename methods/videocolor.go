package methods

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/color"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/tensor"
)

// VideoColorParams are the video colorization method's hyper-parameters
// (Vondrick et al. 2018, "Tracking Emerges by Colorizing Videos").
type VideoColorParams struct {
	// Colors is the number of colour classes: the paper clusters Lab colours
	// into 16 with k-means.
	Colors int `json:"colors"`
	// Quantizer is "kmeans" (the paper's: Colors k-means centres of the ab
	// values of the first training batch, fitted once and saved with the
	// checkpoint) or "bins" (the in-gamut ab bins of image colorization,
	// BinSize apart; Colors is then ignored).
	Quantizer string  `json:"quantizer"`
	BinSize   float64 `json:"bin_size"`
	// Stride is the feature map's stride, the run of backbone stages whose
	// output is that many times smaller than the frame: the paper embeds
	// 256-pixel frames at stride 8 (32x32); 4 keeps a 16x16 map at 64
	// pixels.
	Stride int `json:"stride"`
	// EmbedDim is the width of the per-pixel embedding, a 1x1 projection of
	// the feature map (64, as in the paper).
	EmbedDim int `json:"embed_dim"`
	// Normalize scales every embedding to unit length, so that the
	// attention compares directions (cosine similarity over Temperature);
	// the paper uses raw inner products (false, temperature 1).
	Normalize bool `json:"normalize"`
	// Temperature divides the similarities before the softmax in training.
	Temperature float64 `json:"temperature"`
	// TrackTemperature is the temperature selfsup track propagates labels
	// with: half the training one, as the paper sharpens the attention at
	// test time (temperature 0.5 against 1 in training).
	TrackTemperature float64 `json:"track_temperature"`
	// MinScale, when below 1, crops every clip to a random box of at least
	// that area fraction (the same box for all its frames) and scales it
	// back; Flip mirrors half the clips. The paper uses neither.
	MinScale float64 `json:"min_scale"`
	Flip     bool    `json:"flip"`
}

// DefaultVideoColorParams returns the paper's settings: 16 k-means colours,
// a 64-dimensional embedding; the stride is halved for 64-pixel frames,
// and the embeddings are L2-normalised with a matching temperature (see
// VideoColor).
func DefaultVideoColorParams() VideoColorParams {
	return VideoColorParams{Colors: 16, Quantizer: "kmeans", BinSize: 10, Stride: 4, EmbedDim: 64,
		Normalize: true, Temperature: 0.05, TrackTemperature: 0.025, MinScale: 1, Flip: true}
}

// VideoColor learns to colour a grey target frame by pointing into grey
// reference frames and copying their colours (Vondrick et al. 2018). Every
// training image is a clip of T frames stacked along the channels (the
// video data specs frames:DIR and synthetic-video make them): the first T-1
// frames are the references, the last one the target. All frames go
// through the backbone as normalised lightness (L - 50) / 100; the feature
// map at Stride, projected by a 1x1 layer to EmbedDim values per pixel
// (and L2-normalised with Normalize), is the embedding f. Each target pixel
// i attends over every pixel j of every reference frame,
//
//	A_ij = softmax_j(f_i . f_j / Temperature),
//
// and its colour is predicted as sum_j A_ij c_j, c_j the one-hot colour
// class of reference pixel j (its ab averaged over the feature cell,
// quantised to the nearest of the colour centres). The loss is the
// cross-entropy of that prediction against the target pixel's true class.
// The pointer A is what selfsup track reuses to propagate masks.
//
// The paper uses raw inner products with temperature 1 in training; here
// the embeddings are L2-normalised by default with temperature 0.05 (a
// cosine similarity's range of 2 then spans 40 in logits), which keeps the
// attention's sharpness independent of the embedding's scale early in
// short runs; normalize=false, temperature=1 is the paper's form.
//
// The colour classes of the default k-means quantizer are fitted on the
// first training batch (the paper fits them once on training videos) and
// saved as buffers ("color_centers", "color_fitted").
//
// Encoder returns the backbone behind a conversion of RGB frames to
// lightness (a LightnessBackbone): evaluations feed it single frames.
// Backbone stages past the one at Stride get no gradient and keep their
// initial weights.
type VideoColor struct {
	P       VideoColorParams
	Net     nn.Backbone // the 1-channel backbone
	Proj    *nn.Linear  // the 1x1 embedding projection
	Centers *tensor.Tensor
	Fitted  *tensor.Tensor // [1]: 1 once Centers hold the colour classes
	enc     *LightnessBackbone
	views   []augment.Transform
	// clip is T, size the frame side, stages the backbone stages run, grid
	// the feature map side, mapCh its channels
	clip, size, stages, grid, mapCh int
	scratch                         videoColorScratch
}

// videoColorScratch holds per-step buffers, reused across steps.
type videoColorScratch struct {
	ab  []float32
	cls []int32
}

// probabilityFloor keeps the log of a predicted colour probability finite.
const probabilityFloor = 1e-6

// The optimisation defaults are the paper's Adam at learning rate 1e-3 for
// batches of 32 clips, scaled linearly to the trainer's batch-256 base.
func init() {
	register("video-color", "video colorization: colour a grey target frame by attention over grey reference frames, copying their colours; the pointer tracks masks (Vondrick et al. 2018); video clip data (frames:DIR, synthetic-video)",
		TrainDefaults{Optimizer: "adamw", LR: 8e-3, WeightDecay: 1e-4},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultVideoColorParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewVideoColor(s, p, r)
		})
}

// NewVideoColor builds the method for clips of InChannels/3 RGB frames of
// the spec's image size; the backbone is built for one (lightness) channel.
func NewVideoColor(s Spec, p VideoColorParams, r *rand.Rand) (*VideoColor, error) {
	c := s.Backbone.InChannels
	if c%3 != 0 || c < 6 {
		return nil, fmt.Errorf("video-color needs clips of at least 2 colour frames stacked along the channels (3 per frame), but the data has %d channels: use a video spec such as synthetic-video or frames:DIR", c)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	size := s.Backbone.ImageSize
	cfg := s.Backbone
	cfg.InChannels = 1
	net, err := nn.NewBackbone(cfg, r)
	if err != nil {
		return nil, err
	}
	stages, grid, ch, err := strideStage(net, size, p.Stride)
	if err != nil {
		return nil, fmt.Errorf("video-color: %w", err)
	}
	m := &VideoColor{P: p, Net: net, Proj: newOutputLinear(ch, p.EmbedDim, r), Fitted: tensor.New(1),
		clip: c / 3, size: size, stages: stages, grid: grid, mapCh: ch}
	if p.Quantizer == "bins" {
		m.Centers = gamutBins(p.BinSize)
		m.Fitted.Data[0] = 1
	} else {
		m.Centers = tensor.New(p.Colors, 2)
	}
	m.enc = &LightnessBackbone{Backbone: net}
	var steps []augment.Transform
	if p.MinScale < 1 {
		steps = append(steps, augment.RandomResizedCrop{Size: size, Scale: [2]float64{p.MinScale, 1}})
	}
	if p.Flip {
		steps = append(steps, augment.HorizontalFlip{P: 0.5})
	}
	m.views = []augment.Transform{augment.Compose(steps...)}
	return m, nil
}

// check validates the parameters.
func (p VideoColorParams) check() error {
	switch {
	case p.Quantizer != "kmeans" && p.Quantizer != "bins":
		return fmt.Errorf("video-color: quantizer %q must be kmeans or bins", p.Quantizer)
	case p.Quantizer == "kmeans" && (p.Colors < 2 || p.Colors > 1024):
		return fmt.Errorf("video-color: colors %d must lie in [2, 1024]", p.Colors)
	case p.Quantizer == "bins" && !(p.BinSize >= 2 && p.BinSize <= 50):
		return fmt.Errorf("video-color: bin_size %v must lie in [2, 50] (ab units)", p.BinSize)
	case p.Stride < 1:
		return fmt.Errorf("video-color: stride %d must be positive", p.Stride)
	case p.EmbedDim < 1:
		return fmt.Errorf("video-color: embed_dim %d must be positive", p.EmbedDim)
	case !(p.Temperature > 0 && p.Temperature <= 100):
		return fmt.Errorf("video-color: temperature %v must lie in (0, 100]", p.Temperature)
	case !(p.TrackTemperature > 0 && p.TrackTemperature <= 100):
		return fmt.Errorf("video-color: track_temperature %v must lie in (0, 100]", p.TrackTemperature)
	case !(p.MinScale > 0 && p.MinScale <= 1):
		return fmt.Errorf("video-color: min_scale %v must lie in (0, 1]", p.MinScale)
	}
	return nil
}

// strideStage finds how many stages of net to run so that the feature map
// of a size x size image is size/stride on a side (the deepest such
// stage), by running one blank image in evaluation mode without gradients.
// It returns the stage count, the map side and its channels.
func strideStage(net nn.Backbone, size, stride int) (stages, grid, ch int, err error) {
	if size%stride != 0 {
		return 0, 0, 0, fmt.Errorf("stride %d does not divide the image size %d", stride, size)
	}
	var sides []int
	stages = -1
	err = autograd.Guard(func() error {
		net.SetTraining(false)
		defer net.SetTraining(true)
		autograd.NoGrad(func() {
			x := autograd.Const(tensor.New(1, 1, size, size))
			maps := net.ForwardStages(x, net.NumStages(), true)
			for j, m := range maps {
				s := m.Shape()
				if len(s) != 4 {
					sides = append(sides, 0)
					continue
				}
				sides = append(sides, s[2])
				if s[2] == size/stride && s[3] == size/stride {
					stages, grid, ch = j, s[2], s[1]
				}
			}
		})
		return nil
	})
	if err != nil {
		return 0, 0, 0, err
	}
	if len(sides) > 0 && sides[0] == 0 {
		return 0, 0, 0, fmt.Errorf("the backbone gives token sequences, not feature maps: use a convolutional backbone (resnet-small, resnet18, ...)")
	}
	if stages < 0 {
		var strides []int
		for _, s := range sides {
			if s > 0 {
				strides = append(strides, size/s)
			}
		}
		return 0, 0, 0, fmt.Errorf("no stage of the backbone has stride %d at %d pixels (its stages' strides: %v)", stride, size, strides)
	}
	return stages, grid, ch, nil
}

// newOutputLinear returns a linear layer with PyTorch's default
// initialisation, U(+-1/sqrt(in)) (an embedding layer with no batch norm
// after it).
func newOutputLinear(in, out int, r *rand.Rand) *nn.Linear {
	l := nn.NewLinear(in, out, true, r)
	bound := 1 / math.Sqrt(float64(in))
	nn.Uniform(l.Weight.Value, bound, r)
	nn.Uniform(l.Bias.Value, bound, r)
	return l
}

// embed maps normalised lightness [F, 1, H, W] to per-pixel embeddings
// [F*h*w, EmbedDim], rows in (frame, y, x) order, h x w the feature map's
// size.
func (m *VideoColor) embed(l *autograd.Var) (z *autograd.Var, h, w int) {
	maps := m.Net.ForwardStages(l, m.stages, false)
	f := maps[len(maps)-1]
	h, w = f.Shape()[2], f.Shape()[3]
	perm := autograd.Permute(f, 0, 2, 3, 1)
	f.Free()
	z = m.Proj.Forward(autograd.Reshape(perm, -1, m.mapCh))
	perm.Free()
	if !m.P.Normalize {
		return z, h, w
	}
	n := autograd.L2Normalize(z, 1e-6)
	z.Free()
	return n, h, w
}

// colorCopy is the paper's pointer: each target embedding (rows of tgt [N,
// P, D]) attends over the reference embeddings refs [N, M, D] of its clip
// with softmax(similarity / t), and the result copies the reference colour
// rows refColors [N, M, Q] (one-hot classes): [N, P, Q] predicted colour
// distributions.
func colorCopy(tgt, refs, refColors *autograd.Var, t float64) *autograd.Var {
	logits := autograd.MatMul(tgt, refs, false, true)
	scaled := autograd.Scale(logits, float32(1/t))
	logits.Free()
	attn := autograd.Softmax(scaled)
	scaled.Free()
	pred := autograd.MatMul(attn, refColors, false, false)
	attn.Free()
	return pred
}

// clipBatch is one batch of clips prepared for the loss: network input,
// reference colours, target classes and target ab.
type clipBatch struct {
	n, refs, cells int
	l              *autograd.Var // [N*T, 1, S, S] normalised lightness
	refColors      *autograd.Var // [N, R*P, Q] one-hot
	targets        []int32       // N*P target classes
	ab             []float32     // ab cell means of every frame, rows (frame, y, x)
	cls            []int32       // colour class of every cell of every frame
}

// prepare converts a batch of clips [N, 3T, S, S] to the network input
// and the colour labels, fitting the colour centres first if they are not
// yet (from r).
func (m *VideoColor) prepare(x *tensor.Tensor, r *rand.Rand) clipBatch {
	s := x.Shape()
	if len(s) != 4 || s[1] != 3*m.clip || s[2] != m.size || s[3] != m.size {
		panic(&autograd.OpError{Op: "video-color", Msg: fmt.Sprintf("clips %v: want [N, %d, %d, %d] (%d RGB frames stacked along the channels)", s, 3*m.clip, m.size, m.size, m.clip)})
	}
	n, t := s[0], m.clip
	frames, plane, cells := n*t, m.size*m.size, m.grid*m.grid
	// the clip's frames are consecutive RGB triples: the batch is a batch
	// of frames [N*T, 3, S, S] as it is
	lab := tensor.Buffers.Get(frames, 3, m.size, m.size)
	defer tensor.Buffers.Put(lab)
	if err := color.RGBToLabPlanar(lab.Data, x.Data, plane); err != nil {
		panic(&autograd.OpError{Op: "video-color", Msg: err.Error()})
	}
	l := tensor.Buffers.Get(frames, 1, m.size, m.size)
	for f := range frames {
		normaliseL(l.Data[f*plane:(f+1)*plane], lab.Data[3*f*plane:(3*f+1)*plane])
	}
	sc := &m.scratch
	sc.ab = growScratch(sc.ab, 2*frames*cells)
	sc.cls = growScratch(sc.cls, frames*cells)
	cellMeans(sc.ab, lab, m.grid)
	if m.Fitted.Data[0] == 0 {
		if err := fitColorCenters(m.Centers, sc.ab, r); err != nil {
			panic(&autograd.OpError{Op: "video-color", Msg: err.Error()})
		}
		m.Fitted.Data[0] = 1
	}
	quantizeColors(sc.cls, m.Centers, sc.ab)
	q := m.Centers.Dim(0)
	refs := t - 1
	onehot := tensor.Buffers.Get(n, refs*cells, q)
	targets := make([]int32, 0, n*cells)
	for i := range n {
		clip := sc.cls[i*t*cells : (i+1)*t*cells]
		oneHotRows(onehot.Data[i*refs*cells*q:(i+1)*refs*cells*q], clip[:refs*cells], q, 1)
		targets = append(targets, clip[refs*cells:]...)
	}
	return clipBatch{n: n, refs: refs, cells: cells, l: autograd.Temp(l), refColors: autograd.Temp(onehot),
		targets: targets, ab: sc.ab, cls: sc.cls}
}

// predict runs the pointer over a prepared batch: [N, P, Q] colour
// distributions of the target frames.
func (m *VideoColor) predict(b clipBatch) *autograd.Var {
	emb, _, _ := m.embed(b.l)
	if !autograd.GradEnabled() { // the first convolution's backward reads its input
		b.l.Free()
	}
	e3 := autograd.Reshape(emb, b.n, (b.refs+1)*b.cells, m.P.EmbedDim)
	refs := autograd.Narrow(e3, 1, 0, b.refs*b.cells)
	tgt := autograd.Narrow(e3, 1, b.refs*b.cells, b.cells)
	emb.Free()
	pred := colorCopy(tgt, refs, b.refColors, m.P.Temperature)
	refs.Free()
	tgt.Free()
	return pred
}

// Encoder implements Method: the backbone behind the RGB-to-L conversion.
func (m *VideoColor) Encoder() nn.Backbone { return m.enc }

// Views implements Method: the clip, flipped half the time (and cropped
// when MinScale < 1), the same way for all its frames.
func (m *VideoColor) Views() []augment.Transform { return m.views }

// Loss implements Method: the cross-entropy of the copied colours against
// the target frame's colour classes, with the batch's class accuracy.
func (m *VideoColor) Loss(b loader.Batch, r *rand.Rand) Output {
	cb := m.prepare(b.Views[0], r)
	pred := m.predict(cb)
	q := m.Centers.Dim(0)
	rows := cb.n * cb.cells
	acc := colorClassAccuracy(pred.Value.Data, cb.targets, q)
	// -mean log p(true class): the one-hot targets carry the 1/rows
	t := tensor.Buffers.Get(rows, q)
	oneHotRows(t.Data, cb.targets, q, 1/float32(rows))
	logp := autograd.Log(autograd.AddScalar(autograd.Reshape(pred, rows, q), probabilityFloor))
	loss := autograd.Neg(autograd.Sum(autograd.Mul(logp, autograd.Temp(t))))
	return Output{Loss: loss, Metrics: map[string]float64{"color_accuracy": acc}}
}

// colorClassAccuracy is the share of rows of probs (q values each) whose most
// likely class is the target.
func colorClassAccuracy(probs []float32, targets []int32, q int) float64 {
	hit := 0
	for i, t := range targets {
		row := probs[i*q : (i+1)*q]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if int32(best) == t {
			hit++
		}
	}
	return float64(hit) / float64(len(targets))
}

// PretextMetrics implements PretextEvaluator: on the target frames of
// held-out clips, the mean Euclidean ab error of the copied colour (the
// attention-weighted mean of the reference cells' class centres) against
// the true ab of each feature cell ("color_error", ab units) and the share
// of cells whose most likely class is the true one ("color_accuracy"); and
// the same for the baseline that copies the colour class of the same cell
// of the last reference frame ("copy_color_error", "copy_color_accuracy"),
// the attention of a model that assumes nothing moves.
func (m *VideoColor) PretextMetrics(b loader.Batch, r *rand.Rand) map[string]float64 {
	cb := m.prepare(b.Views[0], r)
	pred := m.predict(cb)
	q := m.Centers.Dim(0)
	c := m.Centers.Data
	t := cb.refs + 1
	var errSum, copyErr float64
	copyHit := 0
	for i := range cb.n {
		for p := range cb.cells {
			row := pred.Value.Data[(i*cb.cells+p)*q : (i*cb.cells+p+1)*q]
			var a, bb float64
			for j, v := range row {
				a += float64(v) * float64(c[2*j])
				bb += float64(v) * float64(c[2*j+1])
			}
			tc := (i*t+cb.refs)*cb.cells + p // the target cell
			ta, tb := float64(cb.ab[2*tc]), float64(cb.ab[2*tc+1])
			errSum += math.Hypot(a-ta, bb-tb)
			prev := cb.cls[(i*t+cb.refs-1)*cb.cells+p] // the same cell one frame earlier
			copyErr += math.Hypot(float64(c[2*prev])-ta, float64(c[2*prev+1])-tb)
			if prev == cb.cls[tc] {
				copyHit++
			}
		}
	}
	n := float64(cb.n * cb.cells)
	res := map[string]float64{
		"color_error":         errSum / n,
		"color_accuracy":      colorClassAccuracy(pred.Value.Data, cb.targets, q),
		"copy_color_error":    copyErr / n,
		"copy_color_accuracy": float64(copyHit) / n,
	}
	pred.Free()
	cb.refColors.Free()
	return res
}

// Embed returns the per-pixel embeddings of frames x [F, 3, H, W] (RGB in
// [0, 1]; [F, 1, H, W] grey levels also work) as [F, h*w, EmbedDim] rows
// in (y, x) order, with the map's height h and width w (H and W divided by
// Stride for the backbones that pad their convolutions). Frames of any size
// whose sides the stride divides work: the network is convolutional. It
// switches the method to evaluation mode and records no gradients.
func (m *VideoColor) Embed(x *tensor.Tensor) (emb *tensor.Tensor, h, w int, err error) {
	s := x.Shape()
	if len(s) != 4 || (s[1] != 3 && s[1] != 1) {
		return nil, 0, 0, fmt.Errorf("video-color: frames %v: want [F, 3, H, W] RGB or [F, 1, H, W] grey", s)
	}
	if s[2]%m.P.Stride != 0 || s[3]%m.P.Stride != 0 {
		return nil, 0, 0, fmt.Errorf("video-color: %dx%d frames: the sides must be multiples of the stride %d", s[3], s[2], m.P.Stride)
	}
	m.SetTraining(false)
	err = autograd.Guard(func() error {
		autograd.NoGrad(func() {
			l := normalisedLightness(x)
			var z *autograd.Var
			z, h, w = m.embed(l)
			l.Free()
			emb = tensor.FromData(append([]float32(nil), z.Value.Data...), s[0], h*w, m.P.EmbedDim)
			z.Free()
		})
		return nil
	})
	return emb, h, w, err
}

// Clip is the number of frames per training clip (references + 1).
func (m *VideoColor) Clip() int { return m.clip }

// ImageSize is the side of the frames the method was trained on.
func (m *VideoColor) ImageSize() int { return m.size }

// AfterStep implements Method (nothing moves after a step).
func (m *VideoColor) AfterStep(float64) {}

// Collect implements nn.Module: the backbone under "encoder.", the
// projection under "embed.", the colour centres as buffers.
func (m *VideoColor) Collect(prefix string, s *nn.State) {
	m.Net.Collect(prefix+"encoder.", s)
	m.Proj.Collect(prefix+"embed.", s)
	s.Buffer(prefix+"color_centers", m.Centers)
	s.Buffer(prefix+"color_fitted", m.Fitted)
}

// SetTraining implements nn.Module.
func (m *VideoColor) SetTraining(on bool) { m.Net.SetTraining(on) }
