package plot

import (
	"image"
	"image/color"
	"image/draw"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// rasterCanvas draws anti-aliased shapes and text into an RGBA image.
type rasterCanvas struct {
	img *image.RGBA
	fs  *faces
	rz  vector.Rasterizer
	src image.Uniform
}

func newRasterCanvas(w, h int) *rasterCanvas {
	c := &rasterCanvas{img: image.NewRGBA(image.Rect(0, 0, w, h)), fs: newFaces(1)}
	draw.Draw(c.img, c.img.Bounds(), image.White, image.Point{}, draw.Src)
	return c
}

func (c *rasterCanvas) fonts() *faces { return c.fs }

// pixelRect rounds r to whole pixels and clips it to the image.
func (c *rasterCanvas) pixelRect(r rect) image.Rectangle {
	ir := image.Rect(int(math.Round(r.x0)), int(math.Round(r.y0)), int(math.Round(r.x1)), int(math.Round(r.y1)))
	return ir.Intersect(c.img.Bounds())
}

func (c *rasterCanvas) fillRect(r rect, col color.NRGBA) {
	c.src.C = col
	draw.Draw(c.img, c.pixelRect(r), &c.src, image.Point{}, draw.Over)
}

func (c *rasterCanvas) strokeRect(r rect, col color.NRGBA, width float64) {
	c.line(point{r.x0, r.y0}, point{r.x1, r.y0}, col, width)
	c.line(point{r.x1, r.y0}, point{r.x1, r.y1}, col, width)
	c.line(point{r.x1, r.y1}, point{r.x0, r.y1}, col, width)
	c.line(point{r.x0, r.y1}, point{r.x0, r.y0}, col, width)
}

// line draws horizontal and vertical lines as crisp pixel rectangles
// (axes, ticks and grid lines should not be blurred) and others through
// the anti-aliasing rasterizer.
func (c *rasterCanvas) line(a, b point, col color.NRGBA, width float64) {
	w := math.Max(1, math.Round(width))
	switch {
	case a.y == b.y:
		y0 := math.Round(a.y - w/2)
		c.fillRect(rect{math.Min(a.x, b.x) - w/2, y0, math.Max(a.x, b.x) + w/2, y0 + w}, col)
	case a.x == b.x:
		x0 := math.Round(a.x - w/2)
		c.fillRect(rect{x0, math.Min(a.y, b.y) - w/2, x0 + w, math.Max(a.y, b.y) + w/2}, col)
	default:
		c.polyline([]point{a, b}, col, width, rect{0, 0, float64(c.img.Bounds().Dx()), float64(c.img.Bounds().Dy())})
	}
}

// polyline strokes the path as a union of one quad per segment plus a
// round join at each inner vertex, all wound the same way so that
// overlaps do not cancel out.
func (c *rasterCanvas) polyline(pts []point, col color.NRGBA, width float64, clip rect) {
	if len(pts) < 2 {
		return
	}
	area := c.pixelRect(clip)
	if area.Empty() {
		return
	}
	ox, oy := float64(area.Min.X), float64(area.Min.Y)
	c.rz.Reset(area.Dx(), area.Dy())
	hw := width / 2
	var quad [4]point
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		dx, dy := b.x-a.x, b.y-a.y
		l := math.Hypot(dx, dy)
		if l == 0 {
			continue
		}
		nx, ny := -dy/l*hw, dx/l*hw
		quad = [4]point{{a.x + nx, a.y + ny}, {b.x + nx, b.y + ny}, {b.x - nx, b.y - ny}, {a.x - nx, a.y - ny}}
		c.addPolygon(quad[:], ox, oy)
		if i < len(pts)-1 {
			c.addDisc(b, hw, ox, oy)
		}
	}
	c.src.C = col
	c.rz.Draw(c.img, area, &c.src, image.Point{})
}

// addPolygon adds a closed polygon to the rasterizer, offset by (ox, oy),
// turning it so that its signed area is positive.
func (c *rasterCanvas) addPolygon(p []point, ox, oy float64) {
	area := 0.0
	for i := range p {
		j := (i + 1) % len(p)
		area += p[i].x*p[j].y - p[j].x*p[i].y
	}
	n := len(p)
	at := func(i int) point {
		if area < 0 {
			return p[n-1-i]
		}
		return p[i]
	}
	q := at(0)
	c.rz.MoveTo(float32(q.x-ox), float32(q.y-oy))
	for i := 1; i < n; i++ {
		q = at(i)
		c.rz.LineTo(float32(q.x-ox), float32(q.y-oy))
	}
	c.rz.ClosePath()
}

// addDisc adds a disc approximated by a 16-gon, wound like addPolygon.
func (c *rasterCanvas) addDisc(p point, r float64, ox, oy float64) {
	var poly [16]point
	for i := range poly {
		a := float64(i) * 2 * math.Pi / float64(len(poly))
		poly[i] = point{p.x + r*math.Cos(a), p.y + r*math.Sin(a)}
	}
	c.addPolygon(poly[:], ox, oy)
}

// circle rasterizes only the few pixels around the disc, so that ten
// thousand scatter points cost little and overlapping translucent points
// accumulate as they should.
func (c *rasterCanvas) circle(p point, r float64, col color.NRGBA, clip rect) {
	area := c.pixelRect(rect{p.x - r - 1, p.y - r - 1, p.x + r + 1, p.y + r + 1}).Intersect(c.pixelRect(clip))
	if area.Empty() {
		return
	}
	c.rz.Reset(area.Dx(), area.Dy())
	c.addDisc(p, r, float64(area.Min.X), float64(area.Min.Y))
	c.src.C = col
	c.rz.Draw(c.img, area, &c.src, image.Point{})
}

func (c *rasterCanvas) text(t textSpec) {
	if t.s == "" {
		return
	}
	face := c.fs.face(t.size)
	c.src.C = t.col
	if !t.vertical {
		d := font.Drawer{Dst: c.img, Src: &c.src, Face: face}
		x := startX(t.x, c.fs.width(t.s, t.size), t.h)
		d.Dot = fixed.Point26_6{X: fixed.Int26_6(math.Round(x * 64)), Y: fixed.Int26_6(math.Round(baselineY(c.fs, t) * 64))}
		d.DrawString(t.s)
		return
	}
	// Vertical text: draw it flat into a mask, then turn the mask a
	// quarter turn anticlockwise onto the image.
	m := c.fs.metrics(t.size)
	w := int(math.Ceil(c.fs.width(t.s, t.size))) + 2
	h := int(math.Ceil(m.ascent+m.descent)) + 2
	flat := image.NewAlpha(image.Rect(0, 0, w, h))
	d := font.Drawer{Dst: flat, Src: image.Opaque, Face: face}
	d.Dot = fixed.P(1, 1+int(math.Round(m.ascent)))
	d.DrawString(t.s)
	turned := image.NewAlpha(image.Rect(0, 0, h, w))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			turned.Pix[(w-1-x)*turned.Stride+y] = flat.Pix[y*flat.Stride+x]
		}
	}
	// Centre the cap height across x; place along y by the alignment.
	baseline := 1 + math.Round(m.ascent) // row of the baseline in flat = column in turned
	left := t.x + m.capHeight/2 - baseline
	var top float64
	switch t.h {
	case alignStart: // bottom end at y
		top = t.y - float64(w)
	case alignMiddle:
		top = t.y - float64(w)/2
	default: // top end at y
		top = t.y
	}
	at := image.Pt(int(math.Round(left)), int(math.Round(top)))
	draw.DrawMask(c.img, turned.Bounds().Add(at), &c.src, image.Point{}, turned, image.Point{}, draw.Over)
}
