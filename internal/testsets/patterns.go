// Package testsets holds small in-memory datasets for the tests of several
// packages, so that each does not carry its own copy.
package testsets

import (
	"fmt"

	"selfsup/data"
)

// Patterns is a tiny labelled dataset: N grayscale Size x Size images of
// four classes (horizontal stripes, vertical stripes, a checkerboard, a
// centred square), each with its own phase and brightness so no two images
// are equal. Unlabelled, when positive, hides the label (-1) of every
// Unlabelled-th image.
type Patterns struct {
	N, Size    int
	Unlabelled int
}

// Name implements data.Dataset.
func (p Patterns) Name() string { return fmt.Sprintf("patterns/%d", p.N) }

// Len implements data.Dataset.
func (p Patterns) Len() int { return p.N }

// Classes implements data.Dataset.
func (p Patterns) Classes() []string { return []string{"rows", "cols", "checker", "square"} }

// Shape implements data.Dataset.
func (p Patterns) Shape() (c, h, w int) { return 1, p.Size, p.Size }

// Label implements data.Dataset.
func (p Patterns) Label(i int) int {
	if p.Unlabelled > 0 && i%p.Unlabelled == p.Unlabelled-1 {
		return -1
	}
	return i % 4
}

// Image implements data.Dataset.
func (p Patterns) Image(i int, dst data.Image) (data.Image, error) {
	if i < 0 || i >= p.N {
		return dst, fmt.Errorf("%s: image index %d out of range [0, %d)", p.Name(), i, p.N)
	}
	s := p.Size
	if cap(dst.Pix) < s*s {
		dst = data.NewImage(1, s, s)
	}
	dst = data.Image{C: 1, H: s, W: s, Pix: dst.Pix[:s*s]}
	phase := i / 4
	level := 0.4 + 0.6*float32(i%7)/6
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			var on bool
			switch i % 4 {
			case 0:
				on = (y+phase)%4 < 2
			case 1:
				on = (x+phase)%4 < 2
			case 2:
				on = (x/2+y/2+phase)%2 == 0
			case 3:
				d := s/4 + phase%3
				on = x >= d && x < s-d && y >= d && y < s-d
			}
			v := float32(0.05)
			if on {
				v = level
			}
			dst.Pix[y*s+x] = v
		}
	}
	return dst, nil
}
