package report

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"selfsup/plot"
)

// Figure is a plot of the page, rendered to PNG.
type Figure struct {
	// Name is a short identifier used in file names ("loss").
	Name string
	// Caption says what the figure shows.
	Caption string
	// Chart is the plot; Width and Height its size in pixels.
	Chart         plot.Chart
	Width, Height int
}

// PNG renders the figure.
func (f Figure) PNG() ([]byte, error) {
	var b bytes.Buffer
	if err := plot.WritePNG(&b, f.Chart, f.Width, f.Height); err != nil {
		return nil, fmt.Errorf("figure %s: %w", f.Name, err)
	}
	return b.Bytes(), nil
}

// Figures returns the page's plots that have data: the loss curves of all
// runs, test accuracy by protocol, and the label-efficiency curves.
func (p *Page) Figures() []Figure {
	var out []Figure
	if f, ok := p.lossFigure(); ok {
		out = append(out, f)
	}
	if f, ok := p.accuracyFigure(); ok {
		out = append(out, f)
	}
	if f, ok := p.labelFigure(); ok {
		out = append(out, f)
	}
	return out
}

// lossFigure draws every run's training loss on one plot, against epochs
// when every run says how many steps an epoch has, else against steps.
// The y axis is logarithmic: the methods' objectives differ in scale.
func (p *Page) lossFigure() (Figure, bool) {
	perEpoch := true
	for _, r := range p.Runs {
		if len(r.Loss) > 0 && r.StepsPerEpoch() == 0 {
			perEpoch = false
		}
	}
	lp := &plot.LinePlot{Title: "training loss (each run's own objective)", XLabel: "step", YLabel: "loss (log scale)", LogY: true}
	if perEpoch {
		lp.XLabel = "epoch"
	}
	for _, r := range p.Runs {
		if len(r.Loss) == 0 || !slices.ContainsFunc(r.Loss, func(v float64) bool { return v > 0 && finite(v) }) {
			continue
		}
		x := r.LossSteps
		if perEpoch {
			spe := r.StepsPerEpoch()
			x = make([]float64, len(r.LossSteps))
			for i, s := range r.LossSteps {
				x[i] = s / spe
			}
		}
		smooth := 0.0
		if len(r.Loss) >= 50 {
			smooth = 0.9
		}
		lp.Series = append(lp.Series, plot.Series{Name: r.Name, X: x, Y: r.Loss, Smooth: smooth})
	}
	if len(lp.Series) == 0 {
		return Figure{}, false
	}
	return Figure{Name: "loss", Caption: "Training loss of every run (smoothed where long; the methods' losses are on different scales).",
		Chart: lp, Width: 900, Height: 500}, true
}

// accuracyFigure is a bar chart of kNN, linear and fine-tune top-1 per run.
func (p *Page) accuracyFigure() (Figure, bool) {
	bc := &plot.BarChart{Title: "test top-1 accuracy", YLabel: "top-1 (%)", ValueLabels: true, ValueFormat: "%.1f"}
	series := []struct {
		name string
		get  func(*Record) *Accuracy
	}{
		{"kNN", func(r *Record) *Accuracy { return r.KNN }},
		{"linear", func(r *Record) *Accuracy { return r.Linear }},
		{"fine-tune", func(r *Record) *Accuracy { return r.Finetune }},
	}
	for _, r := range p.Runs {
		bc.Groups = append(bc.Groups, r.Name)
	}
	lo := 100.0
	for _, s := range series {
		vals := make([]float64, len(p.Runs))
		have := false
		for i, r := range p.Runs {
			vals[i] = math.NaN()
			if r.Record != nil {
				if a := s.get(r.Record); a != nil {
					vals[i], have = 100*a.Top1, true
					lo = min(lo, vals[i])
				}
			}
		}
		if have {
			bc.Series = append(bc.Series, plot.BarSeries{Name: s.name, Values: vals})
		}
	}
	if len(bc.Series) == 0 {
		return Figure{}, false
	}
	// start the axis near the lowest bar so close results stay apart
	floor := math.Max(0, 10*math.Floor((lo-10)/10))
	bc.YRange = plot.Range{Min: floor, Max: 100}
	return Figure{Name: "accuracy", Caption: "Test top-1 accuracy by protocol.", Chart: bc, Width: max(700, 120*len(p.Runs)+200), Height: 480}, true
}

// labelFigure draws each run's label-efficiency curve: test top-1 against
// the number of labelled images on a log axis.
func (p *Page) labelFigure() (Figure, bool) {
	lp := &plot.LinePlot{Title: "label efficiency", XLabel: "labelled training images (log scale)", YLabel: "test top-1 (%)", LogX: true}
	for _, r := range p.Runs {
		if r.Record == nil {
			continue
		}
		for _, proto := range []string{"linear", "finetune"} {
			var pts [][2]float64
			for _, pt := range r.Record.Labels {
				if pt.Protocol == proto && pt.Images > 0 {
					pts = append(pts, [2]float64{float64(pt.Images), 100 * pt.Top1})
				}
			}
			if len(pts) == 0 {
				continue
			}
			slices.SortFunc(pts, func(a, b [2]float64) int { return int(a[0] - b[0]) })
			s := plot.Series{Name: r.Name, Points: true}
			if proto == "finetune" {
				s.Name += " (fine-tune)"
			}
			for _, pt := range pts {
				s.X, s.Y = append(s.X, pt[0]), append(s.Y, pt[1])
			}
			lp.Series = append(lp.Series, s)
		}
	}
	if len(lp.Series) == 0 {
		return Figure{}, false
	}
	return Figure{Name: "labels", Caption: "Label efficiency: linear probe (and fine-tuning where measured) with class-balanced shares of the labels.",
		Chart: lp, Width: 900, Height: 500}, true
}
