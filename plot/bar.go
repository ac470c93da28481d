package plot

import (
	"fmt"
	"image/color"
	"io"
	"math"
)

// BarChart draws grouped bars: one group per category along x (e.g. a
// method) and one bar per series within each group (e.g. kNN and linear
// probe accuracy), the way results tables are usually plotted.
type BarChart struct {
	Title, XLabel, YLabel string
	// Groups names the categories along the x axis. Long names are
	// written vertically.
	Groups []string
	// Series are the bars of each group, in order. A legend is drawn when
	// any series has a name.
	Series []BarSeries
	// YRange fixes the y axis; the zero Range spans 0 and the data.
	YRange Range
	// ValueLabels writes each bar's value above it, formatted with
	// ValueFormat (a fmt verb for a float64; "%.3g" when empty).
	ValueLabels bool
	ValueFormat string
}

// BarSeries is one bar in every group of a BarChart.
type BarSeries struct {
	Name string
	// Values has one value per group; NaN leaves the bar out (a missing
	// result).
	Values []float64
	// Color is the bar colour; nil takes the series' place in Tab10.
	Color color.Color
}

// WritePNG renders the chart as a width x height PNG onto w.
func (b *BarChart) WritePNG(w io.Writer, width, height int) error {
	return WritePNG(w, b, width, height)
}

// WriteSVG renders the chart as a width x height SVG onto w.
func (b *BarChart) WriteSVG(w io.Writer, width, height int) error {
	return WriteSVG(w, b, width, height)
}

// SavePNG writes the chart to a PNG file atomically.
func (b *BarChart) SavePNG(path string, width, height int) error {
	return SavePNG(path, b, width, height)
}

// SaveSVG writes the chart to an SVG file atomically.
func (b *BarChart) SaveSVG(path string, width, height int) error {
	return SaveSVG(path, b, width, height)
}

func (b *BarChart) what() string {
	if b.Title != "" {
		return fmt.Sprintf("bar chart %q", b.Title)
	}
	return "bar chart"
}

func (b *BarChart) color(i int) color.NRGBA {
	if col := b.Series[i].Color; col != nil {
		return color.NRGBAModel.Convert(col).(color.NRGBA)
	}
	return Tab10[i%len(Tab10)]
}

func (b *BarChart) draw(c canvas, w, h int) error {
	if len(b.Groups) == 0 {
		return fmt.Errorf("%s has no groups", b.what())
	}
	if len(b.Series) == 0 {
		return fmt.Errorf("%s has no series", b.what())
	}
	yr := newDataRange(false)
	yr.add(0)
	n := 0
	for i, s := range b.Series {
		if len(s.Values) != len(b.Groups) {
			return fmt.Errorf("%s: series %d (%q) has %d values for %d groups", b.what(), i, s.Name, len(s.Values), len(b.Groups))
		}
		for _, v := range s.Values {
			if finite(v) {
				yr.add(v)
				n++
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("%s has no finite value to draw", b.what())
	}
	ylo, yhi := yr.lo, yr.hi
	if b.YRange.set() {
		ylo, yhi = b.YRange.Min, b.YRange.Max
	} else {
		if yhi == ylo {
			yhi = 1
		}
		span := yhi - ylo
		if yhi > 0 {
			yhi += span * 0.08
		}
		if ylo < 0 {
			ylo -= span * 0.08
		}
	}
	ticks := make([]tick, len(b.Groups))
	for i, g := range b.Groups {
		ticks[i] = tick{v: float64(i), label: g}
	}
	spec := frameSpec{
		title: b.Title,
		x:     axisSpec{label: b.XLabel, lo: -0.5, hi: float64(len(b.Groups)) - 0.5, ticks: ticks, noGrid: true},
		y:     axisSpec{label: b.YLabel, lo: ylo, hi: yhi},
	}
	for i, s := range b.Series {
		if s.Name != "" {
			spec.legend = append(spec.legend, legendEntry{name: s.Name, col: b.color(i), kind: legendBox})
		}
	}
	spec.place = legendRight
	f, err := layout(c, w, h, spec)
	if err != nil {
		return fmt.Errorf("%s: %w", b.what(), err)
	}
	f.drawGrid(c)

	ns := float64(len(b.Series))
	bw := 0.8 / ns // bar width in group units
	barPx := bw * (f.x.pix(1) - f.x.pix(0))
	format := b.ValueFormat
	if format == "" {
		format = "%.3g"
	}
	labelSize := 0.0
	if b.ValueLabels {
		labelSize = f.st.tickSize * 0.85
		for _, s := range b.Series {
			for _, v := range s.Values {
				if finite(v) {
					wd := c.fonts().width(fmt.Sprintf(format, v), labelSize)
					if wd > barPx*1.15 {
						labelSize = math.Min(labelSize, labelSize*barPx*1.15/wd)
					}
				}
			}
		}
		if labelSize < 7 {
			labelSize = 0 // too narrow to label legibly
		}
	}
	zero := f.y.pix(math.Max(ylo, math.Min(yhi, 0)))
	for i, s := range b.Series {
		col := b.color(i)
		for g, v := range s.Values {
			if !finite(v) {
				continue
			}
			x0 := f.x.pix(float64(g) - 0.4 + float64(i)*bw)
			x1 := f.x.pix(float64(g) - 0.4 + float64(i+1)*bw)
			y := f.y.pix(v)
			r := rect{x0, math.Min(y, zero), x1, math.Max(y, zero)}
			r = rect{r.x0, math.Max(r.y0, f.plot.y0), r.x1, math.Min(r.y1, f.plot.y1)}
			if r.h() > 0 {
				c.fillRect(r, col)
			}
			if labelSize > 0 {
				t := textSpec{s: fmt.Sprintf(format, v), x: (x0 + x1) / 2, size: labelSize, col: colText, h: alignMiddle}
				if v >= 0 {
					t.y, t.v = math.Max(y, f.plot.y0+labelSize)-f.st.tickSize*0.25, alignBottom
				} else {
					t.y, t.v = math.Min(y, f.plot.y1-labelSize)+f.st.tickSize*0.25, alignTop
				}
				c.text(t)
			}
		}
	}
	if zero > f.plot.y0 && zero < f.plot.y1 && ylo < 0 {
		c.line(point{f.plot.x0, zero}, point{f.plot.x1, zero}, colAxis, 1)
	}
	f.drawAxes(c)
	if box, ok := f.legendBox(nil); ok {
		f.drawLegend(c, box)
	}
	return nil
}
