package cam

// Upsample resizes the map src (h x w, row-major) to dst (H x W) by
// bilinear interpolation with half-pixel centres (PyTorch's
// F.interpolate(mode="bilinear", align_corners=False), and the resampling
// of nn.BilinearMatrix): output pixel i samples the input at
// (i + 0.5) * h / H - 0.5, clamped to the edge pixels.
func Upsample(dst []float32, H, W int, src []float32, h, w int) {
	ys := make([]tap, H)
	xs := make([]tap, W)
	for i := range ys {
		ys[i] = taps(i, h, H)
	}
	for i := range xs {
		xs[i] = taps(i, w, W)
	}
	for y, ty := range ys {
		r0, r1 := src[ty.lo*w:(ty.lo+1)*w], src[ty.hi*w:(ty.hi+1)*w]
		row := dst[y*W : (y+1)*W]
		for x, tx := range xs {
			top := r0[tx.lo]*(1-tx.f) + r0[tx.hi]*tx.f
			bottom := r1[tx.lo]*(1-tx.f) + r1[tx.hi]*tx.f
			row[x] = top*(1-ty.f) + bottom*ty.f
		}
	}
}

// tap is where one output pixel samples the input: between lo and hi
// with weight f on hi.
type tap struct {
	lo, hi int
	f      float32
}

func taps(i, in, out int) tap {
	x := (float64(i)+0.5)*float64(in)/float64(out) - 0.5
	if x <= 0 {
		return tap{0, 0, 0}
	}
	lo := int(x)
	if lo >= in-1 {
		return tap{in - 1, in - 1, 0}
	}
	return tap{lo, lo + 1, float32(x - float64(lo))}
}
