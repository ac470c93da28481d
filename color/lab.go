package color

import (
	"fmt"
	"math"

	"selfsup/tensor"
)

// The D65 reference white for the 2° observer, as XYZ tristimulus values
// scaled so that Y = 1 (scikit-image's illuminants["D65"]["2"]).
const (
	WhiteX = 0.95047
	WhiteY = 1.0
	WhiteZ = 1.08883
)

// CIE constants of the Lab function f: t^(1/3) above epsilon, the linear
// part (kappa*t + 16)/116 below it. These are the exact rational values;
// scikit-image rounds them to 0.008856 and 7.787 = kappa/116, which moves L
// by less than 4e-5.
const (
	labEpsilon = 216.0 / 24389.0
	labKappa   = 24389.0 / 27.0
	labDelta   = 6.0 / 29.0 // f(epsilon): the inverse switches here
)

// xyzFromRGB maps linear sRGB to CIE XYZ (scikit-image's xyz_from_rgb).
var xyzFromRGB = [3][3]float64{
	{0.412453, 0.357580, 0.180423},
	{0.212671, 0.715160, 0.072169},
	{0.019334, 0.119193, 0.950227},
}

// rgbFromXYZ is the inverse of xyzFromRGB, computed once in float64.
var rgbFromXYZ = invert3(xyzFromRGB)

// invert3 returns the inverse of a 3x3 matrix by the adjugate.
func invert3(m [3][3]float64) (inv [3][3]float64) {
	c00 := m[1][1]*m[2][2] - m[1][2]*m[2][1]
	c01 := m[1][2]*m[2][0] - m[1][0]*m[2][2]
	c02 := m[1][0]*m[2][1] - m[1][1]*m[2][0]
	det := m[0][0]*c00 + m[0][1]*c01 + m[0][2]*c02
	inv[0][0] = c00 / det
	inv[1][0] = c01 / det
	inv[2][0] = c02 / det
	inv[0][1] = (m[0][2]*m[2][1] - m[0][1]*m[2][2]) / det
	inv[1][1] = (m[0][0]*m[2][2] - m[0][2]*m[2][0]) / det
	inv[2][1] = (m[0][1]*m[2][0] - m[0][0]*m[2][1]) / det
	inv[0][2] = (m[0][1]*m[1][2] - m[0][2]*m[1][1]) / det
	inv[1][2] = (m[0][2]*m[1][0] - m[0][0]*m[1][2]) / det
	inv[2][2] = (m[0][0]*m[1][1] - m[0][1]*m[1][0]) / det
	return inv
}

// SRGBToLinear decodes an sRGB value (nominally in [0, 1]) to linear light:
// v/12.92 up to 0.04045, ((v+0.055)/1.055)^2.4 above.
func SRGBToLinear(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Exp(2.4 * math.Log((v+0.055)/1.055))
}

// LinearToSRGB encodes linear light as sRGB: 12.92*v up to 0.0031308,
// 1.055*v^(1/2.4) - 0.055 above. It does not clip.
func LinearToSRGB(v float64) float64 {
	if v <= 0.0031308 {
		return 12.92 * v
	}
	return 1.055*math.Exp(math.Log(v)/2.4) - 0.055
}

// labF is the CIE Lab function f(t) with its linear part.
func labF(t float64) float64 {
	if t > labEpsilon {
		return math.Cbrt(t)
	}
	return (labKappa*t + 16) / 116
}

// labFInv inverts labF.
func labFInv(f float64) float64 {
	if f > labDelta {
		return f * f * f
	}
	return (116*f - 16) / labKappa
}

// decodeSteps is the number of intervals of the sRGB decoding table.
const decodeSteps = 8192

// decodeTable holds the power branch of the sRGB curve,
// ((x+0.055)/1.055)^2.4, at x = i/decodeSteps (one guard entry past 1),
// below the switch too, so that interpolation never straddles the kink.
var decodeTable = func() (t [decodeSteps + 2]float64) {
	for i := range t {
		t[i] = math.Pow((float64(i)/decodeSteps+0.055)/1.055, 2.4)
	}
	return t
}()

// decode is SRGBToLinear for the float32 API: the linear segment exactly,
// and above it linear interpolation in decodeTable (within 6e-9 of the
// formula: the branch's second derivative is below 3, so the error is under
// 3/(8*8192^2)); values above 1 use the formula. It is five times faster
// than the formula, which would dominate the cost of a conversion.
func decode(v float32) float64 {
	if !(v > 0.04045) || v > 1 {
		return SRGBToLinear(float64(v))
	}
	x := float64(v) * decodeSteps
	i := int(x)
	f := x - float64(i)
	return decodeTable[i] + f*(decodeTable[i+1]-decodeTable[i])
}

// rgbToLab64 converts one sRGB pixel to Lab in float64.
func rgbToLab64(r, g, b float32) (L, A, B float64) {
	lr, lg, lb := decode(r), decode(g), decode(b)
	m := &xyzFromRGB
	x := (m[0][0]*lr + m[0][1]*lg + m[0][2]*lb) / WhiteX
	y := (m[1][0]*lr + m[1][1]*lg + m[1][2]*lb) / WhiteY
	z := (m[2][0]*lr + m[2][1]*lg + m[2][2]*lb) / WhiteZ
	fx, fy, fz := labF(x), labF(y), labF(z)
	return 116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)
}

// labToRGB64 converts one Lab pixel to sRGB in float64, clipped to [0, 1].
func labToRGB64(L, A, B float64) (r, g, b float64) {
	fy := (L + 16) / 116
	fx := fy + A/500
	fz := fy - B/200
	if fz < 0 {
		fz = 0 // as scikit-image's lab2xyz does for colours with Z < 0
	}
	x, y, z := WhiteX*labFInv(fx), WhiteY*labFInv(fy), WhiteZ*labFInv(fz)
	m := &rgbFromXYZ
	r = clip01(LinearToSRGB(m[0][0]*x + m[0][1]*y + m[0][2]*z))
	g = clip01(LinearToSRGB(m[1][0]*x + m[1][1]*y + m[1][2]*z))
	b = clip01(LinearToSRGB(m[2][0]*x + m[2][1]*y + m[2][2]*z))
	return r, g, b
}

func clip01(v float64) float64 {
	switch {
	case v < 0:
		return 0
	case v > 1:
		return 1
	}
	return v
}

// lightness64 is the L of an sRGB pixel: it depends on Y alone.
func lightness64(r, g, b float32) float64 {
	m := &xyzFromRGB
	y := m[1][0]*decode(r) + m[1][1]*decode(g) + m[1][2]*decode(b)
	return 116*labF(y/WhiteY) - 16
}

// RGBToLab converts one sRGB pixel with channels in [0, 1] to CIE Lab: L in
// [0, 100], a and b roughly in [-87, 99] and [-108, 95] for sRGB colours.
// Values outside [0, 1] are extrapolated (the formulas are applied as they
// are), as scikit-image does.
func RGBToLab(r, g, b float32) (L, A, B float32) {
	l, a, bb := rgbToLab64(r, g, b)
	return float32(l), float32(a), float32(bb)
}

// RGBToLab64 is RGBToLab in float64 throughout, with the sRGB curve
// evaluated by its formula: for building label sets (the in-gamut ab bins)
// where a float32 rounding could move a colour across a bin boundary.
func RGBToLab64(r, g, b float64) (L, A, B float64) {
	lr, lg, lb := SRGBToLinear(r), SRGBToLinear(g), SRGBToLinear(b)
	m := &xyzFromRGB
	x := (m[0][0]*lr + m[0][1]*lg + m[0][2]*lb) / WhiteX
	y := (m[1][0]*lr + m[1][1]*lg + m[1][2]*lb) / WhiteY
	z := (m[2][0]*lr + m[2][1]*lg + m[2][2]*lb) / WhiteZ
	fx, fy, fz := labF(x), labF(y), labF(z)
	return 116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)
}

// LabToRGB converts one CIE Lab pixel to sRGB, clipping each channel to
// [0, 1]: Lab colours outside the sRGB gamut (a network's predictions, say)
// map to the nearest representable channel values, as scikit-image's
// lab2rgb does.
func LabToRGB(L, A, B float32) (r, g, b float32) {
	x, y, z := labToRGB64(float64(L), float64(A), float64(B))
	return float32(x), float32(y), float32(z)
}

// Lightness returns the L of one sRGB pixel (RGBToLab's first result,
// cheaper).
func Lightness(r, g, b float32) float32 {
	return float32(lightness64(r, g, b))
}

// parallelGrain is the number of pixels below which a conversion runs on
// the calling goroutine only.
const parallelGrain = 8192

// checkPlanar validates a planar batch: src holds whole images of 3 planes
// of plane values each; dst must hold outPlanes planes per image.
func checkPlanar(op string, dst, src []float32, plane, outPlanes int) (images int, err error) {
	if plane <= 0 {
		return 0, fmt.Errorf("color.%s: plane size %d must be positive", op, plane)
	}
	if len(src)%(3*plane) != 0 {
		return 0, fmt.Errorf("color.%s: %d source values are not whole images of 3 planes of %d", op, len(src), plane)
	}
	images = len(src) / (3 * plane)
	if len(dst) != images*outPlanes*plane {
		return 0, fmt.Errorf("color.%s: destination has %d values, %d images need %d", op, len(dst), images, images*outPlanes*plane)
	}
	return images, nil
}

// forPixels runs fn over the pixels [lo, hi) of a batch of images, where
// pixel p is plane offset p%plane of image p/plane, in parallel for large
// batches.
func forPixels(images, plane int, fn func(img, lo, hi int)) {
	tensor.ParallelFor(images*plane, parallelGrain, func(_, lo, hi int) {
		for p := lo; p < hi; {
			img, off := p/plane, p%plane
			end := min(plane, off+hi-p)
			fn(img, off, end)
			p += end - off
		}
	})
}

// RGBToLabPlanar converts a batch of sRGB images in CHW layout (per image
// the R, G and B planes of plane values each) to Lab in the same layout
// (the L, a and b planes). dst and src must have the same length and may be
// the same slice.
func RGBToLabPlanar(dst, src []float32, plane int) error {
	images, err := checkPlanar("RGBToLabPlanar", dst, src, plane, 3)
	if err != nil {
		return err
	}
	forPixels(images, plane, func(img, lo, hi int) {
		s, d := src[img*3*plane:(img+1)*3*plane], dst[img*3*plane:(img+1)*3*plane]
		R, G, B := s[:plane], s[plane:2*plane], s[2*plane:]
		dL, dA, dB := d[:plane], d[plane:2*plane], d[2*plane:]
		for i := lo; i < hi; i++ {
			l, a, b := rgbToLab64(R[i], G[i], B[i])
			dL[i], dA[i], dB[i] = float32(l), float32(a), float32(b)
		}
	})
	return nil
}

// LabToRGBPlanar converts a batch of Lab images in CHW layout (L, a and b
// planes) to sRGB planes clipped to [0, 1]. dst and src must have the same
// length and may be the same slice.
func LabToRGBPlanar(dst, src []float32, plane int) error {
	images, err := checkPlanar("LabToRGBPlanar", dst, src, plane, 3)
	if err != nil {
		return err
	}
	forPixels(images, plane, func(img, lo, hi int) {
		s, d := src[img*3*plane:(img+1)*3*plane], dst[img*3*plane:(img+1)*3*plane]
		L, A, B := s[:plane], s[plane:2*plane], s[2*plane:]
		dR, dG, dB := d[:plane], d[plane:2*plane], d[2*plane:]
		for i := lo; i < hi; i++ {
			r, g, b := labToRGB64(float64(L[i]), float64(A[i]), float64(B[i]))
			dR[i], dG[i], dB[i] = float32(r), float32(g), float32(b)
		}
	})
	return nil
}

// LightnessPlanar writes the L plane (in [0, 100]) of each sRGB image of a
// CHW batch: dst holds one plane per image of src's three. It is what a
// colorization network sees, computed without a and b.
func LightnessPlanar(dst, src []float32, plane int) error {
	images, err := checkPlanar("LightnessPlanar", dst, src, plane, 1)
	if err != nil {
		return err
	}
	forPixels(images, plane, func(img, lo, hi int) {
		s, d := src[img*3*plane:(img+1)*3*plane], dst[img*plane:(img+1)*plane]
		R, G, B := s[:plane], s[plane:2*plane], s[2*plane:]
		for i := lo; i < hi; i++ {
			d[i] = float32(lightness64(R[i], G[i], B[i]))
		}
	})
	return nil
}

// GrayLightness writes the L (in [0, 100]) of grey levels: each src value v
// is the colour (v, v, v). dst and src must have the same length and may be
// the same slice. It lets a lightness model read 1-channel images.
func GrayLightness(dst, src []float32) error {
	if len(dst) != len(src) {
		return fmt.Errorf("color.GrayLightness: destination has %d values, source %d", len(dst), len(src))
	}
	tensor.ParallelFor(len(src), parallelGrain, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			d := decode(src[i])
			dst[i] = float32(116*labF(d*(xyzFromRGB[1][0]+xyzFromRGB[1][1]+xyzFromRGB[1][2])/WhiteY) - 16)
		}
	})
	return nil
}
