package augment

import "selfsup/data"

// ITU-R 601-2 luma weights, used for grayscale conversion and for the
// grayscale mean that contrast blends towards.
const (
	LumaR = 0.299
	LumaG = 0.587
	LumaB = 0.114
)

// The functional colour operations below modify img in place, follow
// torchvision.transforms.functional's definitions for float images and clamp
// their results to [0, 1]. Images without exactly three channels are handled
// as the package documentation says.

// AdjustBrightness multiplies every value by factor (0 gives black, 1 the
// original).
func AdjustBrightness(img data.Image, factor float32) {
	for i, v := range img.Pix {
		img.Pix[i] = clamp01(factor * v)
	}
}

// AdjustContrast blends the image with the mean of its grayscale version:
// factor 0 gives a uniform gray image, 1 the original, larger values more
// contrast. For images without three channels the mean of all values is
// used.
func AdjustContrast(img data.Image, factor float32) {
	mean := grayMean(img)
	blendConst(img.Pix, factor, mean)
}

// AdjustSaturation blends each pixel with its grayscale value: factor 0
// gives a grayscale image, 1 the original, 2 doubles the saturation. It is a
// no-op unless img has three channels.
func AdjustSaturation(img data.Image, factor float32) {
	if img.C != 3 {
		return
	}
	n := img.H * img.W
	r, g, b := img.Pix[:n], img.Pix[n:2*n], img.Pix[2*n:3*n]
	for i := range r {
		l := (1 - factor) * luma(r[i], g[i], b[i])
		r[i] = clamp01(factor*r[i] + l)
		g[i] = clamp01(factor*g[i] + l)
		b[i] = clamp01(factor*b[i] + l)
	}
}

// AdjustHue rotates every pixel's hue by shift turns (shift in [-0.5, 0.5];
// 1/3 maps red to green) through the HSV colour space. It is a no-op unless
// img has three channels.
func AdjustHue(img data.Image, shift float32) {
	if img.C != 3 {
		return
	}
	n := img.H * img.W
	r, g, b := img.Pix[:n], img.Pix[n:2*n], img.Pix[2*n:3*n]
	for i := range r {
		h, s, v := RGBToHSV(r[i], g[i], b[i])
		h += shift // in (-0.5, 1.5): wrap into [0, 1)
		if h < 0 {
			h++
		} else if h >= 1 {
			h--
		}
		r[i], g[i], b[i] = HSVToRGB(h, s, v)
	}
}

// ToGrayscale replaces every channel of a three-channel image by the luma
// 0.299 R + 0.587 G + 0.114 B, keeping three channels so that the image
// still fits the network. Other images are left unchanged.
func ToGrayscale(img data.Image) {
	if img.C != 3 {
		return
	}
	n := img.H * img.W
	r, g, b := img.Pix[:n], img.Pix[n:2*n], img.Pix[2*n:3*n]
	for i := range r {
		l := luma(r[i], g[i], b[i])
		r[i], g[i], b[i] = l, l, l
	}
}

// RGBToHSV converts one pixel to hue (in turns, [0, 1)), saturation and
// value, as torchvision's _rgb2hsv does.
func RGBToHSV(r, g, b float32) (h, s, v float32) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := maxc - minc
	s = cr / maxc
	rc, gc, bc := (maxc-r)/cr, (maxc-g)/cr, (maxc-b)/cr
	switch {
	case maxc == r:
		h = bc - gc
	case maxc == g:
		h = 2 + rc - bc
	default:
		h = 4 + gc - rc
	}
	h = h/6 + 1 // in (0, 2): the fractional part is the hue
	if h >= 1 {
		h--
	}
	return h, s, maxc
}

// HSVToRGB converts hue (turns), saturation and value back to RGB, as
// torchvision's _hsv2rgb does.
func HSVToRGB(h, s, v float32) (r, g, b float32) {
	h6 := h * 6
	i := int(h6) // truncation: floor for h >= 0
	if float32(i) > h6 {
		i--
	}
	f := h6 - float32(i)
	i %= 6
	if i < 0 {
		i += 6
	}
	p := clamp01(v * (1 - s))
	q := clamp01(v * (1 - s*f))
	t := clamp01(v * (1 - s*(1-f)))
	switch i {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}

func luma(r, g, b float32) float32 { return LumaR*r + LumaG*g + LumaB*b }

// grayMean is the mean of the image's grayscale version (three channels) or
// of all its values (any other channel count).
func grayMean(img data.Image) float32 {
	var sum float64
	if img.C == 3 {
		n := img.H * img.W
		r, g, b := img.Pix[:n], img.Pix[n:2*n], img.Pix[2*n:3*n]
		for i := range r {
			sum += float64(luma(r[i], g[i], b[i]))
		}
		return float32(sum / float64(max(n, 1)))
	}
	for _, v := range img.Pix {
		sum += float64(v)
	}
	return float32(sum / float64(max(len(img.Pix), 1)))
}

// blendConst sets x = clamp(factor*x + (1-factor)*c).
func blendConst(pix []float32, factor, c float32) {
	off := (1 - factor) * c
	for i, v := range pix {
		pix[i] = clamp01(factor*v + off)
	}
}

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}
