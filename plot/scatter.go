package plot

import (
	"fmt"
	"io"
	"math"
	"strconv"
)

// ScatterPlot draws points coloured by class, such as a t-SNE embedding of
// a test set with one colour per label.
type ScatterPlot struct {
	Title, XLabel, YLabel string
	// X and Y are the coordinates; points with a NaN or infinite
	// coordinate are skipped.
	X, Y []float64
	// Class gives each point's class, which picks its colour (Tab10 for up
	// to ten classes, Tab20 for up to twenty). nil puts every point in
	// class 0.
	Class []int
	// ClassNames label the classes in the legend; without them classes
	// are called by number. The legend is drawn (to the right of the plot)
	// when there are 2 to 20 classes.
	ClassNames []string
	// Radius is the point radius in pixels; 0 picks one from the figure
	// size and the number of points.
	Radius float64
	// Alpha is the point opacity in (0, 1]; 0 means 0.8.
	Alpha float64
	// HideAxes drops ticks and tick labels, for embeddings whose
	// coordinates mean nothing.
	HideAxes       bool
	XRange, YRange Range
}

// WritePNG renders the plot as a width x height PNG onto w.
func (p *ScatterPlot) WritePNG(w io.Writer, width, height int) error {
	return WritePNG(w, p, width, height)
}

// WriteSVG renders the plot as a width x height SVG onto w.
func (p *ScatterPlot) WriteSVG(w io.Writer, width, height int) error {
	return WriteSVG(w, p, width, height)
}

// SavePNG writes the plot to a PNG file atomically.
func (p *ScatterPlot) SavePNG(path string, width, height int) error {
	return SavePNG(path, p, width, height)
}

// SaveSVG writes the plot to an SVG file atomically.
func (p *ScatterPlot) SaveSVG(path string, width, height int) error {
	return SaveSVG(path, p, width, height)
}

func (p *ScatterPlot) what() string {
	if p.Title != "" {
		return fmt.Sprintf("scatter plot %q", p.Title)
	}
	return "scatter plot"
}

// classCount checks the inputs and returns the number of classes.
func (p *ScatterPlot) classCount() (int, error) {
	if len(p.X) == 0 {
		return 0, fmt.Errorf("%s has no points", p.what())
	}
	if len(p.X) != len(p.Y) {
		return 0, fmt.Errorf("%s has %d x values but %d y values", p.what(), len(p.X), len(p.Y))
	}
	if p.Class != nil && len(p.Class) != len(p.X) {
		return 0, fmt.Errorf("%s has %d points but %d classes", p.what(), len(p.X), len(p.Class))
	}
	if !(p.Alpha >= 0 && p.Alpha <= 1) {
		return 0, fmt.Errorf("%s: Alpha is %v, want a value in (0, 1]", p.what(), p.Alpha)
	}
	n := max(1, len(p.ClassNames))
	for i, k := range p.Class {
		if k < 0 {
			return 0, fmt.Errorf("%s: point %d has class %d; classes start at 0", p.what(), i, k)
		}
		if p.ClassNames != nil && k >= len(p.ClassNames) {
			return 0, fmt.Errorf("%s: point %d has class %d but there are only %d class names", p.what(), i, k, len(p.ClassNames))
		}
		n = max(n, k+1)
	}
	return n, nil
}

func (p *ScatterPlot) draw(c canvas, w, h int) error {
	nClasses, err := p.classCount()
	if err != nil {
		return err
	}
	xr, yr := newDataRange(false), newDataRange(false)
	for i := range p.X {
		if finite(p.X[i]) && finite(p.Y[i]) {
			xr.add(p.X[i])
			yr.add(p.Y[i])
		}
	}
	if xr.n == 0 {
		return fmt.Errorf("%s has no point with finite coordinates", p.what())
	}
	xlo, xhi, err := xr.limits(p.XRange, 0.04)
	if err != nil {
		return fmt.Errorf("%s: x axis: %w", p.what(), err)
	}
	ylo, yhi, err := yr.limits(p.YRange, 0.04)
	if err != nil {
		return fmt.Errorf("%s: y axis: %w", p.what(), err)
	}
	spec := frameSpec{
		title: p.Title,
		x:     axisSpec{label: p.XLabel, lo: xlo, hi: xhi, hide: p.HideAxes, noGrid: p.HideAxes},
		y:     axisSpec{label: p.YLabel, lo: ylo, hi: yhi, hide: p.HideAxes, noGrid: p.HideAxes},
	}
	if nClasses >= 2 && nClasses <= len(Tab20) {
		for k := 0; k < nClasses; k++ {
			name := strconv.Itoa(k)
			if k < len(p.ClassNames) && p.ClassNames[k] != "" {
				name = p.ClassNames[k]
			}
			spec.legend = append(spec.legend, legendEntry{name: name, col: ClassColor(k, nClasses), kind: legendMarker})
		}
		spec.place = legendRight
	}
	f, err := layout(c, w, h, spec)
	if err != nil {
		return fmt.Errorf("%s: %w", p.what(), err)
	}
	f.drawGrid(c)

	r := p.Radius
	if r <= 0 {
		r = float64(min(w, h)) / 800 * 6 / math.Pow(float64(xr.n)/500, 0.25)
		r = math.Max(1.2, math.Min(6*float64(min(w, h))/800, r))
	}
	alpha := p.Alpha
	if alpha == 0 {
		alpha = 0.8
	}
	cols := make([]colorCache, nClasses)
	for i := range p.X {
		q := point{f.x.pix(p.X[i]), f.y.pix(p.Y[i])}
		if !finite(q.x) || !finite(q.y) {
			continue
		}
		k := 0
		if p.Class != nil {
			k = p.Class[i]
		}
		if !cols[k].set {
			cols[k] = colorCache{withAlpha(ClassColor(k, nClasses), alpha), true}
		}
		c.circle(q, r, cols[k].c, f.plot)
	}
	f.drawAxes(c)
	if box, ok := f.legendBox(nil); ok {
		f.drawLegend(c, box)
	}
	return nil
}
