package plot

import (
	"bufio"
	"fmt"
	"image/png"
	"io"

	"selfsup/internal/atomicfile"
)

// Chart is a figure that can be rendered: *LinePlot, *ScatterPlot or
// *BarChart.
type Chart interface {
	// draw lays out and draws the figure on c, or explains why it cannot.
	draw(c canvas, w, h int) error
}

// Limits on the size of a figure in pixels.
const (
	MinSize = 64
	MaxSize = 16384
)

func checkSize(w, h int) error {
	if w < MinSize || h < MinSize || w > MaxSize || h > MaxSize {
		return fmt.Errorf("size %dx%d is outside %d..%d pixels", w, h, MinSize, MaxSize)
	}
	return nil
}

// WritePNG renders ch as a width x height PNG image onto w.
func WritePNG(w io.Writer, ch Chart, width, height int) error {
	if err := checkSize(width, height); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	c := newRasterCanvas(width, height)
	if err := ch.draw(c, width, height); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	bw := bufio.NewWriter(w)
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(bw, c.img); err != nil {
		return fmt.Errorf("plot: encode PNG: %w", err)
	}
	return bw.Flush()
}

// WriteSVG renders ch as a width x height SVG document onto w.
func WriteSVG(w io.Writer, ch Chart, width, height int) error {
	if err := checkSize(width, height); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	c := newSVGCanvas(width, height)
	if err := ch.draw(c, width, height); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	_, err := w.Write(c.bytes())
	return err
}

// SavePNG renders ch into the PNG file at path, atomically: a reader sees
// the old file or the complete new one. Errors name the file.
func SavePNG(path string, ch Chart, width, height int) error {
	return save(path, func(w io.Writer) error { return WritePNG(w, ch, width, height) })
}

// SaveSVG renders ch into the SVG file at path, atomically.
func SaveSVG(path string, ch Chart, width, height int) error {
	return save(path, func(w io.Writer) error { return WriteSVG(w, ch, width, height) })
}

func save(path string, fill func(io.Writer) error) error {
	if err := atomicfile.Write(path, 0o644, fill); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
