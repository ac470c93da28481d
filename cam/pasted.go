package cam

import (
	"fmt"
	"image"

	"selfsup/data"
)

// Pasted is a dataset whose images are those of another dataset, each
// pasted at a random position on a larger black canvas, with the pasted
// box recorded (Box): a localisation check where the object's position is
// known (MNIST digits of 28x28 on a 56x56 canvas cover a quarter of it).
// With clutter, small fragments of other images of the dataset are
// scattered over the canvas first (the "cluttered MNIST" of Mnih et al.
// 2014), so that a map that merely follows ink no longer finds the object.
// Positions and fragments are fixed by the seed and the image index.
// Labels and class names are the parent's.
type Pasted struct {
	parent  data.Dataset
	cfg     PasteConfig
	c, h, w int
}

// PasteConfig describes the canvas of Paste.
type PasteConfig struct {
	// Size is the canvas's side in pixels, at least the images' sides.
	Size int
	// Clutter is the number of distracting fragments per image (0: none).
	Clutter int
	// Fragment is their side in pixels (0: 8).
	Fragment int
	// Seed fixes the positions and fragments.
	Seed uint64
}

// Paste wraps ds (images of one size, at most cfg.Size pixels on each
// side) so that every image lies at a random place on a canvas of zeros
// with cfg.Clutter fragments of other images around it.
func Paste(ds data.Dataset, cfg PasteConfig) (*Pasted, error) {
	c, h, w := ds.Shape()
	if cfg.Fragment == 0 {
		cfg.Fragment = 8
	}
	switch {
	case c == 0:
		return nil, fmt.Errorf("paste %s: its images vary in size (resize them first)", ds.Name())
	case cfg.Size < h || cfg.Size < w:
		return nil, fmt.Errorf("paste %s: a canvas of %d pixels is smaller than its %dx%d images", ds.Name(), cfg.Size, h, w)
	case cfg.Clutter < 0:
		return nil, fmt.Errorf("paste %s: %d clutter fragments", ds.Name(), cfg.Clutter)
	case cfg.Clutter > 0 && (cfg.Fragment < 1 || cfg.Fragment > min(h, w)):
		return nil, fmt.Errorf("paste %s: clutter fragments of %d pixels do not fit its %dx%d images", ds.Name(), cfg.Fragment, h, w)
	case cfg.Clutter > 0 && ds.Len() < 2:
		return nil, fmt.Errorf("paste %s: clutter needs other images to cut fragments from", ds.Name())
	}
	return &Pasted{parent: ds, cfg: cfg, c: c, h: h, w: w}, nil
}

// Name implements data.Dataset.
func (p *Pasted) Name() string {
	if p.cfg.Clutter > 0 {
		return fmt.Sprintf("%s pasted on %d with clutter %d", p.parent.Name(), p.cfg.Size, p.cfg.Clutter)
	}
	return fmt.Sprintf("%s pasted on %d", p.parent.Name(), p.cfg.Size)
}

// Len implements data.Dataset.
func (p *Pasted) Len() int { return p.parent.Len() }

// Label implements data.Dataset.
func (p *Pasted) Label(i int) int { return p.parent.Label(i) }

// Classes implements data.Dataset.
func (p *Pasted) Classes() []string { return p.parent.Classes() }

// Shape implements data.Dataset.
func (p *Pasted) Shape() (c, h, w int) { return p.c, p.cfg.Size, p.cfg.Size }

// Box returns where image i of the parent lies on its canvas.
func (p *Pasted) Box(i int) image.Rectangle {
	r := mix(p.cfg.Seed ^ mix(uint64(i)+0x9e3779b97f4a7c15))
	x := int(r % uint64(p.cfg.Size-p.w+1))
	y := int((r >> 32) % uint64(p.cfg.Size-p.h+1))
	return image.Rect(x, y, x+p.w, y+p.h)
}

// Image implements data.Dataset: image i of the parent on its canvas.
func (p *Pasted) Image(i int, dst data.Image) (data.Image, error) {
	if i < 0 || i >= p.Len() {
		return dst, fmt.Errorf("%s: image index %d out of range [0, %d)", p.Name(), i, p.Len())
	}
	src, err := p.parent.Image(i, data.Image{})
	if err != nil {
		return dst, err
	}
	s := p.cfg.Size
	if dst.C != p.c || dst.H != s || dst.W != s || len(dst.Pix) != p.c*s*s {
		dst = data.NewImage(p.c, s, s)
	} else {
		clear(dst.Pix)
	}
	if err := p.clutter(i, dst); err != nil {
		return dst, err
	}
	box := p.Box(i)
	for ch := 0; ch < p.c; ch++ {
		for y := 0; y < p.h; y++ {
			row := src.Pix[(ch*p.h+y)*p.w : (ch*p.h+y+1)*p.w]
			to := dst.Pix[(ch*s+box.Min.Y+y)*s+box.Min.X : (ch*s+box.Min.Y+y)*s+box.Min.X+p.w]
			for x, v := range row {
				to[x] = max(to[x], v)
			}
		}
	}
	return dst, nil
}

// mix is SplitMix64's finaliser: a well-spread hash of z.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// clutter scatters the fragments of image i over the canvas dst: squares
// cut from the middle region of other images of the parent (where the
// ink is), each at a random position, drawn with max so overlaps keep
// their strokes.
func (p *Pasted) clutter(i int, dst data.Image) error {
	f, s := p.cfg.Fragment, p.cfg.Size
	var src data.Image
	for k := 0; k < p.cfg.Clutter; k++ {
		r := mix(p.cfg.Seed ^ mix(uint64(i)<<8|uint64(k)) ^ 0xc1a77e5)
		j := int(r % uint64(p.parent.Len()-1))
		if j >= i {
			j++ // never a fragment of the image itself
		}
		got, err := p.parent.Image(j, src)
		if err != nil {
			return err
		}
		src = got
		r2 := mix(r)
		// the fragment comes from the middle half of the source image
		sx := p.w/4 + int(r2%uint64(max(p.w/2-f, 0)+1))
		sy := p.h/4 + int((r2>>16)%uint64(max(p.h/2-f, 0)+1))
		sx, sy = min(sx, p.w-f), min(sy, p.h-f)
		dx := int((r2 >> 32) % uint64(s-f+1))
		dy := int((r2 >> 48) % uint64(s-f+1))
		for ch := 0; ch < p.c; ch++ {
			for y := 0; y < f; y++ {
				from := src.Pix[(ch*p.h+sy+y)*p.w+sx : (ch*p.h+sy+y)*p.w+sx+f]
				to := dst.Pix[(ch*s+dy+y)*s+dx : (ch*s+dy+y)*s+dx+f]
				for x, v := range from {
					to[x] = max(to[x], v)
				}
			}
		}
	}
	return nil
}
