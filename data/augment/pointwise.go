package augment

import (
	"fmt"
	"math/rand/v2"

	"selfsup/data"
)

// Solarize inverts every value at or above Threshold (v -> 1-v) with
// probability P, as BYOL and DINO do on one of their two views.
type Solarize struct {
	// Threshold is the value from which pixels are inverted; 0 means 0.5.
	Threshold float32
	// P is the probability of solarizing.
	P float64
}

// Apply solarizes or copies src into dst. It works in place.
func (t Solarize) Apply(dst, src data.Image, r *rand.Rand) data.Image {
	dst = copyInto(dst, src)
	if !hit(r, t.P) {
		return dst
	}
	th := t.Threshold
	if th == 0 {
		th = 0.5
	}
	for i, v := range dst.Pix {
		if v >= th {
			dst.Pix[i] = 1 - v
		}
	}
	return dst
}

// InPlace reports true: dst may be src.
func (t Solarize) InPlace() bool { return true }

// OutShape is the input shape.
func (t Solarize) OutShape(c, h, w int) (int, int, int, error) {
	if err := checkDims(c, h, w); err != nil {
		return 0, 0, 0, err
	}
	if !(t.Threshold >= 0 && t.Threshold <= 1) {
		return 0, 0, 0, fmt.Errorf("Solarize: threshold %v outside [0, 1]", t.Threshold)
	}
	return c, h, w, checkProb("Solarize", t.P)
}

// String describes the transform and its parameters, for logs.
func (t Solarize) String() string {
	th := t.Threshold
	if th == 0 {
		th = 0.5
	}
	return fmt.Sprintf("Solarize(threshold=%g, p=%g)", th, t.P)
}

// Per-dataset channel statistics for Normalize.
var (
	// ImageNetMean and ImageNetStd are the usual ImageNet RGB statistics,
	// which MoCo, BYOL and DINO normalise with.
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
	// CIFAR10Mean and CIFAR10Std are CIFAR-10's training-set statistics.
	CIFAR10Mean = []float32{0.4914, 0.4822, 0.4465}
	CIFAR10Std  = []float32{0.2470, 0.2435, 0.2616}
	// MNISTMean and MNISTStd are MNIST's training-set statistics.
	MNISTMean = []float32{0.1307}
	MNISTStd  = []float32{0.3081}
)

// Normalize maps every value v of channel c to (v - Mean[c]) / Std[c], the
// last step of a pipeline. A single Mean and Std apply to all channels.
type Normalize struct {
	Mean, Std []float32
}

// Apply normalises src into dst. It works in place. It panics on a channel
// count that OutShape rejects, a configuration error that a loader reports
// before it starts.
func (t Normalize) Apply(dst, src data.Image, _ *rand.Rand) data.Image {
	if len(t.Mean) != 1 && len(t.Mean) != src.C || len(t.Std) != len(t.Mean) {
		panic(fmt.Sprintf("augment.Normalize: %d means and %d stds for a %d-channel image", len(t.Mean), len(t.Std), src.C))
	}
	dst = fit(dst, src.C, src.H, src.W)
	plane := src.H * src.W
	for c := range src.C {
		k := min(c, len(t.Mean)-1)
		m, inv := t.Mean[k], 1/t.Std[k]
		s, d := src.Pix[c*plane:(c+1)*plane], dst.Pix[c*plane:(c+1)*plane]
		for i, v := range s {
			d[i] = (v - m) * inv
		}
	}
	return dst
}

// InPlace reports true: dst may be src.
func (t Normalize) InPlace() bool { return true }

// OutShape is the input shape; it checks that there is one mean and one
// positive std per channel (or one for all).
func (t Normalize) OutShape(c, h, w int) (int, int, int, error) {
	if err := checkDims(c, h, w); err != nil {
		return 0, 0, 0, err
	}
	switch {
	case len(t.Mean) == 0 || len(t.Std) != len(t.Mean):
		return 0, 0, 0, fmt.Errorf("Normalize: %d means and %d stds", len(t.Mean), len(t.Std))
	case c != 0 && len(t.Mean) != 1 && len(t.Mean) != c:
		return 0, 0, 0, fmt.Errorf("Normalize: %d means for a %d-channel image", len(t.Mean), c)
	}
	for _, s := range t.Std {
		if !(s > 0) {
			return 0, 0, 0, fmt.Errorf("Normalize: std %v is not positive", s)
		}
	}
	return c, h, w, nil
}

// String describes the transform and its parameters, for logs.
func (t Normalize) String() string { return fmt.Sprintf("Normalize(mean=%v, std=%v)", t.Mean, t.Std) }
