package tensor

import (
	"fmt"
	"math"
)

// Window locates one crop: the index of the source image in its batch and
// the crop's top-left corner.
type Window struct {
	Image, Top, Left int
}

// CropWindows copies one crop per window out of the images of src
// [N, C, H, W] into dst [len(wins), C, h, w], the crop size being dst's
// last two dimensions: the patches and tiles of the context-prediction
// pretext tasks (relative patch location, jigsaw), each at its own place.
// A window that does not lie wholly inside its image is a caller's bug and
// panics with the window named.
func CropWindows(dst, src *Tensor, wins []Window) {
	n, c, h, w := dims4("tensor.CropWindows", src)
	m, dc, ch, cw := dims4("tensor.CropWindows", dst)
	if m != len(wins) || dc != c {
		panic(fmt.Sprintf("tensor.CropWindows: dst shape %v for %d windows of %d-channel images", dst.Shape(), len(wins), c))
	}
	for i, win := range wins {
		if win.Image < 0 || win.Image >= n || win.Top < 0 || win.Left < 0 || win.Top+ch > h || win.Left+cw > w {
			panic(fmt.Sprintf("tensor.CropWindows: window %d %+v of size %dx%d is outside the %d images of %dx%d", i, win, ch, cw, n, h, w))
		}
	}
	crop := c * ch * cw
	ParallelFor(m, 64, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			win := wins[i]
			out := dst.Data[i*crop : (i+1)*crop]
			for k := 0; k < c; k++ {
				plane := src.Data[(win.Image*c+k)*h*w : (win.Image*c+k+1)*h*w]
				for y := 0; y < ch; y++ {
					row := plane[(win.Top+y)*w+win.Left:]
					copy(out[(k*ch+y)*cw:(k*ch+y+1)*cw], row[:cw])
				}
			}
		}
	})
}

// StandardizeItems shifts and scales every item of t along its first
// dimension (a patch, a tile) in place to zero mean and unit variance over
// all its values: x -> (x - mean) / sqrt(var + eps). The context-prediction
// tasks standardise each patch on its own so that a network cannot match
// neighbours by their brightness or contrast. A constant item becomes all
// zeros (the statistics are summed in float64, so exactly).
func StandardizeItems(t *Tensor, eps float32) {
	rows := t.Dim(0)
	if rows == 0 {
		return
	}
	d := t.Len() / rows
	ParallelFor(rows, 16, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			x := t.Data[r*d : (r+1)*d]
			var s float64
			for _, v := range x {
				s += float64(v)
			}
			mu := s / float64(d)
			var ss float64
			for _, v := range x {
				dv := float64(v) - mu
				ss += dv * dv
			}
			is := float32(1 / math.Sqrt(ss/float64(d)+float64(eps)))
			m := float32(mu)
			for i, v := range x {
				x[i] = (v - m) * is
			}
		}
	})
}
