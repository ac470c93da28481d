package plot

import (
	"image/color"
	"math"
)

// point is a position in pixels, origin at the top left.
type point struct{ x, y float64 }

// rect is a rectangle in pixels: x0 <= x1, y0 <= y1.
type rect struct{ x0, y0, x1, y1 float64 }

func (r rect) w() float64 { return r.x1 - r.x0 }
func (r rect) h() float64 { return r.y1 - r.y0 }

func (r rect) contains(p point) bool {
	return p.x >= r.x0 && p.x <= r.x1 && p.y >= r.y0 && p.y <= r.y1
}

func (r rect) inset(d float64) rect { return rect{r.x0 + d, r.y0 + d, r.x1 - d, r.y1 - d} }

func (r rect) overlaps(o rect) bool {
	return r.x0 < o.x1 && o.x0 < r.x1 && r.y0 < o.y1 && o.y0 < r.y1
}

// hAlign places text along its direction relative to the anchor point.
type hAlign int

const (
	alignStart hAlign = iota
	alignMiddle
	alignEnd
)

// vAlign places horizontal text across its direction.
type vAlign int

const (
	alignBaseline vAlign = iota
	alignTop             // the anchor is at the top of the tallest letters
	alignCenter          // the anchor is half a capital letter above the baseline
	alignBottom          // the anchor is below the descenders
)

// textSpec is one piece of text to draw.
type textSpec struct {
	s    string
	x, y float64
	size float64
	col  color.NRGBA
	h    hAlign
	v    vAlign
	// vertical text reads from bottom to top; h then places it along the
	// vertical (start = bottom end at y) and it is centred across x.
	vertical bool
}

// canvas is what a figure draws on; the PNG and SVG backends implement it.
// Coordinates are pixels with the origin at the top left.
type canvas interface {
	// fillRect fills r.
	fillRect(r rect, c color.NRGBA)
	// strokeRect draws the outline of r with the given line width.
	strokeRect(r rect, c color.NRGBA, width float64)
	// line draws a straight line (axes, ticks, grid lines).
	line(a, b point, c color.NRGBA, width float64)
	// polyline draws connected segments through pts, clipped to clip.
	polyline(pts []point, c color.NRGBA, width float64, clip rect)
	// circle fills a disc of radius r centred on p, clipped to clip.
	circle(p point, r float64, c color.NRGBA, clip rect)
	// text draws a string.
	text(t textSpec)
	// fonts measures text the way the backend will draw it.
	fonts() *faces
}

// baselineY returns the y of the baseline for horizontal text aligned at y.
func baselineY(fs *faces, t textSpec) float64 {
	m := fs.metrics(t.size)
	switch t.v {
	case alignTop:
		return t.y + m.ascent
	case alignCenter:
		return t.y + m.capHeight/2
	case alignBottom:
		return t.y - m.descent
	}
	return t.y
}

// startX returns where text of width w starts when aligned at x.
func startX(x, w float64, h hAlign) float64 {
	switch h {
	case alignMiddle:
		return x - w/2
	case alignEnd:
		return x - w
	}
	return x
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
