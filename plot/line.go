package plot

import (
	"fmt"
	"image/color"
	"io"
	"math"
)

// LinePlot draws named series of (x, y) points joined by lines: loss and
// learning-rate curves, accuracy against the fraction of labels used.
type LinePlot struct {
	Title, XLabel, YLabel string
	// LogX and LogY make an axis logarithmic; values <= 0 on it are
	// skipped like NaN.
	LogX, LogY bool
	// XRange and YRange fix the axes; the zero Range fits the data.
	XRange, YRange Range
	Series         []Series
	// NoLegend hides the legend that is otherwise drawn when any series
	// has a name. It goes in the corner that hides the least data.
	NoLegend bool
}

// Series is one curve of a LinePlot.
type Series struct {
	Name string
	// X holds the x values; nil means 0, 1, 2, ... (steps). Y holds the y
	// values. NaN and infinite values leave a gap in the line.
	X, Y []float64
	// Color is the line colour; nil takes the series' place in Tab10.
	Color color.Color
	// Width is the line width in pixels; 0 picks one to suit the size.
	Width float64
	// Smooth in [0, 1) draws an exponential moving average of Y with this
	// weight on the past (TensorBoard's smoothing, bias-corrected), over
	// a faint copy of the raw curve. 0 draws Y as it is.
	Smooth float64
	// Points marks every point with a dot, for short series such as
	// accuracy at 1%, 10% and 100% of the labels.
	Points bool
}

// WritePNG renders the plot as a width x height PNG onto w.
func (p *LinePlot) WritePNG(w io.Writer, width, height int) error {
	return WritePNG(w, p, width, height)
}

// WriteSVG renders the plot as a width x height SVG onto w.
func (p *LinePlot) WriteSVG(w io.Writer, width, height int) error {
	return WriteSVG(w, p, width, height)
}

// SavePNG writes the plot to a PNG file atomically.
func (p *LinePlot) SavePNG(path string, width, height int) error {
	return SavePNG(path, p, width, height)
}

// SaveSVG writes the plot to an SVG file atomically.
func (p *LinePlot) SaveSVG(path string, width, height int) error {
	return SaveSVG(path, p, width, height)
}

// ema returns the bias-corrected exponential moving average of y with
// weight s on the past; NaN and infinite values are passed through and do
// not disturb the average.
func ema(y []float64, s float64) []float64 {
	out := make([]float64, len(y))
	acc, norm := 0.0, 0.0
	for i, v := range y {
		if !finite(v) {
			out[i] = v
			continue
		}
		acc = s*acc + (1-s)*v
		norm = s*norm + (1 - s)
		out[i] = acc / norm
	}
	return out
}

// seriesName names a series in errors.
func seriesName(i int, s Series) string {
	if s.Name != "" {
		return fmt.Sprintf("series %d (%q)", i, s.Name)
	}
	return fmt.Sprintf("series %d", i)
}

func (p *LinePlot) what() string {
	if p.Title != "" {
		return fmt.Sprintf("line plot %q", p.Title)
	}
	return "line plot"
}

func (p *LinePlot) draw(c canvas, w, h int) error {
	if len(p.Series) == 0 {
		return fmt.Errorf("%s has no series", p.what())
	}
	xr, yr := newDataRange(p.LogX), newDataRange(p.LogY)
	xs := make([][]float64, len(p.Series))
	smooth := make([][]float64, len(p.Series))
	anyPoints := false
	for i, s := range p.Series {
		if len(s.Y) == 0 {
			return fmt.Errorf("%s: %s is empty", p.what(), seriesName(i, s))
		}
		if s.X != nil && len(s.X) != len(s.Y) {
			return fmt.Errorf("%s: %s has %d x values but %d y values", p.what(), seriesName(i, s), len(s.X), len(s.Y))
		}
		if !(s.Smooth >= 0 && s.Smooth < 1) {
			return fmt.Errorf("%s: %s: Smooth is %v, want a value in [0, 1)", p.what(), seriesName(i, s), s.Smooth)
		}
		x := s.X
		if x == nil {
			x = make([]float64, len(s.Y))
			for j := range x {
				x[j] = float64(j)
			}
		}
		xs[i] = x
		if s.Smooth > 0 {
			smooth[i] = ema(s.Y, s.Smooth)
		}
		n := 0
		for j, y := range s.Y {
			if finite(x[j]) && (!p.LogX || x[j] > 0) && finite(y) && (!p.LogY || y > 0) {
				xr.add(x[j])
				yr.add(y)
				n++
			}
		}
		if n == 0 {
			why := "all its values are NaN or infinite"
			if p.LogX || p.LogY {
				why += ", or not positive on a log axis"
			}
			return fmt.Errorf("%s: %s has no point that can be drawn (%s)", p.what(), seriesName(i, s), why)
		}
		anyPoints = anyPoints || s.Points
	}
	xpad := 0.0
	if anyPoints || xr.lo == xr.hi {
		xpad = 0.04
	}
	xlo, xhi, err := xr.limits(p.XRange, xpad)
	if err != nil {
		return fmt.Errorf("%s: x axis: %w", p.what(), err)
	}
	ylo, yhi, err := yr.limits(p.YRange, 0.05)
	if err != nil {
		return fmt.Errorf("%s: y axis: %w", p.what(), err)
	}
	spec := frameSpec{
		title: p.Title,
		x:     axisSpec{label: p.XLabel, log: p.LogX, lo: xlo, hi: xhi},
		y:     axisSpec{label: p.YLabel, log: p.LogY, lo: ylo, hi: yhi},
	}
	if !p.NoLegend {
		for i, s := range p.Series {
			if s.Name != "" {
				spec.legend = append(spec.legend, legendEntry{name: s.Name, col: p.color(i), kind: legendLine})
			}
		}
		spec.place = legendInside
	}
	f, err := layout(c, w, h, spec)
	if err != nil {
		return fmt.Errorf("%s: %w", p.what(), err)
	}
	f.drawGrid(c)

	var occupied []point
	var pts, run []point
	for i, s := range p.Series {
		col := p.color(i)
		lw := s.Width
		if lw <= 0 {
			lw = f.st.lineWidth
		}
		dotR := math.Max(2.5, lw*1.6)
		lone := func(q point) { c.circle(q, dotR, col, f.plot) }
		pts = toPixels(pts[:0], f, xs[i], s.Y)
		if smooth[i] != nil {
			faint := withAlpha(col, 0.25)
			run = clipRuns(pts, f.plot, run, func(r []point) { c.polyline(r, faint, lw*0.8, f.plot) }, nil)
			pts = toPixels(pts[:0], f, xs[i], smooth[i])
		}
		run = clipRuns(pts, f.plot, run, func(r []point) {
			c.polyline(r, col, lw, f.plot)
			occupied = sampleLine(occupied, r, 3)
		}, func(q point) {
			lone(q)
			occupied = append(occupied, q)
		})
		if s.Points {
			for _, q := range pts {
				if finite(q.x) && finite(q.y) {
					c.circle(q, dotR, col, f.plot)
				}
			}
		}
	}
	f.drawAxes(c)
	if box, ok := f.legendBox(occupied); ok {
		f.drawLegend(c, box)
	}
	return nil
}

// color returns the colour of series i.
func (p *LinePlot) color(i int) color.NRGBA {
	if col := p.Series[i].Color; col != nil {
		return color.NRGBAModel.Convert(col).(color.NRGBA)
	}
	return Tab10[i%len(Tab10)]
}

// toPixels maps data points to pixels; points that the axes cannot show
// become NaN (gaps).
func toPixels(dst []point, f *frame, x, y []float64) []point {
	for j := range y {
		dst = append(dst, point{f.x.pix(x[j]), f.y.pix(y[j])})
	}
	return dst
}

// sampleLine appends points every step pixels along the polyline, for the
// legend's placement.
func sampleLine(dst, pts []point, step float64) []point {
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		n := int(math.Hypot(b.x-a.x, b.y-a.y)/step) + 1
		for k := 0; k < n; k++ {
			t := float64(k) / float64(n)
			dst = append(dst, point{a.x + t*(b.x-a.x), a.y + t*(b.y-a.y)})
		}
	}
	if len(pts) > 0 {
		dst = append(dst, pts[len(pts)-1])
	}
	return dst
}
