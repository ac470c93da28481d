// Package plot draws the figures a representation-learning run reports:
// loss and learning-rate curves, label-efficiency curves, t-SNE scatter
// plots and grouped bar charts of results, as PNG or SVG files.
//
// It depends only on the standard library and golang.org/x/image (for the
// embedded Go font and an anti-aliasing rasterizer), so `go build` is all
// it needs. A figure is a plain value: fill in a LinePlot, ScatterPlot or
// BarChart and call SavePNG or SaveSVG (which write atomically) or
// WritePNG / WriteSVG (which write to any io.Writer).
//
// Axes get "nice" ticks (1, 2 and 5 times a power of ten), linear or
// logarithmic. Values that cannot be drawn (NaN, infinities, and values
// <= 0 on a log axis) are skipped, never a panic; a series with nothing
// drawable at all is an error naming it, so an empty figure is never
// written silently.
package plot
