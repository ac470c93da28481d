package plot

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"math"
	"strconv"
)

// svgCanvas writes SVG elements into a buffer. Scatter points of the same
// colour in a row share one <g> so that large scatter plots stay small.
type svgCanvas struct {
	buf     bytes.Buffer
	fs      *faces
	w, h    int
	clips   map[rect]string
	openG   bool
	gFill   color.NRGBA
	gRadius float64
	gClip   string
}

func newSVGCanvas(w, h int) *svgCanvas {
	c := &svgCanvas{fs: newFaces(1.12), w: w, h: h, clips: make(map[rect]string)}
	fmt.Fprintf(&c.buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s">`+"\n", w, h, w, h, svgFontFamily)
	fmt.Fprintf(&c.buf, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", w, h)
	return c
}

func (c *svgCanvas) fonts() *faces { return c.fs }

// bytes closes the document and returns it.
func (c *svgCanvas) bytes() []byte {
	c.closeGroup()
	c.buf.WriteString("</svg>\n")
	return c.buf.Bytes()
}

// num formats a coordinate with at most two decimals.
func num(v float64) string {
	v = math.Round(v*100) / 100
	if v == 0 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func hexColor(c color.NRGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// paint returns attribute text for a fill or stroke colour with its
// opacity, e.g. ` fill="#1f77b4" fill-opacity="0.5"`.
func paint(attr string, c color.NRGBA) string {
	s := fmt.Sprintf(` %s="%s"`, attr, hexColor(c))
	if c.A != 255 {
		s += fmt.Sprintf(` %s-opacity="%s"`, attr, strconv.FormatFloat(math.Round(float64(c.A)/255*1000)/1000, 'f', -1, 64))
	}
	return s
}

func (c *svgCanvas) closeGroup() {
	if c.openG {
		c.buf.WriteString("</g>\n")
		c.openG = false
	}
}

// clipID returns the id of a clipPath for r, defining it on first use.
func (c *svgCanvas) clipID(r rect) string {
	if id, ok := c.clips[r]; ok {
		return id
	}
	id := fmt.Sprintf("clip%d", len(c.clips))
	c.clips[r] = id
	c.closeGroup()
	fmt.Fprintf(&c.buf, `<clipPath id="%s"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath>`+"\n",
		id, num(r.x0), num(r.y0), num(r.w()), num(r.h()))
	return id
}

func (c *svgCanvas) fillRect(r rect, col color.NRGBA) {
	c.closeGroup()
	fmt.Fprintf(&c.buf, `<rect x="%s" y="%s" width="%s" height="%s"%s/>`+"\n", num(r.x0), num(r.y0), num(r.w()), num(r.h()), paint("fill", col))
}

func (c *svgCanvas) strokeRect(r rect, col color.NRGBA, width float64) {
	c.closeGroup()
	fmt.Fprintf(&c.buf, `<rect x="%s" y="%s" width="%s" height="%s" fill="none"%s stroke-width="%s"/>`+"\n",
		num(r.x0), num(r.y0), num(r.w()), num(r.h()), paint("stroke", col), num(width))
}

func (c *svgCanvas) line(a, b point, col color.NRGBA, width float64) {
	c.closeGroup()
	// Put thin horizontal and vertical lines on pixel centres so that they
	// stay crisp.
	if odd := int(math.Round(width))%2 == 1; odd && a.y == b.y {
		a.y = math.Floor(a.y) + 0.5
		b.y = a.y
	} else if odd && a.x == b.x {
		a.x = math.Floor(a.x) + 0.5
		b.x = a.x
	}
	fmt.Fprintf(&c.buf, `<line x1="%s" y1="%s" x2="%s" y2="%s"%s stroke-width="%s"/>`+"\n",
		num(a.x), num(a.y), num(b.x), num(b.y), paint("stroke", col), num(width))
}

func (c *svgCanvas) polyline(pts []point, col color.NRGBA, width float64, clip rect) {
	if len(pts) < 2 {
		return
	}
	id := c.clipID(clip)
	c.closeGroup()
	c.buf.WriteString(`<polyline points="`)
	for i, p := range pts {
		if i > 0 {
			c.buf.WriteByte(' ')
		}
		c.buf.WriteString(num(p.x))
		c.buf.WriteByte(',')
		c.buf.WriteString(num(p.y))
	}
	fmt.Fprintf(&c.buf, `" fill="none"%s stroke-width="%s" stroke-linejoin="round" clip-path="url(#%s)"/>`+"\n", paint("stroke", col), num(width), id)
}

func (c *svgCanvas) circle(p point, r float64, col color.NRGBA, clip rect) {
	id := c.clipID(clip)
	if !c.openG || c.gFill != col || c.gRadius != r || c.gClip != id {
		c.closeGroup()
		fmt.Fprintf(&c.buf, `<g%s clip-path="url(#%s)">`+"\n", paint("fill", col), id)
		c.openG, c.gFill, c.gRadius, c.gClip = true, col, r, id
	}
	fmt.Fprintf(&c.buf, `<circle cx="%s" cy="%s" r="%s"/>`+"\n", num(p.x), num(p.y), num(r))
}

func (c *svgCanvas) text(t textSpec) {
	if t.s == "" {
		return
	}
	c.closeGroup()
	anchor := [...]string{"start", "middle", "end"}[t.h]
	var esc bytes.Buffer
	xml.EscapeText(&esc, []byte(t.s))
	if !t.vertical {
		fmt.Fprintf(&c.buf, `<text x="%s" y="%s" font-size="%s" text-anchor="%s"%s>%s</text>`+"\n",
			num(t.x), num(baselineY(c.fs, t)), num(t.size), anchor, paint("fill", t.col), esc.String())
		return
	}
	// Rotated a quarter turn anticlockwise about (x, y): the baseline sits
	// half a capital height to the right of x so the letters centre on x.
	m := c.fs.metrics(t.size)
	bx := t.x + m.capHeight/2
	fmt.Fprintf(&c.buf, `<text x="%s" y="%s" font-size="%s" text-anchor="%s"%s transform="rotate(-90 %s %s)">%s</text>`+"\n",
		num(bx), num(t.y), num(t.size), anchor, paint("fill", t.col), num(bx), num(t.y), esc.String())
}
