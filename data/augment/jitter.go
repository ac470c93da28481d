package augment

import (
	"fmt"
	"math/rand/v2"

	"selfsup/data"
)

// Indices of the four colour operations in JitterParams.
const (
	JitterBrightness = iota
	JitterContrast
	JitterSaturation
	JitterHue
)

// ColorJitter randomly changes brightness, contrast, saturation and hue, with
// probability P, applying the four changes in a random order per image as
// torchvision's ColorJitter does. SimCLR found colour distortion essential:
// without it the crops of one image can be matched by their colour
// histograms alone.
type ColorJitter struct {
	// Brightness b draws the brightness factor from [max(0, 1-b), 1+b];
	// 0 leaves brightness alone. Contrast and Saturation work the same way.
	Brightness, Contrast, Saturation float64
	// Hue h draws a hue shift from [-h, h] turns; h must be at most 0.5.
	Hue float64
	// P is the probability of jittering an image at all (0.8 in SimCLR).
	P float64
}

// JitterParams is one draw of ColorJitter: the order of the operations and
// each operation's factor (indexed by JitterBrightness ... JitterHue).
// Inactive operations are skipped.
type JitterParams struct {
	Order   [4]int
	Factors [4]float32
	Active  [4]bool
}

// Params draws the order (a uniformly random permutation) and the factors,
// in brightness, contrast, saturation, hue order, the way torchvision does.
func (t ColorJitter) Params(r *rand.Rand) JitterParams {
	var p JitterParams
	p.Order = [4]int{0, 1, 2, 3}
	for i := 3; i > 0; i-- { // Fisher-Yates without allocating
		j := r.IntN(i + 1)
		p.Order[i], p.Order[j] = p.Order[j], p.Order[i]
	}
	for k, s := range [3]float64{t.Brightness, t.Contrast, t.Saturation} {
		if s > 0 {
			p.Active[k] = true
			p.Factors[k] = float32(uniform(r, max(0, 1-s), 1+s))
		}
	}
	if t.Hue > 0 {
		p.Active[JitterHue] = true
		p.Factors[JitterHue] = float32(uniform(r, -t.Hue, t.Hue))
	}
	return p
}

// ApplyTo runs the drawn operations on img in place.
func (p JitterParams) ApplyTo(img data.Image) {
	for _, op := range p.Order {
		if !p.Active[op] {
			continue
		}
		f := p.Factors[op]
		switch op {
		case JitterBrightness:
			AdjustBrightness(img, f)
		case JitterContrast:
			AdjustContrast(img, f)
		case JitterSaturation:
			AdjustSaturation(img, f)
		case JitterHue:
			AdjustHue(img, f)
		}
	}
}

// Apply jitters src into dst with probability P, else copies it. It works in
// place.
func (t ColorJitter) Apply(dst, src data.Image, r *rand.Rand) data.Image {
	dst = copyInto(dst, src)
	if hit(r, t.P) {
		t.Params(r).ApplyTo(dst)
	}
	return dst
}

// InPlace reports true: dst may be src.
func (t ColorJitter) InPlace() bool { return true }

// OutShape is the input shape; it checks the ranges.
func (t ColorJitter) OutShape(c, h, w int) (int, int, int, error) {
	if err := checkDims(c, h, w); err != nil {
		return 0, 0, 0, err
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"brightness", t.Brightness}, {"contrast", t.Contrast}, {"saturation", t.Saturation}} {
		if !(f.v >= 0) {
			return 0, 0, 0, fmt.Errorf("ColorJitter: %s %v is negative", f.name, f.v)
		}
	}
	if !(t.Hue >= 0 && t.Hue <= 0.5) {
		return 0, 0, 0, fmt.Errorf("ColorJitter: hue %v outside [0, 0.5]", t.Hue)
	}
	if err := checkProb("ColorJitter", t.P); err != nil {
		return 0, 0, 0, err
	}
	return c, h, w, nil
}

// String describes the transform and its parameters, for logs.
func (t ColorJitter) String() string {
	return fmt.Sprintf("ColorJitter(brightness=%g, contrast=%g, saturation=%g, hue=%g, p=%g)",
		t.Brightness, t.Contrast, t.Saturation, t.Hue, t.P)
}

// RandomGrayscale converts a three-channel image to grayscale (kept as three
// equal channels) with probability P (0.2 in SimCLR). Other images pass
// through unchanged.
type RandomGrayscale struct {
	// P is the probability of converting an image.
	P float64
}

// Apply converts or copies src into dst. It works in place.
func (t RandomGrayscale) Apply(dst, src data.Image, r *rand.Rand) data.Image {
	dst = copyInto(dst, src)
	if hit(r, t.P) {
		ToGrayscale(dst)
	}
	return dst
}

// InPlace reports true: dst may be src.
func (t RandomGrayscale) InPlace() bool { return true }

// OutShape is the input shape.
func (t RandomGrayscale) OutShape(c, h, w int) (int, int, int, error) {
	if err := checkDims(c, h, w); err != nil {
		return 0, 0, 0, err
	}
	return c, h, w, checkProb("RandomGrayscale", t.P)
}

// String describes the transform and its parameters, for logs.
func (t RandomGrayscale) String() string { return fmt.Sprintf("RandomGrayscale(p=%g)", t.P) }
