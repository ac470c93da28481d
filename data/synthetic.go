package data

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Synthetic shapes: a labelled colour dataset that needs no files, for
// colour pretext tasks (colorization) and quick experiments on machines
// without CIFAR. Every image is a pure function of its split and index.

const (
	// ShapesSize is the side of a synthetic shapes image (RGB, square).
	ShapesSize = 32
	// DefaultShapesTrain is the train split's size when the spec gives
	// none; the test split has a fifth as many images.
	DefaultShapesTrain = 20000
	// maxShapesImages bounds the size a spec may ask for.
	maxShapesImages = 100_000_000
)

// ShapeClasses are the classes of synthetic:shapes, in label order.
var ShapeClasses = []string{"circle", "ring", "square", "frame", "triangle", "cross", "star", "crescent", "bar", "l-shape"}

// shapeHue is the typical hue (in turns) of each class's shapes: like
// grass and sky in photographs, a shape's colour is predictable from what it
// is but not fixed (see shapeColor), so colorization must recognise shapes.
var shapeHue = [10]float64{0.0, 0.55, 0.1, 0.65, 0.3, 0.85, 0.15, 0.75, 0.45, 0.95}

// shapes is the synthetic:shapes dataset: one coloured shape (one of
// ShapeClasses, with varied colour, size, position and rotation) on a
// smooth two-colour gradient whose hues follow its brightness (sceneHue),
// with a faint sinusoidal texture and pixel noise. Image i of a split is drawn from a random stream seeded by
// (split, i) alone, so images can be read in any order, concurrently,
// without allocation, and are identical on every machine.
type shapes struct {
	name  string
	n     int
	salt  uint64
	names []string
}

// SyntheticShapes returns n images of the "train" or "test" split of the
// synthetic shapes dataset (ShapesSize x ShapesSize RGB, labels
// ShapeClasses, class i%10 for image i). The splits draw from different
// streams, so no test image appears in the train split.
func SyntheticShapes(split string, n int) (Dataset, error) {
	var salt uint64
	switch split {
	case "", "train":
		split, salt = "train", 0x7261696e
	case "test":
		salt = 0x74657374
	default:
		return nil, fmt.Errorf("synthetic:shapes: unknown split %q (valid: train, test)", split)
	}
	if n <= 0 || n > maxShapesImages {
		return nil, fmt.Errorf("synthetic:shapes: %d images: the size must lie in [1, %d]", n, maxShapesImages)
	}
	return &shapes{name: "synthetic:shapes/" + split, n: n, salt: salt, names: ShapeClasses}, nil
}

// parseSynthetic checks the part of a synthetic spec after "synthetic:" and
// returns the train split's size.
func parseSynthetic(rest string) (int, error) {
	name, size, hasSize := strings.Cut(rest, ":")
	if name != "shapes" {
		return 0, fmt.Errorf("unknown synthetic dataset %q (synthetic:shapes or synthetic:shapes:N)", name)
	}
	if !hasSize {
		return DefaultShapesTrain, nil
	}
	n, err := strconv.Atoi(size)
	if err != nil || n <= 0 || n > maxShapesImages {
		return 0, fmt.Errorf("synthetic:shapes:N needs a whole number of train images in [1, %d], not %q", maxShapesImages, size)
	}
	return n, nil
}

// openSynthetic opens a split of a synthetic spec: N train images (the spec's
// size) or N/5 test images (at least 1).
func openSynthetic(rest, split string) (Dataset, error) {
	n, err := parseSynthetic(rest)
	if err != nil {
		return nil, err
	}
	if split == "test" {
		n = max(1, n/5)
	}
	return SyntheticShapes(split, n)
}

// The Dataset methods of shapes; see Dataset for their contracts.
func (s *shapes) Name() string         { return s.name }
func (s *shapes) Len() int             { return s.n }
func (s *shapes) Classes() []string    { return append([]string(nil), s.names...) }
func (s *shapes) Shape() (c, h, w int) { return 3, ShapesSize, ShapesSize }
func (s *shapes) Label(i int) int      { return i % len(shapeHue) }

// Image renders image i into dst (allocating only when dst is too small).
func (s *shapes) Image(i int, dst Image) (Image, error) {
	if i < 0 || i >= s.n {
		return dst, fmt.Errorf("%s: image index %d out of range [0, %d)", s.name, i, s.n)
	}
	dst = ensureImage(dst, 3, ShapesSize, ShapesSize)
	rng := splitMix{state: mix64(s.salt ^ mix64(uint64(i)+0x9e3779b97f4a7c15))}
	renderShape(dst.Pix, s.Label(i), &rng)
	return dst, nil
}

// splitMix is the SplitMix64 generator: tiny, allocation-free and identical
// everywhere.
type splitMix struct{ state uint64 }

// mix64 is SplitMix64's output function.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *splitMix) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// float returns a uniform value in [0, 1).
func (r *splitMix) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// between returns a uniform value in [lo, hi).
func (r *splitMix) between(lo, hi float64) float64 { return lo + (hi-lo)*r.float() }

// rgb is a colour with channels in [0, 1].
type rgb [3]float64

// hsv converts hue (turns), saturation and value to RGB.
func hsv(h, s, v float64) rgb {
	h -= math.Floor(h)
	h6 := h * 6
	k := int(h6)
	f := h6 - float64(k)
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	switch k {
	case 0:
		return rgb{v, t, p}
	case 1:
		return rgb{q, v, p}
	case 2:
		return rgb{p, v, t}
	case 3:
		return rgb{p, q, v}
	case 4:
		return rgb{t, p, v}
	}
	return rgb{v, p, q}
}

// shapeColor draws the colour of a shape of class c: its class hue plus a
// spread of up to a tenth of a turn either way, or (one time in four) any
// hue; saturated, and far enough in value from the background's mean to
// stay visible in the lightness channel.
func shapeColor(c int, bgValue float64, r *splitMix) rgb {
	h := shapeHue[c] + 0.1*(r.float()+r.float()-1)
	if r.float() < 0.25 {
		h = r.float()
	}
	v := r.between(0.45, 1)
	if math.Abs(v-bgValue) < 0.2 {
		if bgValue > 0.55 {
			v = bgValue - r.between(0.25, 0.45)
		} else {
			v = min(1, bgValue+r.between(0.25, 0.45))
		}
	}
	return hsv(h, r.between(0.55, 1), v)
}

// sceneHue is the hue (turns) of a background colour of value v, rising
// with brightness from earth (orange-brown, 0.06 at v = 0.25) through grass
// (green, 0.28 at 0.55) to sky (blue, 0.58 at 0.95): like the ground and the
// sky of photographs, the background's colour can be told from the grey
// image, independently of the shape's class, so that colorization has
// predictable colours to learn everywhere, not only on the shape.
func sceneHue(v float64) float64 {
	if v < 0.55 {
		return 0.06 + (0.28-0.06)*max(0, v-0.25)/0.3
	}
	return 0.28 + (0.58-0.28)*min(0.4, v-0.55)/0.4
}

// renderShape draws one image of class c into pix (3 planes of
// ShapesSize^2 values), taking every random choice from r in a fixed order.
func renderShape(pix []float32, c int, r *splitMix) {
	const n = ShapesSize
	const plane = n * n
	// background: a gradient between two colours along a random direction,
	// a faint sinusoid and pixel noise; each colour's hue follows its
	// brightness (see sceneHue), as in photographs, up to a little jitter
	jitter := r.float() - 0.5
	bv1, bv2 := r.between(0.25, 0.95), r.between(0.25, 0.95)
	c1 := hsv(sceneHue(bv1)+0.06*jitter, 0.3+0.5*r.between(0.1, 0.7), bv1)
	c2 := hsv(sceneHue(bv2)+0.15*r.between(-0.2, 0.2), 0.3+0.5*r.between(0.1, 0.7), bv2)
	ga := r.between(0, 2*math.Pi)
	gx, gy := math.Cos(ga)*r.between(0.5, 1.5)/n, math.Sin(ga)*r.between(0.5, 1.5)/n
	ta, tf := r.between(0, 2*math.Pi), r.between(0.2, 0.9)
	tx, ty, tph, tamp := math.Cos(ta)*tf, math.Sin(ta)*tf, r.between(0, 2*math.Pi), r.between(0, 0.08)
	noise := r.between(0.01, 0.05)

	// the shape: colour with a soft shading ramp, size, position, rotation
	col := shapeColor(c, (bv1+bv2)/2, r)
	sa := r.between(0, 2*math.Pi)
	shx, shy := math.Cos(sa)*0.2, math.Sin(sa)*0.2
	scale := r.between(0.22, 0.38) * n
	margin := 0.75 * scale
	cx, cy := r.between(margin, n-margin), r.between(margin, n-margin)
	rot := r.between(0, 2*math.Pi)
	cs, sn := math.Cos(rot), math.Sin(rot)

	planes := [3][]float32{pix[:plane], pix[plane : 2*plane], pix[2*plane : 3*plane]}
	for y := range n {
		for x := range n {
			px, py := float64(x)+0.5, float64(y)+0.5
			t := min(1, max(0, 0.5+(px-n/2)*gx+(py-n/2)*gy))
			tex := tamp * math.Sin(px*tx+py*ty+tph)
			// pixel coordinates in the shape's unit frame
			dx, dy := px-cx, py-cy
			u, v := (cs*dx+sn*dy)/scale, (-sn*dx+cs*dy)/scale
			cover := 0.0
			if u*u+v*v < 1.7 {
				cover = min(1, max(0, 0.5-shapeSDF(c, u, v)*scale))
			}
			shade := 1 + u*shx + v*shy
			o := y*n + x
			for ch := range 3 {
				bg := c1[ch] + t*(c2[ch]-c1[ch]) + tex
				val := bg + cover*(col[ch]*shade-bg) + noise*(2*r.float()-1)
				planes[ch][o] = float32(min(1, max(0, val)))
			}
		}
	}
}

// Shape outlines in the unit frame (the shapes span about [-1, 1]).
var (
	triangleVerts = regularStar(3, 1.1, 1.1, math.Pi/2)
	starVerts     = regularStar(5, 1.1, 0.45, math.Pi/2)
)

// regularStar returns the 2k vertices of a star alternating between radii
// outer and inner (k vertices of a regular polygon when they are equal),
// the first at angle a0.
func regularStar(k int, outer, inner, a0 float64) [][2]float64 {
	var vs [][2]float64
	for i := range 2 * k {
		rad := outer
		if i%2 == 1 {
			rad = inner
		}
		if i%2 == 1 && outer == inner {
			continue
		}
		a := a0 + float64(i)*math.Pi/float64(k)
		vs = append(vs, [2]float64{rad * math.Cos(a), rad * math.Sin(a)})
	}
	return vs
}

// shapeSDF is the signed distance (negative inside, in unit-frame units) of
// point (u, v) to the outline of class c.
func shapeSDF(c int, u, v float64) float64 {
	switch c {
	case 0: // circle
		return math.Hypot(u, v) - 0.95
	case 1: // ring
		return math.Abs(math.Hypot(u, v)-0.72) - 0.28
	case 2: // square
		return boxSDF(u, v, 0.78, 0.78)
	case 3: // frame
		return max(boxSDF(u, v, 0.85, 0.85), -boxSDF(u, v, 0.5, 0.5))
	case 4:
		return polygonSDF(u, v, triangleVerts)
	case 5: // cross
		return min(boxSDF(u, v, 1, 0.3), boxSDF(u, v, 0.3, 1))
	case 6:
		return polygonSDF(u, v, starVerts)
	case 7: // crescent: a disc minus an offset disc
		return max(math.Hypot(u, v)-1, -(math.Hypot(u-0.5, v) - 0.8))
	case 8: // bar
		return boxSDF(u, v, 1.05, 0.3)
	default: // l-shape: a vertical and a horizontal bar sharing a corner
		return min(boxSDF(u+0.525, v, 0.275, 0.9), boxSDF(u, v-0.625, 0.8, 0.275))
	}
}

// boxSDF is the signed distance to the axis-aligned box of half-sizes hx,
// hy centred at the origin.
func boxSDF(u, v, hx, hy float64) float64 {
	qx, qy := math.Abs(u)-hx, math.Abs(v)-hy
	return math.Hypot(max(qx, 0), max(qy, 0)) + min(max(qx, qy), 0)
}

// polygonSDF is the signed distance to a simple polygon (the even-odd
// rule decides the sign).
func polygonSDF(u, v float64, vs [][2]float64) float64 {
	d := (u-vs[0][0])*(u-vs[0][0]) + (v-vs[0][1])*(v-vs[0][1])
	inside := false
	for i, j := 0, len(vs)-1; i < len(vs); j, i = i, i+1 {
		ex, ey := vs[j][0]-vs[i][0], vs[j][1]-vs[i][1]
		wx, wy := u-vs[i][0], v-vs[i][1]
		h := min(1, max(0, (wx*ex+wy*ey)/(ex*ex+ey*ey)))
		bx, by := wx-ex*h, wy-ey*h
		d = min(d, bx*bx+by*by)
		// the ray to +u crosses edge (i, j)
		if (vs[i][1] > v) != (vs[j][1] > v) && u < vs[i][0]+(v-vs[i][1])*(vs[j][0]-vs[i][0])/(vs[j][1]-vs[i][1]) {
			inside = !inside
		}
	}
	if inside {
		return -math.Sqrt(d)
	}
	return math.Sqrt(d)
}
