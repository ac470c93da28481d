package plot_test

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"strings"

	"selfsup/plot"
)

// A loss curve, smoothed, as a PNG. Real code calls SavePNG with a path;
// the file is replaced atomically.
func ExampleLinePlot() {
	var steps, loss []float64
	for s := 0; s <= 5000; s += 10 {
		steps = append(steps, float64(s))
		loss = append(loss, 4*math.Exp(-float64(s)/1500)+0.5+0.2*math.Sin(float64(s)))
	}
	p := &plot.LinePlot{
		Title: "SimCLR loss", XLabel: "step", YLabel: "NT-Xent",
		Series: []plot.Series{{Name: "train", X: steps, Y: loss, Smooth: 0.9}},
	}
	var buf bytes.Buffer
	if err := p.WritePNG(&buf, 800, 500); err != nil {
		fmt.Println(err)
		return
	}
	cfg, _ := png.DecodeConfig(&buf)
	fmt.Println(cfg.Width, cfg.Height)
	// Output: 800 500
}

// Accuracy against the fraction of labels used reads best on a log x axis.
func ExampleLinePlot_labelEfficiency() {
	pct := []float64{1, 10, 100}
	p := &plot.LinePlot{
		Title: "Label efficiency", XLabel: "% of labels", YLabel: "accuracy (%)", LogX: true,
		Series: []plot.Series{
			{Name: "SimCLR", X: pct, Y: []float64{62, 78, 86}, Points: true},
			{Name: "supervised", X: pct, Y: []float64{35, 70, 93}, Points: true},
		},
	}
	var buf bytes.Buffer
	if err := p.WriteSVG(&buf, 640, 480); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Count(buf.String(), "<polyline"))
	// Output: 2
}

// A t-SNE embedding coloured by class.
func ExampleScatterPlot() {
	var x, y []float64
	var class []int
	for i := 0; i < 300; i++ {
		k := i % 3
		a := float64(k) * 2 * math.Pi / 3
		x = append(x, 10*math.Cos(a)+math.Sin(float64(i)))
		y = append(y, 10*math.Sin(a)+math.Cos(float64(i)))
		class = append(class, k)
	}
	p := &plot.ScatterPlot{
		Title: "t-SNE", X: x, Y: y, Class: class,
		ClassNames: []string{"cat", "dog", "ship"}, HideAxes: true,
	}
	var buf bytes.Buffer
	if err := p.WriteSVG(&buf, 600, 500); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Count(buf.String(), "<circle"), "circles") // 300 points + 3 legend markers
	// Output: 303 circles
}

// Grouped bars for a results table.
func ExampleBarChart() {
	b := &plot.BarChart{
		Title: "CIFAR-10", YLabel: "top-1 (%)",
		Groups: []string{"RotNet", "SimCLR", "MoCo v2"},
		Series: []plot.BarSeries{
			{Name: "kNN", Values: []float64{61.2, 84.5, 83.9}},
			{Name: "linear", Values: []float64{70.3, 87.6, 87.1}},
		},
		ValueLabels: true, ValueFormat: "%.1f",
	}
	err := b.WritePNG(&bytes.Buffer{}, 640, 400)
	fmt.Println(err)

	// Mistakes are reported, never drawn as an empty figure.
	b.Series[1].Values = b.Series[1].Values[:2]
	fmt.Println(b.WritePNG(&bytes.Buffer{}, 640, 400))
	// Output:
	// <nil>
	// plot: bar chart "CIFAR-10": series 1 ("linear") has 2 values for 3 groups
}
