package plot

import (
	"fmt"
	"image/color"
	"math"
)

// style holds the sizes of a figure's furniture, scaled with the figure so
// that a large PNG is not all whitespace and a small one stays legible.
type style struct {
	tickSize, labelSize, titleSize float64
	pad, tickLen, lineWidth        float64
}

func newStyle(w, h int) style {
	base := math.Max(10, math.Min(28, float64(min(w, h))/46))
	return style{
		tickSize:  base,
		labelSize: base * 1.1,
		titleSize: base * 1.3,
		pad:       math.Round(base * 0.7),
		tickLen:   math.Round(base * 0.4),
		lineWidth: math.Max(2, base/5.5),
	}
}

// axisSpec describes one axis before layout.
type axisSpec struct {
	label string
	log   bool
	lo    float64
	hi    float64
	// ticks, when set, replaces the computed ticks (bar chart categories).
	ticks  []tick
	noGrid bool
	hide   bool // no ticks or tick labels (t-SNE axes mean nothing)
}

type legendKind int

const (
	legendLine legendKind = iota
	legendMarker
	legendBox
)

type legendEntry struct {
	name string
	col  color.NRGBA
	kind legendKind
}

type legendPlace int

const (
	legendNone legendPlace = iota
	legendInside
	legendRight
)

type frameSpec struct {
	title  string
	x, y   axisSpec
	legend []legendEntry
	place  legendPlace
}

// frame is a laid-out figure: where the plot area is, how data maps to
// it, and the ticks.
type frame struct {
	spec      frameSpec
	st        style
	w, h      int
	plot      rect
	x, y      scale
	xt, yt    []tick
	xVertical bool // x tick labels written vertically (long categories)
	legendW   float64
	legendH   float64
}

// layout places the plot area so that every label fits. The y ticks
// depend on the plot height and the left margin on the y tick labels, so
// the steps run in that order; long category names are turned vertical.
func layout(c canvas, w, h int, spec frameSpec) (*frame, error) {
	fs := c.fonts()
	f := &frame{spec: spec, st: newStyle(w, h), w: w, h: h}
	st := f.st
	tm := fs.metrics(st.tickSize)
	lm := fs.metrics(st.labelSize)
	tickH := tm.ascent + tm.descent
	labelH := lm.ascent + lm.descent
	if len(spec.legend) > 0 && spec.place != legendNone {
		f.legendW, f.legendH = legendSize(fs, st, spec.legend)
	}

	for pass := 0; pass < 2; pass++ {
		top := st.pad + tickH/2
		if spec.title != "" {
			tt := fs.metrics(st.titleSize)
			top = st.pad + tt.ascent + tt.descent + st.pad
		}
		bottom := st.pad
		if !spec.x.hide {
			xlab := tickH
			if f.xVertical {
				xlab = 0
				for _, t := range spec.x.ticks {
					xlab = math.Max(xlab, fs.width(t.label, st.tickSize))
				}
			}
			bottom += st.tickLen + st.pad/2 + xlab
		}
		if spec.x.label != "" {
			bottom += st.pad/2 + labelH
		}
		f.y = scale{lo: spec.y.lo, hi: spec.y.hi, log: spec.y.log, p0: float64(h) - bottom, p1: top}
		ph := f.y.p0 - f.y.p1
		if ph < 2*tickH {
			return nil, fmt.Errorf("figure %dx%d is too small for its labels", w, h)
		}
		f.yt = nil
		if !spec.y.hide {
			maxY := int(math.Max(2, math.Min(10, ph/(tickH*2.2))))
			f.yt = axisTicks(f.y, maxY)
		}
		left := st.pad
		if spec.y.label != "" {
			left += labelH + st.pad/2
		}
		if !spec.y.hide {
			yw := 0.0
			for _, t := range f.yt {
				yw = math.Max(yw, fs.width(t.label, st.tickSize))
			}
			left += yw + st.pad/2 + st.tickLen
		}
		right := st.pad
		if spec.place == legendRight && f.legendW > 0 {
			right += f.legendW + st.pad
		}
		// The last x label may be centred on the right edge.
		right = math.Max(right, st.pad/2+fs.width("00000", st.tickSize)/2)
		f.x = scale{lo: spec.x.lo, hi: spec.x.hi, log: spec.x.log, p0: math.Round(left), p1: math.Round(float64(w) - right)}
		f.y.p0, f.y.p1 = math.Round(f.y.p0), math.Round(f.y.p1)
		if f.x.p1-f.x.p0 < 4*tickH {
			return nil, fmt.Errorf("figure %dx%d is too small for its labels", w, h)
		}
		f.plot = rect{f.x.p0, f.y.p1, f.x.p1, f.y.p0}
		if spec.x.hide {
			break
		}
		if spec.x.ticks != nil {
			f.xt = spec.x.ticks
			if f.xVertical || !f.overlapX(fs) {
				break
			}
			f.xVertical = true
			continue
		}
		for maxX := int(math.Max(2, math.Min(12, f.plot.w()/(tickH*3)))); maxX >= 2; maxX-- {
			f.xt = axisTicks(f.x, maxX)
			if !f.overlapX(fs) {
				break
			}
		}
		break
	}
	return f, nil
}

// overlapX reports whether neighbouring x tick labels would touch.
func (f *frame) overlapX(fs *faces) bool {
	gap := f.st.tickSize * 0.8
	prevEnd := math.Inf(-1)
	for _, t := range f.xt {
		if t.label == "" {
			continue
		}
		px := f.x.pix(t.v)
		w := fs.width(t.label, f.st.tickSize)
		if px-w/2 < prevEnd+gap {
			return true
		}
		prevEnd = px + w/2
	}
	return false
}

// drawGrid draws light grid lines at the labelled ticks.
func (f *frame) drawGrid(c canvas) {
	if !f.spec.y.noGrid {
		for _, t := range f.yt {
			if !t.minor {
				y := f.y.pix(t.v)
				c.line(point{f.plot.x0, y}, point{f.plot.x1, y}, colGrid, 1)
			}
		}
	}
	if !f.spec.x.noGrid {
		for _, t := range f.xt {
			if !t.minor {
				x := f.x.pix(t.v)
				c.line(point{x, f.plot.y0}, point{x, f.plot.y1}, colGrid, 1)
			}
		}
	}
}

// drawAxes draws the plot frame, the ticks with their labels, the axis
// labels and the title.
func (f *frame) drawAxes(c canvas) {
	st := f.st
	c.strokeRect(f.plot, colAxis, 1)
	for _, t := range f.yt {
		y := f.y.pix(t.v)
		l := st.tickLen
		if t.minor {
			l /= 2
		}
		c.line(point{f.plot.x0 - l, y}, point{f.plot.x0, y}, colAxis, 1)
		if t.label != "" {
			c.text(textSpec{s: t.label, x: f.plot.x0 - st.tickLen - st.pad/2, y: y, size: st.tickSize, col: colText, h: alignEnd, v: alignCenter})
		}
	}
	for _, t := range f.xt {
		x := f.x.pix(t.v)
		l := st.tickLen
		if t.minor {
			l /= 2
		}
		c.line(point{x, f.plot.y1}, point{x, f.plot.y1 + l}, colAxis, 1)
		if t.label == "" {
			continue
		}
		ty := f.plot.y1 + st.tickLen + st.pad/2
		if f.xVertical {
			c.text(textSpec{s: t.label, x: x, y: ty, size: st.tickSize, col: colText, h: alignEnd, vertical: true})
		} else {
			c.text(textSpec{s: t.label, x: x, y: ty, size: st.tickSize, col: colText, h: alignMiddle, v: alignTop})
		}
	}
	fs := c.fonts()
	if f.spec.x.label != "" {
		size := fitSize(fs, f.spec.x.label, st.labelSize, float64(f.w)-2*st.pad)
		c.text(textSpec{s: f.spec.x.label, x: (f.plot.x0 + f.plot.x1) / 2, y: float64(f.h) - st.pad, size: size, col: colText, h: alignMiddle, v: alignBottom})
	}
	if f.spec.y.label != "" {
		lm := fs.metrics(st.labelSize)
		x := st.pad + (lm.ascent+lm.descent)/2
		size := fitSize(fs, f.spec.y.label, st.labelSize, float64(f.h)-2*st.pad)
		c.text(textSpec{s: f.spec.y.label, x: x, y: (f.plot.y0 + f.plot.y1) / 2, size: size, col: colText, h: alignMiddle, vertical: true})
	}
	if f.spec.title != "" {
		size := fitSize(fs, f.spec.title, st.titleSize, float64(f.w)-2*st.pad)
		c.text(textSpec{s: f.spec.title, x: float64(f.w) / 2, y: st.pad, size: size, col: colText, h: alignMiddle, v: alignTop})
	}
}

// fitSize returns size, or a smaller one at which s fits in avail pixels,
// so that long titles shrink instead of running off the figure.
func fitSize(fs *faces, s string, size, avail float64) float64 {
	if w := fs.width(s, size); w > avail && w > 0 {
		return math.Max(6, size*avail/w)
	}
	return size
}

// legendSize returns the width and height of the legend box.
func legendSize(fs *faces, st style, entries []legendEntry) (w, h float64) {
	nameW := 0.0
	for _, e := range entries {
		nameW = math.Max(nameW, fs.width(e.name, st.tickSize))
	}
	return st.pad + 2*st.tickSize + st.pad/2 + nameW + st.pad, float64(len(entries))*st.tickSize*1.5 + st.pad
}

// legendBox picks where the legend goes. Outside legends sit to the right
// of the plot, top-aligned. Inside ones take the corner that covers the
// fewest of the data points in occupied (pixel positions sampled along
// the drawn data).
func (f *frame) legendBox(occupied []point) (rect, bool) {
	if len(f.spec.legend) == 0 || f.spec.place == legendNone {
		return rect{}, false
	}
	w, h := f.legendW, f.legendH
	st := f.st
	if f.spec.place == legendRight {
		x0 := f.plot.x1 + st.pad
		return rect{x0, f.plot.y0, x0 + w, f.plot.y0 + h}, true
	}
	in := f.plot.inset(st.pad / 2)
	if w > in.w() || h > in.h() {
		return rect{}, false
	}
	candidates := []rect{
		{in.x1 - w, in.y0, in.x1, in.y0 + h},                                 // top right
		{in.x0, in.y0, in.x0 + w, in.y0 + h},                                 // top left
		{in.x1 - w, in.y1 - h, in.x1, in.y1},                                 // bottom right
		{in.x0, in.y1 - h, in.x0 + w, in.y1},                                 // bottom left
		{in.x1 - w, (in.y0 + in.y1 - h) / 2, in.x1, (in.y0 + in.y1 + h) / 2}, // right
	}
	best, bestN := candidates[0], math.MaxInt
	for _, r := range candidates {
		n := 0
		for _, p := range occupied {
			if r.contains(p) {
				n++
			}
		}
		if n < bestN {
			best, bestN = r, n
		}
	}
	return best, true
}

// drawLegend draws the legend in box.
func (f *frame) drawLegend(c canvas, box rect) {
	st := f.st
	c.fillRect(box, colLegend)
	c.strokeRect(box, colFrame, 1)
	rowH := st.tickSize * 1.5
	for i, e := range f.spec.legend {
		cy := box.y0 + st.pad/2 + rowH*(float64(i)+0.5)
		sx := box.x0 + st.pad
		sw := 2 * st.tickSize
		switch e.kind {
		case legendLine:
			c.line(point{sx, cy}, point{sx + sw, cy}, e.col, st.lineWidth*1.2)
		case legendMarker:
			c.circle(point{sx + sw/2, cy}, st.tickSize*0.35, e.col, box)
		case legendBox:
			s := st.tickSize * 0.8
			c.fillRect(rect{sx + sw/2 - s/2, cy - s/2, sx + sw/2 + s/2, cy + s/2}, e.col)
		}
		c.text(textSpec{s: e.name, x: sx + sw + st.pad/2, y: cy, size: st.tickSize, col: colText, v: alignCenter})
	}
}
