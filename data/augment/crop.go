package augment

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/data"
)

// Default crop parameters, torchvision's.
var (
	// DefaultScale is RandomResizedCrop's default range of the crop's area
	// as a fraction of the image's.
	DefaultScale = [2]float64{0.08, 1}
	// DefaultRatio is RandomResizedCrop's default range of the crop's
	// aspect ratio (width / height).
	DefaultRatio = [2]float64{3.0 / 4.0, 4.0 / 3.0}
)

// RandomResizedCrop cuts a random box out of the image and scales it to
// Size x Size, the augmentation that does most of the work in contrastive
// learning (SimCLR, Table 3). The box is drawn exactly as torchvision draws
// it: up to ten attempts at an area fraction uniform in Scale and an aspect
// ratio log-uniform in Ratio, the first one that fits wins, otherwise a
// centre crop clamped to Ratio. Resampling is bilinear without antialiasing.
type RandomResizedCrop struct {
	// Size is the side of the square output.
	Size int
	// Scale is the range of the crop's area as a fraction of the image;
	// the zero value means DefaultScale.
	Scale [2]float64
	// Ratio is the range of the crop's aspect ratio (width/height); the
	// zero value means DefaultRatio.
	Ratio [2]float64
}

func (t RandomResizedCrop) scale() [2]float64 {
	if t.Scale == [2]float64{} {
		return DefaultScale
	}
	return t.Scale
}

func (t RandomResizedCrop) ratio() [2]float64 {
	if t.Ratio == [2]float64{} {
		return DefaultRatio
	}
	return t.Ratio
}

// Params draws a crop box for an h x w image: its top-left corner and its
// height and width in pixels. It is what Apply uses, exported so that
// callers (and tests) can see the boxes.
func (t RandomResizedCrop) Params(h, w int, r *rand.Rand) (top, left, ch, cw int) {
	scale, ratio := t.scale(), t.ratio()
	area := float64(h) * float64(w)
	logLo, logHi := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * uniform(r, scale[0], scale[1])
		aspect := math.Exp(uniform(r, logLo, logHi))
		cw := int(math.RoundToEven(math.Sqrt(target * aspect)))
		ch := int(math.RoundToEven(math.Sqrt(target / aspect)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			top := r.IntN(h - ch + 1)
			left := r.IntN(w - cw + 1)
			return top, left, ch, cw
		}
	}
	// Fallback: the largest centred box whose ratio is within range.
	inRatio := float64(w) / float64(h)
	switch {
	case inRatio < min(ratio[0], ratio[1]):
		cw = w
		ch = int(math.RoundToEven(float64(cw) / min(ratio[0], ratio[1])))
	case inRatio > max(ratio[0], ratio[1]):
		ch = h
		cw = int(math.RoundToEven(float64(ch) * max(ratio[0], ratio[1])))
	default:
		ch, cw = h, w
	}
	return (h - ch) / 2, (w - cw) / 2, ch, cw
}

// Apply crops src at a random box and resizes it to Size x Size into dst.
// dst must not overlap src.
func (t RandomResizedCrop) Apply(dst, src data.Image, r *rand.Rand) data.Image {
	top, left, ch, cw := t.Params(src.H, src.W, r)
	return resample(dst, src, top, left, ch, cw, t.Size, t.Size)
}

// OutShape is c x Size x Size.
func (t RandomResizedCrop) OutShape(c, h, w int) (int, int, int, error) {
	if err := checkDims(c, h, w); err != nil {
		return 0, 0, 0, err
	}
	s, q := t.scale(), t.ratio()
	switch {
	case t.Size <= 0:
		return 0, 0, 0, fmt.Errorf("RandomResizedCrop: size %d is not positive", t.Size)
	case !(s[0] > 0 && s[0] <= s[1]):
		return 0, 0, 0, fmt.Errorf("RandomResizedCrop: scale range %v is not 0 < lo <= hi", s)
	case !(q[0] > 0 && q[0] <= q[1]):
		return 0, 0, 0, fmt.Errorf("RandomResizedCrop: ratio range %v is not 0 < lo <= hi", q)
	}
	return c, t.Size, t.Size, nil
}

// String describes the transform and its parameters, for logs.
func (t RandomResizedCrop) String() string {
	return fmt.Sprintf("RandomResizedCrop(size=%d, scale=%v, ratio=%.4g)", t.Size, t.scale(), t.ratio())
}

// CenterCrop cuts the central Size x Size box, padding with zeros when the
// image is smaller, as torchvision's CenterCrop does. It is the evaluation
// counterpart of RandomResizedCrop.
type CenterCrop struct {
	// Size is the side of the square output.
	Size int
}

// Apply writes the centre crop of src into dst. dst must not overlap src.
func (t CenterCrop) Apply(dst, src data.Image, _ *rand.Rand) data.Image {
	top, left := centerOffset(src.H, t.Size), centerOffset(src.W, t.Size)
	dst = fit(dst, src.C, t.Size, t.Size)
	s, plane := t.Size, src.H*src.W
	for c := range src.C {
		for y := range s {
			row := dst.Pix[(c*s+y)*s : (c*s+y+1)*s]
			sy := y + top
			if sy < 0 || sy >= src.H {
				clear(row)
				continue
			}
			srow := src.Pix[c*plane+sy*src.W : c*plane+(sy+1)*src.W]
			for x := range row {
				sx := x + left
				if sx >= 0 && sx < src.W {
					row[x] = srow[sx]
				} else {
					row[x] = 0
				}
			}
		}
	}
	return dst
}

// centerOffset is torchvision's crop origin along one axis: rounded half
// the slack, or minus the floor of half the padding for a small image.
func centerOffset(n, size int) int {
	if n < size {
		return -((size - n) / 2)
	}
	return int(math.RoundToEven(float64(n-size) / 2))
}

// OutShape is c x Size x Size.
func (t CenterCrop) OutShape(c, h, w int) (int, int, int, error) {
	if err := checkDims(c, h, w); err != nil {
		return 0, 0, 0, err
	}
	if t.Size <= 0 {
		return 0, 0, 0, fmt.Errorf("CenterCrop: size %d is not positive", t.Size)
	}
	return c, t.Size, t.Size, nil
}

// String describes the transform and its parameters, for logs.
func (t CenterCrop) String() string { return fmt.Sprintf("CenterCrop(%d)", t.Size) }

// Resize scales the image so that its shorter side is Size, keeping the
// aspect ratio (the longer side is truncated, as torchvision does), with
// bilinear resampling. An image whose shorter side is already Size is
// copied unchanged.
type Resize struct {
	// Size is the length of the shorter side after resizing.
	Size int
}

func (t Resize) outHW(h, w int) (int, int) {
	if h <= w {
		return t.Size, int(float64(t.Size) * float64(w) / float64(h))
	}
	return int(float64(t.Size) * float64(h) / float64(w)), t.Size
}

// Apply resizes src into dst. dst must not overlap src.
func (t Resize) Apply(dst, src data.Image, _ *rand.Rand) data.Image {
	oh, ow := t.outHW(src.H, src.W)
	return resample(dst, src, 0, 0, src.H, src.W, oh, ow)
}

// OutShape gives the resized shape; with an unknown input height or width
// both output sides are unknown.
func (t Resize) OutShape(c, h, w int) (int, int, int, error) {
	if err := checkDims(c, h, w); err != nil {
		return 0, 0, 0, err
	}
	if t.Size <= 0 {
		return 0, 0, 0, fmt.Errorf("Resize: size %d is not positive", t.Size)
	}
	if h == 0 || w == 0 {
		return c, 0, 0, nil
	}
	oh, ow := t.outHW(h, w)
	return c, oh, ow, nil
}

// String describes the transform and its parameters, for logs.
func (t Resize) String() string { return fmt.Sprintf("Resize(%d)", t.Size) }

// resample writes the box [top, top+ch) x [left, left+cw) of src, scaled to
// oh x ow, into dst using PyTorch's bilinear interpolation with
// align_corners=False and no antialiasing: output pixel d samples source
// coordinate (d+0.5)*in/out-0.5, clamped to the box.
func resample(dst, src data.Image, top, left, ch, cw, oh, ow int) data.Image {
	dst = fit(dst, src.C, oh, ow)
	plane, oplane := src.H*src.W, oh*ow
	if ch == oh && cw == ow { // scale 1 samples pixel centres exactly: copy
		for c := range src.C {
			for y := range oh {
				s := src.Pix[c*plane+(top+y)*src.W+left:]
				copy(dst.Pix[c*oplane+y*ow:c*oplane+(y+1)*ow], s[:ow])
			}
		}
		return dst
	}
	// Column taps are computed once per chunk of output columns (on the
	// stack), row taps once per row, and the inner loop runs along a row.
	const chunk = 256
	var c0, c1 [chunk]int32
	var cwt [chunk]float32
	sy, sx := float64(ch)/float64(oh), float64(cw)/float64(ow)
	for x0 := 0; x0 < ow; x0 += chunk {
		n := min(chunk, ow-x0)
		for k := range n {
			i0, i1, w := linearTaps(x0+k, sx, cw)
			c0[k], c1[k], cwt[k] = int32(left+i0), int32(left+i1), w
		}
		i0s, i1s, wxs := c0[:n], c1[:n], cwt[:n]
		for y := range oh {
			y0, y1, wy := linearTaps(y, sy, ch)
			for c := range src.C {
				base := c * plane
				r0 := src.Pix[base+(top+y0)*src.W : base+(top+y0+1)*src.W]
				r1 := src.Pix[base+(top+y1)*src.W : base+(top+y1+1)*src.W]
				d := dst.Pix[c*oplane+y*ow+x0 : c*oplane+y*ow+x0+n]
				for k := range d {
					a, b := r0[i0s[k]], r0[i1s[k]]
					p, q := r1[i0s[k]], r1[i1s[k]]
					wx := wxs[k]
					upper := a + wx*(b-a)
					lower := p + wx*(q-p)
					d[k] = upper + wy*(lower-upper)
				}
			}
		}
	}
	return dst
}

// linearTaps returns the two source indices (within [0, n)) and the weight
// of the second for output index d at the given scale.
func linearTaps(d int, scale float64, n int) (i0, i1 int, w float32) {
	s := (float64(d)+0.5)*scale - 0.5
	if s < 0 {
		s = 0
	}
	i0 = int(s)
	if i0 > n-1 {
		i0 = n - 1
	}
	i1 = i0
	if i0 < n-1 {
		i1 = i0 + 1
	}
	return i0, i1, float32(s - float64(i0))
}
