package augment

import "math"

// Options is the recipe of one contrastive view: a random resized crop
// followed by the optional flip, colour jitter, grayscale, blur, solarize
// and normalisation steps (a probability of 0 leaves a step out). The
// preset constructors fill it with a paper's values; change what differs
// and call Pipeline.
type Options struct {
	// Size is the side of the square view.
	Size int
	// Scale and Ratio are RandomResizedCrop's ranges (zero: torchvision's
	// defaults (0.08, 1) and (3/4, 4/3)). Small images often train better
	// with a gentler scale such as (0.2, 1) or (0.3, 1).
	Scale, Ratio [2]float64
	// Flip is the probability of a horizontal flip.
	Flip float64
	// Jitter is the colour jitter, with its probability in Jitter.P.
	Jitter ColorJitter
	// Grayscale is the probability of converting to grayscale.
	Grayscale float64
	// Blur is the Gaussian blur, with its probability in Blur.P.
	Blur GaussianBlur
	// Solarize is the probability of solarizing at 0.5.
	Solarize float64
	// Mean and Std normalise the result when non-nil; they must match the
	// images' channel count (or have one element).
	Mean, Std []float32
}

// Pipeline builds the view pipeline: crop, flip, jitter, grayscale, blur,
// solarize, normalise, in that order (the order of the papers' code).
func (o Options) Pipeline() *Pipeline {
	steps := []Transform{RandomResizedCrop{Size: o.Size, Scale: o.Scale, Ratio: o.Ratio}}
	if o.Flip > 0 {
		steps = append(steps, HorizontalFlip{P: o.Flip})
	}
	if o.Jitter.P > 0 {
		steps = append(steps, o.Jitter)
	}
	if o.Grayscale > 0 {
		steps = append(steps, RandomGrayscale{P: o.Grayscale})
	}
	if o.Blur.P > 0 {
		steps = append(steps, o.Blur)
	}
	if o.Solarize > 0 {
		steps = append(steps, Solarize{Threshold: 0.5, P: o.Solarize})
	}
	if o.Mean != nil || o.Std != nil {
		steps = append(steps, Normalize{Mean: o.Mean, Std: o.Std})
	}
	return Compose(steps...)
}

// SimCLROptions returns the SimCLR view recipe (Chen et al. 2020, appendix
// A): crop with scale (0.08, 1), flip 0.5, colour jitter of strength s
// (brightness, contrast, saturation 0.8s, hue 0.2s) with probability 0.8,
// grayscale 0.2, and Gaussian blur with probability 0.5 for images larger
// than 32 pixels (the paper blurs on ImageNet but not on CIFAR-10). The
// reference code feeds [0, 1] pixels, so there is no normalisation. The paper
// uses s = 1 on ImageNet and s = 0.5 on CIFAR-10.
func SimCLROptions(size int, strength float64) Options {
	s := strength
	o := Options{
		Size:      size,
		Scale:     DefaultScale,
		Ratio:     DefaultRatio,
		Flip:      0.5,
		Jitter:    ColorJitter{Brightness: 0.8 * s, Contrast: 0.8 * s, Saturation: 0.8 * s, Hue: math.Min(0.2*s, 0.5), P: 0.8},
		Grayscale: 0.2,
	}
	if size > 32 {
		o.Blur = GaussianBlur{KernelFrac: 0.1, Sigma: [2]float64{0.1, 2.0}, P: 0.5}
	}
	return o
}

// SimCLR is SimCLROptions(size, strength).Pipeline(). Use it for both views.
func SimCLR(size int, strength float64) *Pipeline { return SimCLROptions(size, strength).Pipeline() }

// MoCoV2Options returns MoCo v2's "aug+" recipe (Chen et al. 2020b): crop
// with scale (0.2, 1), colour jitter (0.4, 0.4, 0.4, 0.1) with probability
// 0.8, grayscale 0.2, blur with sigma in (0.1, 2) and probability 0.5, flip,
// ImageNet normalisation.
func MoCoV2Options(size int) Options {
	return Options{
		Size:      size,
		Scale:     [2]float64{0.2, 1},
		Ratio:     DefaultRatio,
		Flip:      0.5,
		Jitter:    ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1, P: 0.8},
		Grayscale: 0.2,
		Blur:      GaussianBlur{KernelFrac: 0.1, Sigma: [2]float64{0.1, 2.0}, P: 0.5},
		Mean:      ImageNetMean,
		Std:       ImageNetStd,
	}
}

// MoCoV2 is MoCoV2Options(size).Pipeline(). Use it for both views.
func MoCoV2(size int) *Pipeline { return MoCoV2Options(size).Pipeline() }

// byolBase is the part BYOL's and DINO's views share: flip, colour jitter
// (0.4, 0.4, 0.2, 0.1) with probability 0.8, grayscale 0.2, ImageNet
// normalisation.
func byolBase(size int, scale [2]float64) Options {
	return Options{
		Size:      size,
		Scale:     scale,
		Ratio:     DefaultRatio,
		Flip:      0.5,
		Jitter:    ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1, P: 0.8},
		Grayscale: 0.2,
		Mean:      ImageNetMean,
		Std:       ImageNetStd,
	}
}

// BYOLOptions returns BYOL's two asymmetric view recipes (Grill et al. 2020,
// table 6): both crop with scale (0.08, 1), flip, jitter (0.4, 0.4, 0.2, 0.1)
// with probability 0.8 and grayscale 0.2; view 1 always blurs and never
// solarizes, view 2 blurs with probability 0.1 and solarizes with 0.2.
func BYOLOptions(size int) [2]Options {
	a, b := byolBase(size, DefaultScale), byolBase(size, DefaultScale)
	a.Blur = GaussianBlur{KernelFrac: 0.1, Sigma: [2]float64{0.1, 2.0}, P: 1.0}
	b.Blur = GaussianBlur{KernelFrac: 0.1, Sigma: [2]float64{0.1, 2.0}, P: 0.1}
	b.Solarize = 0.2
	return [2]Options{a, b}
}

// BYOL returns BYOL's two view pipelines, in order, ready for a loader.
func BYOL(size int) []Transform {
	o := BYOLOptions(size)
	return []Transform{o[0].Pipeline(), o[1].Pipeline()}
}

// MultiCropOptions is DINO's multi-crop recipe: two global views that differ
// like BYOL's and NLocal small local views that see parts of the image.
type MultiCropOptions struct {
	// Global holds the recipes of the two global views.
	Global [2]Options
	// Local is the recipe of every local view.
	Local Options
	// NLocal is the number of local views.
	NLocal int
}

// DINOOptions returns DINO's multi-crop recipe (Caron et al. 2021): global
// crops of globalSize with scale (0.4, 1), the first always blurred, the
// second blurred with probability 0.1 and solarized with 0.2; nLocal local
// crops of localSize with scale (0.05, 0.4) blurred with probability 0.5.
// All views flip, jitter (0.4, 0.4, 0.2, 0.1) with probability 0.8, turn gray
// with 0.2 and are ImageNet-normalised. DINO uses 224, 96 and 8 (the paper's
// best runs 10); it resamples bicubically where this package is bilinear.
func DINOOptions(globalSize, localSize, nLocal int) MultiCropOptions {
	blur := func(p float64) GaussianBlur {
		return GaussianBlur{KernelFrac: 0.1, Sigma: [2]float64{0.1, 2.0}, P: p}
	}
	g1, g2 := byolBase(globalSize, [2]float64{0.4, 1}), byolBase(globalSize, [2]float64{0.4, 1})
	g1.Blur, g2.Blur, g2.Solarize = blur(1.0), blur(0.1), 0.2
	l := byolBase(localSize, [2]float64{0.05, 0.4})
	l.Blur = blur(0.5)
	return MultiCropOptions{Global: [2]Options{g1, g2}, Local: l, NLocal: nLocal}
}

// Views returns the view pipelines in order: the two global ones, then
// NLocal local ones (all sharing one Pipeline value, which is safe).
func (o MultiCropOptions) Views() []Transform {
	views := []Transform{o.Global[0].Pipeline(), o.Global[1].Pipeline()}
	local := o.Local.Pipeline()
	for range o.NLocal {
		views = append(views, local)
	}
	return views
}

// MultiCrop is DINOOptions(globalSize, localSize, nLocal).Views().
func MultiCrop(globalSize, localSize, nLocal int) []Transform {
	return DINOOptions(globalSize, localSize, nLocal).Views()
}

// EvalOptions is the deterministic evaluation transform: resize the shorter
// side to Size/CropFraction, take the centre Size x Size crop, normalise.
type EvalOptions struct {
	// Size is the side of the output.
	Size int
	// CropFraction is the fraction of the resized image the centre crop
	// keeps: 0.875 is ImageNet's resize-256-crop-224; 1 (or 0) keeps the
	// whole (resized) shorter side.
	CropFraction float64
	// Mean and Std normalise the result when non-nil.
	Mean, Std []float32
}

// EvalDefaults returns the evaluation recipe for views of the given size:
// CropFraction 0.875 for ImageNet-sized views (128 pixels and up) and 1 for
// small images such as CIFAR-10 and MNIST, whose evaluation uses the whole
// image; no normalisation (set Mean and Std to match training).
func EvalDefaults(size int) EvalOptions {
	f := 1.0
	if size >= 128 {
		f = 0.875
	}
	return EvalOptions{Size: size, CropFraction: f}
}

// Pipeline builds the evaluation pipeline.
func (o EvalOptions) Pipeline() *Pipeline {
	f := o.CropFraction
	if f == 0 {
		f = 1
	}
	resize := int(math.Round(float64(o.Size) / f))
	steps := []Transform{Resize{Size: resize}, CenterCrop{Size: o.Size}}
	if o.Mean != nil || o.Std != nil {
		steps = append(steps, Normalize{Mean: o.Mean, Std: o.Std})
	}
	return Compose(steps...)
}

// Eval is EvalDefaults(size).Pipeline().
func Eval(size int) *Pipeline { return EvalDefaults(size).Pipeline() }
