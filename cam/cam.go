package cam

import (
	"context"
	"errors"
	"fmt"
	"math"

	"selfsup/autograd"
	"selfsup/data"
	"selfsup/eval"
	"selfsup/nn"
	"selfsup/tensor"
)

// Mode selects which map Explain computes.
type Mode int

const (
	// GradCAM is the Grad-CAM map of a probe's class.
	GradCAM Mode = iota
	// FeatureNorm is the L2 norm over channels of the last feature map.
	FeatureNorm
)

// String names the mode as the command line spells it.
func (m Mode) String() string {
	switch m {
	case GradCAM:
		return "gradcam"
	case FeatureNorm:
		return "norm"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads "gradcam" or "norm".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "gradcam":
		return GradCAM, nil
	case "norm":
		return FeatureNorm, nil
	}
	return 0, fmt.Errorf("unknown map mode %q (gradcam or norm)", s)
}

// Predicted as a class asks Explain for the probe's predicted class of an
// image instead of a given one.
const Predicted = -1

// Map is one image's saliency map at the image's resolution.
type Map struct {
	// H and W are the map's (and the image's) height and width.
	H, W int
	// Values holds H*W values in [0, 1], row-major.
	Values []float32
	// Class is the class the Grad-CAM map explains (-1 for a feature-norm
	// map).
	Class int
	// Predicted is the probe's predicted class (-1 without a probe).
	Predicted int
	// Score is the probe's logit of Class (0 for a feature-norm map).
	Score float32
}

// At returns the value at row y, column x.
func (m Map) At(y, x int) float32 { return m.Values[y*m.W+x] }

// Explainer computes the maps of one encoder.
type Explainer struct {
	// Encoder is run frozen, in evaluation mode (batch norm with its
	// running statistics).
	Encoder nn.Backbone
	// Probe classifies the spatially pooled last feature map (see
	// TrainProbe). Grad-CAM needs it; feature-norm maps use it, when set,
	// only to report the prediction.
	Probe *eval.LinearClassifier
}

// Explain computes the maps of a batch of images x [B, C, H, W]. For
// Grad-CAM, classes[i] is the class to explain for image i, or Predicted
// for the probe's prediction; classes may be nil (all Predicted). The
// encoder is put in evaluation mode and left in training mode afterwards,
// as eval.Extract does. Grad-CAM records a small autograd graph (from the
// feature map on), so it must not run under autograd.NoGrad.
func (e *Explainer) Explain(x *tensor.Tensor, mode Mode, classes []int) ([]Map, error) {
	if x == nil || x.Dims() != 4 {
		return nil, fmt.Errorf("cam.Explain: images must be a [B, C, H, W] tensor")
	}
	b, h, w := x.Dim(0), x.Dim(2), x.Dim(3)
	if classes != nil && len(classes) != b {
		return nil, fmt.Errorf("cam.Explain: %d classes for %d images", len(classes), b)
	}
	if mode != GradCAM && mode != FeatureNorm {
		return nil, fmt.Errorf("cam.Explain: unknown mode %v", mode)
	}
	if mode == GradCAM && e.Probe == nil {
		return nil, errors.New("cam.Explain: Grad-CAM needs a probe (see cam.TrainProbe)")
	}
	e.Encoder.SetTraining(false)
	defer e.Encoder.SetTraining(true)
	a, err := FeatureMap(e.Encoder, x)
	if err != nil {
		return nil, err
	}
	defer tensor.Buffers.Put(a)
	var logits *tensor.Tensor
	if e.Probe != nil {
		if err := e.checkProbe(a); err != nil {
			return nil, err
		}
	}
	var raw []float32
	chosen := make([]int, b)
	for i := range chosen {
		chosen[i] = -1
	}
	switch mode {
	case GradCAM:
		raw, logits, chosen, err = gradCAM(a, e.Probe, classes)
		if err != nil {
			return nil, err
		}
	case FeatureNorm:
		raw = featureNorm(a)
		if e.Probe != nil {
			logits = probeLogits(a, e.Probe)
		}
	}
	fh, fw := a.Dim(2), a.Dim(3)
	out := make([]Map, b)
	for i := range out {
		m := Map{H: h, W: w, Values: make([]float32, h*w), Class: chosen[i], Predicted: -1}
		Upsample(m.Values, h, w, raw[i*fh*fw:(i+1)*fh*fw], fh, fw)
		normalise(m.Values)
		if logits != nil {
			k := logits.Dim(1)
			row := logits.Data[i*k : (i+1)*k]
			m.Predicted = argmax(row)
			if m.Class >= 0 {
				m.Score = row[m.Class]
			}
		}
		out[i] = m
	}
	return out, nil
}

// checkProbe reports whether the probe fits the feature map a.
func (e *Explainer) checkProbe(a *tensor.Tensor) error {
	if e.Probe.W == nil || e.Probe.B == nil || e.Probe.Mean == nil || e.Probe.Std == nil {
		return errors.New("cam: the probe is incomplete (weights, bias, mean and std are needed)")
	}
	if d := e.Probe.Dim(); d != a.Dim(1) {
		return fmt.Errorf("cam: the probe takes %d features, the encoder's last feature map has %d channels (was the probe trained on another encoder or stage?)", d, a.Dim(1))
	}
	return nil
}

// FeatureMap runs the frozen encoder on x [B, C, H, W] (no gradient, in the
// encoder's current mode) and returns its last feature map as a pool
// tensor [B, C', h, w]: a CNN's last stage output as it is, a ViT's patch
// tokens (class token dropped) laid out on their square grid. Other
// outputs are an error. The caller owns the result (tensor.Buffers.Put it
// when done).
func FeatureMap(enc nn.Backbone, x *tensor.Tensor) (*tensor.Tensor, error) {
	var out *tensor.Tensor
	err := autograd.Guard(func() error {
		var err error
		autograd.NoGrad(func() {
			maps := enc.ForwardStages(autograd.Const(x), enc.NumStages(), false)
			last := maps[len(maps)-1]
			out, err = asGrid(last.Value)
			last.Free()
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cam: last feature map: %w", err)
	}
	return out, nil
}

// asGrid copies a feature map [B, C, h, w] or a token sequence [B, T, D]
// (T a square, or a square plus a leading class token) into a new pool
// tensor [B, C, h, w].
func asGrid(v *tensor.Tensor) (*tensor.Tensor, error) {
	switch v.Dims() {
	case 4:
		out := tensor.Buffers.Get(v.Shape()...)
		copy(out.Data, v.Data)
		return out, nil
	case 3:
		b, t, d := v.Dim(0), v.Dim(1), v.Dim(2)
		skip := 0
		g := isqrt(t)
		if g*g != t {
			skip, g = 1, isqrt(t-1)
			if g*g != t-1 {
				return nil, fmt.Errorf("%d tokens per image do not form a square grid (with or without a class token)", t)
			}
		}
		out := tensor.Buffers.Get(b, d, g, g)
		n := g * g
		for i := 0; i < b; i++ {
			for p := 0; p < n; p++ {
				src := v.Data[(i*t+skip+p)*d : (i*t+skip+p+1)*d]
				for k, val := range src {
					out.Data[(i*d+k)*n+p] = val
				}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("the encoder's last output has shape %v; want a feature map [B, C, H, W] or tokens [B, T, D]", v.Shape())
}

func isqrt(n int) int {
	if n <= 0 {
		return 0
	}
	r := int(math.Sqrt(float64(n)))
	for r*r > n {
		r--
	}
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

// gradCAM computes the raw Grad-CAM maps [B, h*w] of the feature map a for
// the given classes (nil or Predicted: the probe's prediction): a is made
// an autograd leaf, the probe is applied to its spatial mean with autograd
// ops, and the chosen class scores are backpropagated to it. It also
// returns the probe's logits and the classes explained.
func gradCAM(a *tensor.Tensor, probe *eval.LinearClassifier, classes []int) (raw []float32, logits *tensor.Tensor, chosen []int, err error) {
	if !autograd.GradEnabled() {
		return nil, nil, nil, errors.New("cam: Grad-CAM needs gradient recording; it was called under autograd.NoGrad")
	}
	b, c, h, w := a.Dim(0), a.Dim(1), a.Dim(2), a.Dim(3)
	k := probe.NumClasses()
	for i, cl := range classes {
		if cl != Predicted && (cl < 0 || cl >= k) {
			return nil, nil, nil, fmt.Errorf("cam: class %d of image %d is not a class of the probe (0..%d)", cl, i, k-1)
		}
	}
	chosen = make([]int, b)
	var grad *tensor.Tensor
	err = autograd.Guard(func() error {
		// a is a copy this package owns: the leaf whose gradient we read
		leaf := autograd.Param(a, "A")
		pooled := autograd.GlobalAvgPool(leaf)
		z := autograd.Div(autograd.Sub(pooled, autograd.Const(probe.Mean)), autograd.Const(probe.Std))
		lv := autograd.Linear(z, autograd.Const(probe.W), autograd.Const(probe.B))
		logits = lv.Value.Clone()
		onehot := tensor.New(b, k)
		for i := range chosen {
			cl := Predicted
			if classes != nil {
				cl = classes[i]
			}
			if cl == Predicted {
				cl = argmax(logits.Data[i*k : (i+1)*k])
			}
			chosen[i] = cl
			onehot.Data[i*k+cl] = 1
		}
		score := autograd.Sum(autograd.Mul(lv, autograd.Const(onehot)))
		if err := score.Backward(); err != nil {
			return err
		}
		grad = leaf.Grad
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cam: Grad-CAM: %w", err)
	}
	if grad == nil {
		return nil, nil, nil, errors.New("cam: Grad-CAM: no gradient reached the feature map")
	}
	defer tensor.Buffers.Put(grad)
	n := h * w
	raw = make([]float32, b*n)
	weights := make([]float64, c)
	acc := make([]float64, n)
	for i := 0; i < b; i++ {
		for ch := 0; ch < c; ch++ {
			s := 0.0
			for _, g := range grad.Data[(i*c+ch)*n : (i*c+ch+1)*n] {
				s += float64(g)
			}
			weights[ch] = s / float64(n)
		}
		clear(acc)
		for ch := 0; ch < c; ch++ {
			wk := weights[ch]
			if wk == 0 {
				continue
			}
			for p, v := range a.Data[(i*c+ch)*n : (i*c+ch+1)*n] {
				acc[p] += wk * float64(v)
			}
		}
		dst := raw[i*n : (i+1)*n]
		for p, v := range acc {
			dst[p] = float32(max(v, 0))
		}
	}
	return raw, logits, chosen, nil
}

// probeLogits applies the probe to the spatial mean of a (no gradient).
func probeLogits(a *tensor.Tensor, probe *eval.LinearClassifier) *tensor.Tensor {
	pooled := poolMap(a)
	logits, err := probe.Logits(pooled)
	if err != nil {
		return nil
	}
	return logits
}

// poolMap averages a [B, C, h, w] over its positions, giving [B, C].
func poolMap(a *tensor.Tensor) *tensor.Tensor {
	b, c, n := a.Dim(0), a.Dim(1), a.Dim(2)*a.Dim(3)
	out := tensor.New(b, c)
	for r := 0; r < b*c; r++ {
		s := 0.0
		for _, v := range a.Data[r*n : (r+1)*n] {
			s += float64(v)
		}
		out.Data[r] = float32(s / float64(n))
	}
	return out
}

// featureNorm returns the L2 norm over channels of a [B, C, h, w] at every
// position, [B, h*w].
func featureNorm(a *tensor.Tensor) []float32 {
	b, c, n := a.Dim(0), a.Dim(1), a.Dim(2)*a.Dim(3)
	out := make([]float32, b*n)
	acc := make([]float64, n)
	for i := 0; i < b; i++ {
		clear(acc)
		for ch := 0; ch < c; ch++ {
			for p, v := range a.Data[(i*c+ch)*n : (i*c+ch+1)*n] {
				acc[p] += float64(v) * float64(v)
			}
		}
		for p, v := range acc {
			out[i*n+p] = float32(math.Sqrt(v))
		}
	}
	return out
}

// normalise maps v to [0, 1]: minimum subtracted, divided by the new
// maximum (a constant map becomes all zeros).
func normalise(v []float32) {
	if len(v) == 0 {
		return
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	span := hi - lo
	for i, x := range v {
		if span > 0 {
			v[i] = (x - lo) / span
		} else {
			v[i] = 0
		}
	}
}

func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// ExplainDataset computes the maps of the images idx of ds in batches of
// batch images (0: 64). For Grad-CAM, target picks the class explained:
// the image's label (TargetLabel; unlabelled images get the prediction) or
// the probe's prediction (TargetPredicted).
func (e *Explainer) ExplainDataset(ctx context.Context, ds data.Dataset, idx []int, mode Mode, target Target, batch int) ([]Map, error) {
	if batch <= 0 {
		batch = 64
	}
	out := make([]Map, 0, len(idx))
	for lo := 0; lo < len(idx); lo += batch {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		part := idx[lo:min(lo+batch, len(idx))]
		x, labels, err := readBatch(ds, part)
		if err != nil {
			return out, err
		}
		var classes []int
		if mode == GradCAM {
			classes = make([]int, len(part))
			for i, l := range labels {
				classes[i] = Predicted
				if target == TargetLabel && l >= 0 {
					classes[i] = l
				}
			}
		}
		maps, err := e.Explain(x, mode, classes)
		if err != nil {
			return out, fmt.Errorf("%s: %w", ds.Name(), err)
		}
		out = append(out, maps...)
	}
	return out, nil
}

// Target picks the class a Grad-CAM map of a dataset image explains.
type Target int

const (
	// TargetLabel explains the image's label (the prediction when it has
	// none).
	TargetLabel Target = iota
	// TargetPredicted explains the probe's predicted class.
	TargetPredicted
)

// ParseTarget reads "label" or "pred".
func ParseTarget(s string) (Target, error) {
	switch s {
	case "label":
		return TargetLabel, nil
	case "pred", "predicted":
		return TargetPredicted, nil
	}
	return 0, fmt.Errorf("unknown target %q (label or pred)", s)
}

// readBatch reads the images idx of ds into a batch tensor [B, C, H, W]
// with their labels. The images must share one size.
func readBatch(ds data.Dataset, idx []int) (*tensor.Tensor, []int, error) {
	if len(idx) == 0 {
		return nil, nil, fmt.Errorf("%s: no images to read", ds.Name())
	}
	var x *tensor.Tensor
	labels := make([]int, len(idx))
	var img data.Image
	for k, i := range idx {
		if i < 0 || i >= ds.Len() {
			return nil, nil, fmt.Errorf("%s: image index %d out of range [0, %d)", ds.Name(), i, ds.Len())
		}
		got, err := ds.Image(i, img)
		if err != nil {
			return nil, nil, err
		}
		img = got
		if x == nil {
			x = tensor.New(len(idx), got.C, got.H, got.W)
		}
		if got.C != x.Dim(1) || got.H != x.Dim(2) || got.W != x.Dim(3) {
			return nil, nil, fmt.Errorf("%s: image %d is %dx%dx%d, the first of the batch %dx%dx%d (resize the images)",
				ds.Name(), i, got.C, got.H, got.W, x.Dim(1), x.Dim(2), x.Dim(3))
		}
		n := len(got.Pix)
		copy(x.Data[k*n:(k+1)*n], got.Pix)
		labels[k] = ds.Label(i)
	}
	return x, labels, nil
}
