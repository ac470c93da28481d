package augment

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/data"
)

// maxBlurRadius bounds the kernel radius so that the kernel lives on the
// stack; at sigma <= 15 the weights beyond it are below 1e-14.
const maxBlurRadius = 127

// lineMax is the padded row length the horizontal pass handles without
// allocating; wider images allocate a row buffer per call.
const lineMax = 2048

// GaussianBlur blurs the image with probability P using a Gaussian kernel
// whose sigma is drawn uniformly from Sigma, as SimCLR (ImageNet), MoCo v2,
// BYOL and DINO do. The kernel is separable (a vertical then a horizontal
// pass) and the borders are padded by reflection (torch's "reflect", which
// does not repeat the edge pixel; images smaller than the kernel reflect
// repeatedly).
type GaussianBlur struct {
	// KernelSize is the odd kernel side in pixels. 0 means KernelFrac of the
	// image's shorter side, rounded down and made odd (SimCLR's rule: 23
	// for 224).
	KernelSize int
	// KernelFrac is the kernel side as a fraction of the image size when
	// KernelSize is 0; 0 means 0.1.
	KernelFrac float64
	// Sigma is the range sigma is drawn from; the zero value means
	// (0.1, 2.0).
	Sigma [2]float64
	// P is the probability of blurring (0.5 in SimCLR and MoCo v2, 1.0 and
	// 0.1 for BYOL's two views).
	P float64
}

func (t GaussianBlur) sigma() [2]float64 {
	if t.Sigma == [2]float64{} {
		return [2]float64{0.1, 2.0}
	}
	return t.Sigma
}

// kernelSize returns the nominal odd kernel side for an h x w image.
func (t GaussianBlur) kernelSize(h, w int) int {
	if t.KernelSize > 0 {
		return t.KernelSize
	}
	frac := t.KernelFrac
	if frac == 0 {
		frac = 0.1
	}
	k := int(frac * float64(min(h, w)))
	if k%2 == 0 {
		k++
	}
	return k
}

// Apply blurs or copies src into dst. dst must not overlap src.
func (t GaussianBlur) Apply(dst, src data.Image, r *rand.Rand) data.Image {
	if !hit(r, t.P) {
		return copyInto(dst, src)
	}
	s := t.sigma()
	sigma := uniform(r, s[0], s[1])
	return BlurImage(dst, src, t.kernelSize(src.H, src.W), sigma)
}

// BlurImage writes src convolved with a ksize x ksize Gaussian of the given
// sigma into dst (which must not overlap src) and returns it. The kernel is
// truncated at 8 sigma (weights below 1e-14) and at maxBlurRadius.
func BlurImage(dst, src data.Image, ksize int, sigma float64) data.Image {
	dst = fit(dst, src.C, src.H, src.W)
	radius := min(ksize/2, int(math.Ceil(8*sigma)), maxBlurRadius)
	if radius <= 0 || src.H == 0 || src.W == 0 {
		copy(dst.Pix, src.Pix)
		return dst
	}
	var kbuf [2*maxBlurRadius + 1]float32
	k := kbuf[:2*radius+1]
	var sum float64
	for j := range k {
		x := float64(j-radius) / sigma
		v := math.Exp(-0.5 * x * x)
		k[j] = float32(v)
		sum += v
	}
	for j := range k {
		k[j] = float32(float64(k[j]) / sum)
	}
	h, w := src.H, src.W
	plane := h * w
	var lbuf [lineMax]float32
	line := lbuf[:]
	if w+2*radius > lineMax {
		line = make([]float32, w+2*radius)
	}
	line = line[:w+2*radius]
	for c := range src.C {
		sp := src.Pix[c*plane : (c+1)*plane]
		dp := dst.Pix[c*plane : (c+1)*plane]
		// Vertical pass, src -> dst, one output row at a time.
		for y := range h {
			d := dp[y*w : (y+1)*w]
			s0 := sp[y*w : (y+1)*w]
			kc := k[radius]
			for x := range d {
				d[x] = kc * s0[x]
			}
			for j := -radius; j <= radius; j++ {
				if j == 0 {
					continue
				}
				sy := reflectIndex(y+j, h)
				s := sp[sy*w : (sy+1)*w]
				kj := k[j+radius]
				for x := range d {
					d[x] += kj * s[x]
				}
			}
		}
		// Horizontal pass in place, through a reflect-padded copy of the row.
		for y := range h {
			row := dp[y*w : (y+1)*w]
			for p := range line {
				line[p] = row[reflectIndex(p-radius, w)]
			}
			for x := range row {
				win := line[x : x+len(k)]
				var acc float32
				for j, kj := range k {
					acc += kj * win[j]
				}
				row[x] = acc
			}
		}
	}
	return dst
}

// reflectIndex maps i onto [0, n) by mirroring at the borders without
// repeating the edge (torch's "reflect" padding), repeatedly if needed.
func reflectIndex(i, n int) int {
	if i >= 0 && i < n {
		return i
	}
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - i
	}
	return i
}

// OutShape is the input shape; it checks the parameters.
func (t GaussianBlur) OutShape(c, h, w int) (int, int, int, error) {
	if err := checkDims(c, h, w); err != nil {
		return 0, 0, 0, err
	}
	s := t.sigma()
	switch {
	case t.KernelSize < 0 || (t.KernelSize > 0 && t.KernelSize%2 == 0):
		return 0, 0, 0, fmt.Errorf("GaussianBlur: kernel size %d is not a positive odd number", t.KernelSize)
	case !(t.KernelFrac >= 0 && t.KernelFrac <= 1):
		return 0, 0, 0, fmt.Errorf("GaussianBlur: kernel fraction %v outside [0, 1]", t.KernelFrac)
	case !(s[0] > 0 && s[0] <= s[1]):
		return 0, 0, 0, fmt.Errorf("GaussianBlur: sigma range %v is not 0 < lo <= hi", s)
	}
	return c, h, w, checkProb("GaussianBlur", t.P)
}

// String describes the transform and its parameters, for logs.
func (t GaussianBlur) String() string {
	k := fmt.Sprint(t.KernelSize)
	if t.KernelSize == 0 {
		f := t.KernelFrac
		if f == 0 {
			f = 0.1
		}
		k = fmt.Sprintf("%g*size", f)
	}
	return fmt.Sprintf("GaussianBlur(kernel=%s, sigma=%v, p=%g)", k, t.sigma(), t.P)
}
