package augment

import (
	"fmt"
	"math/rand/v2"

	"selfsup/data"
)

// HorizontalFlip mirrors the image left to right with probability P (0.5 in
// every method here). It works in place.
type HorizontalFlip struct {
	// P is the probability of flipping.
	P float64
}

// Apply flips or copies src into dst.
func (t HorizontalFlip) Apply(dst, src data.Image, r *rand.Rand) data.Image {
	if !hit(r, t.P) || src.W == 0 {
		return copyInto(dst, src)
	}
	if same(dst, src) {
		w := src.W
		for row := 0; row+w <= len(src.Pix); row += w {
			p := src.Pix[row : row+w]
			for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
				p[i], p[j] = p[j], p[i]
			}
		}
		return src
	}
	dst = fit(dst, src.C, src.H, src.W)
	w := src.W
	for row := 0; row+w <= len(src.Pix); row += w {
		s, d := src.Pix[row:row+w], dst.Pix[row:row+w]
		for i := range d {
			d[i] = s[w-1-i]
		}
	}
	return dst
}

// InPlace reports true: dst may be src.
func (t HorizontalFlip) InPlace() bool { return true }

// OutShape is the input shape.
func (t HorizontalFlip) OutShape(c, h, w int) (int, int, int, error) {
	if err := checkDims(c, h, w); err != nil {
		return 0, 0, 0, err
	}
	return c, h, w, checkProb("HorizontalFlip", t.P)
}

// String describes the transform and its parameters, for logs.
func (t HorizontalFlip) String() string { return fmt.Sprintf("HorizontalFlip(p=%g)", t.P) }
