package data

import (
	"fmt"
	"math"
	"sync"
)

// resized resizes every image of a parent dataset to size x size.
type resized struct {
	parent  Dataset
	name    string
	c, size int
	fixed   *resampler // precomputed when the parent's images share one size
	scratch sync.Pool  // *resizeScratch
}

// resizeScratch holds per-call buffers: the parent's image and the
// horizontally filtered rows.
type resizeScratch struct {
	src Image
	tmp []float32
}

// channeler is implemented by datasets whose images have a known channel
// count even though their sizes vary (image folders are always RGB).
type channeler interface{ Channels() int }

// Channels reports that folder images are always decoded to RGB.
func (f *folder) Channels() int { return 3 }

// Resized returns ds with every image scaled so that its shorter side is
// size pixels and then centre-cropped to size x size: the usual "resize,
// centre crop" preprocessing, which keeps the aspect ratio. Scaling is
// bilinear; when shrinking, the filter widens with the scale factor (as
// PIL's bilinear resize does) so that small outputs do not alias. Images
// already size x size are copied unchanged.
func Resized(ds Dataset, size int) (Dataset, error) {
	if size <= 0 {
		return nil, fmt.Errorf("%s: resize to %d pixels: size must be positive", ds.Name(), size)
	}
	c, h, w := ds.Shape()
	r := &resized{parent: ds, name: fmt.Sprintf("%s[%dx%d]", ds.Name(), size, size), c: c, size: size}
	if c == 0 {
		if ch, ok := ds.(channeler); ok {
			r.c = ch.Channels()
		}
	} else {
		r.fixed = newResampler(h, w, size)
	}
	r.scratch.New = func() any { return new(resizeScratch) }
	return r, nil
}

// The Dataset methods of resized; see Dataset for their contracts.
func (r *resized) Name() string      { return r.name }
func (r *resized) Len() int          { return r.parent.Len() }
func (r *resized) Label(i int) int   { return r.parent.Label(i) }
func (r *resized) Classes() []string { return r.parent.Classes() }

// Shape is C x size x size; C is 0 only when the parent cannot tell it.
func (r *resized) Shape() (c, h, w int) { return r.c, r.size, r.size }

// Image reads the parent image into pooled scratch and resamples it
// into dst.
func (r *resized) Image(i int, dst Image) (Image, error) {
	s := r.scratch.Get().(*resizeScratch)
	defer r.scratch.Put(s)
	src, err := r.parent.Image(i, s.src)
	if err != nil {
		return dst, err
	}
	s.src = src
	dst = ensureImage(dst, src.C, r.size, r.size)
	if src.H == r.size && src.W == r.size {
		copy(dst.Pix, src.Pix)
		return dst, nil
	}
	rs := r.fixed
	if rs == nil || rs.inH != src.H || rs.inW != src.W {
		rs = newResampler(src.H, src.W, r.size)
	}
	s.tmp = rs.apply(src, dst, s.tmp)
	return dst, nil
}

// taps are the filter weights of one axis: output j reads the input
// samples first[j] .. first[j]+n-1 with weights w[j*n:(j+1)*n].
type taps struct {
	first []int
	n     int
	w     []float32
}

// resampler scales an inH x inW image to a size x size centre crop.
type resampler struct {
	inH, inW, size int
	x, y           taps
}

func newResampler(inH, inW, size int) *resampler {
	scale := float64(size) / float64(min(inH, inW)) // output pixels per input pixel
	span := float64(size) / scale                   // input pixels the crop covers
	x0 := (float64(inW) - span) / 2
	y0 := (float64(inH) - span) / 2
	return &resampler{
		inH: inH, inW: inW, size: size,
		x: makeTaps(inW, x0, span, size),
		y: makeTaps(inH, y0, span, size),
	}
}

// makeTaps computes triangle-filter weights mapping the input interval
// [start, start+span) of an axis of length in onto out samples.
func makeTaps(in int, start, span float64, out int) taps {
	step := span / float64(out) // input pixels per output pixel
	fs := math.Max(step, 1)     // filter scale: widen when shrinking
	n := int(math.Ceil(fs))*2 + 1
	t := taps{first: make([]int, out), n: n, w: make([]float32, out*n)}
	for j := 0; j < out; j++ {
		center := start + (float64(j)+0.5)*step
		lo := max(int(math.Floor(center-fs+0.5)), 0)
		hi := min(int(math.Floor(center+fs+0.5)), in)
		if hi-lo > n {
			hi = lo + n
		}
		if lo >= hi { // centre outside the image: clamp to the nearest edge
			lo = min(max(int(center), 0), in-1)
			hi = lo + 1
		}
		t.first[j] = lo
		ws := t.w[j*n : (j+1)*n]
		var sum float64
		for k := lo; k < hi; k++ {
			d := math.Abs((float64(k) + 0.5 - center) / fs)
			if d < 1 {
				ws[k-lo] = float32(1 - d)
				sum += 1 - d
			}
		}
		if sum == 0 {
			ws[0], sum = 1, 1
		}
		for k := range ws {
			ws[k] = float32(float64(ws[k]) / sum)
		}
	}
	return t
}

// apply resamples src into dst (both CHW), filtering rows first into tmp
// (grown if needed and returned for reuse).
func (r *resampler) apply(src, dst Image, tmp []float32) []float32 {
	size := r.size
	rowLo := r.y.first[0]
	rowHi := min(r.y.first[size-1]+r.y.n, r.inH)
	rows := rowHi - rowLo
	if cap(tmp) < rows*size {
		tmp = make([]float32, rows*size)
	}
	tmp = tmp[:rows*size]
	inPlane := r.inH * r.inW
	for c := 0; c < src.C; c++ {
		sp := src.Pix[c*inPlane : (c+1)*inPlane]
		for y := rowLo; y < rowHi; y++ {
			row := sp[y*r.inW : (y+1)*r.inW]
			out := tmp[(y-rowLo)*size : (y-rowLo+1)*size]
			for j := range out {
				f := r.x.first[j]
				ws := r.x.w[j*r.x.n : (j+1)*r.x.n]
				var acc float32
				for k, wk := range ws {
					if f+k < r.inW {
						acc += wk * row[f+k]
					}
				}
				out[j] = acc
			}
		}
		dp := dst.Pix[c*size*size : (c+1)*size*size]
		for i := 0; i < size; i++ {
			f := r.y.first[i]
			ws := r.y.w[i*r.y.n : (i+1)*r.y.n]
			out := dp[i*size : (i+1)*size]
			clear(out)
			for k, wk := range ws {
				if wk == 0 || f+k >= rowHi {
					continue
				}
				in := tmp[(f+k-rowLo)*size : (f+k-rowLo+1)*size]
				for j, v := range in {
					out[j] += wk * v
				}
			}
		}
	}
	return tmp
}
