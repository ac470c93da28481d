package tensor

import (
	"fmt"
	"math"
)

// Rotate90 writes into dst the planes of src [N, C, H, W] rotated by k
// quarter turns counter-clockwise as the image is displayed (row 0 at the
// top), the same as torch.rot90(src, k, dims=(2, 3)). dst is [N, C, H, W]
// for even k and [N, C, W, H] for odd k; k may be any integer (it is taken
// modulo 4). The rotation is an exact index permutation: RotNet's four
// rotations lose nothing. dst must not share memory with src.
func Rotate90(dst, src *Tensor, k int) {
	k = ((k % 4) + 4) % 4
	n, c, h, w := dims4("tensor.Rotate90", src)
	oh, ow := h, w
	if k%2 == 1 {
		oh, ow = w, h
	}
	if !SameShape(dst.Shape(), []int{n, c, oh, ow}) {
		panic(fmt.Sprintf("tensor.Rotate90: dst shape %v, want %v for %d quarter turns of %v", dst.Shape(), []int{n, c, oh, ow}, k, src.Shape()))
	}
	plane := h * w
	ParallelFor(n*c, 8, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			in := src.Data[p*plane : (p+1)*plane]
			out := dst.Data[p*plane : (p+1)*plane]
			switch k {
			case 0:
				copy(out, in)
			case 1: // out[i][j] = in[j][w-1-i], out is [w, h]
				for i := 0; i < w; i++ {
					row := out[i*h : (i+1)*h]
					col := w - 1 - i
					for j := range row {
						row[j] = in[j*w+col]
					}
				}
			case 2: // out[i][j] = in[h-1-i][w-1-j]
				for i := 0; i < h; i++ {
					row := out[i*w : (i+1)*w]
					src := in[(h-1-i)*w : (h-i)*w]
					for j := range row {
						row[j] = src[w-1-j]
					}
				}
			case 3: // out[i][j] = in[h-1-j][i], out is [w, h]
				for i := 0; i < w; i++ {
					row := out[i*h : (i+1)*h]
					for j := range row {
						row[j] = in[(h-1-j)*w+i]
					}
				}
			}
		}
	})
}

// Rotate writes into dst (the shape of src [N, C, H, W]) every plane of src
// rotated counter-clockwise by degrees about the plane's centre. Multiples
// of 90 degrees on square planes are exact (Rotate90); other angles sample
// src bilinearly, pixels beyond its edge counting as 0, so the corners that
// the rotation brings in from outside the image are filled with 0 (as
// torch's grid_sample with zero padding and aligned corners). dst must not
// share memory with src.
func Rotate(dst, src *Tensor, degrees float64) {
	n, c, h, w := dims4("tensor.Rotate", src)
	if !SameShape(dst.Shape(), src.Shape()) {
		panic(fmt.Sprintf("tensor.Rotate: dst shape %v differs from src %v", dst.Shape(), src.Shape()))
	}
	if q := degrees / 90; q == math.Trunc(q) && (h == w || int(q)%2 == 0) {
		Rotate90(dst, src, int(q))
		return
	}
	rotateBilinear(dst, src, n*c, h, w, degrees)
}

// rotateBilinear is Rotate's sampling path. The four source taps and their
// weights are worked out once per output pixel and reused for every plane.
func rotateBilinear(dst, src *Tensor, planes, h, w int, degrees float64) {
	type tap struct {
		idx [4]int32 // -1: outside the image
		wt  [4]float32
	}
	sin, cos := math.Sincos(degrees * math.Pi / 180)
	cy, cx := float64(h-1)/2, float64(w-1)/2
	taps := make([]tap, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			// the output pixel shows the source point it came from: the
			// inverse rotation of its offset from the centre
			sx := cx + cos*dx - sin*dy
			sy := cy + sin*dx + cos*dy
			x0, y0 := math.Floor(sx), math.Floor(sy)
			fx, fy := sx-x0, sy-y0
			t := &taps[y*w+x]
			for k, o := range [4][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
				yy, xx := int(y0)+o[0], int(x0)+o[1]
				wy, wx := 1-fy, 1-fx
				if o[0] == 1 {
					wy = fy
				}
				if o[1] == 1 {
					wx = fx
				}
				t.idx[k], t.wt[k] = -1, 0
				if yy >= 0 && yy < h && xx >= 0 && xx < w {
					t.idx[k], t.wt[k] = int32(yy*w+xx), float32(wy*wx)
				}
			}
		}
	}
	plane := h * w
	ParallelFor(planes, 8, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			in := src.Data[p*plane : (p+1)*plane]
			out := dst.Data[p*plane : (p+1)*plane]
			for i := range out {
				t := &taps[i]
				var s float32
				for k, j := range t.idx {
					if j >= 0 {
						s += t.wt[k] * in[j]
					}
				}
				out[i] = s
			}
		}
	})
}

// dims4 returns the four dimensions of an image batch, panicking with the
// operation's name when t is not 4-dimensional.
func dims4(op string, t *Tensor) (n, c, h, w int) {
	s := t.Shape()
	if len(s) != 4 {
		panic(fmt.Sprintf("%s: want an image batch [N, C, H, W], got shape %v", op, s))
	}
	return s[0], s[1], s[2], s[3]
}
