package plot

import (
	"math"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// svgFontFamily lists fonts whose widths are close to Go Regular's (the
// font used to measure text), so SVG text fits the space laid out for it.
const svgFontFamily = "Go, Arial, Helvetica, sans-serif"

var (
	parseOnce  sync.Once
	parsedFont *opentype.Font
)

// goFont returns the parsed Go Regular font, or nil if it failed to parse
// (it is embedded, so that does not happen; basicfont is the fallback).
func goFont() *opentype.Font {
	parseOnce.Do(func() {
		f, err := opentype.Parse(goregular.TTF)
		if err == nil {
			parsedFont = f
		}
	})
	return parsedFont
}

// faces hands out font faces by pixel size. An opentype Face is not safe
// for concurrent use, so each rendering owns its faces.
type faces struct {
	bySize map[float64]font.Face
	// widthScale widens measured text: an SVG viewer may substitute a
	// wider font (DejaVu Sans is about 10% wider than Go Regular), so SVG
	// layout leaves that much room.
	widthScale float64
}

func newFaces(widthScale float64) *faces {
	return &faces{bySize: make(map[float64]font.Face), widthScale: widthScale}
}

// face returns the Go Regular face of the given pixel size (rounded to a
// quarter pixel so that sizes share faces).
func (fs *faces) face(size float64) font.Face {
	size = math.Round(size*4) / 4
	if f, ok := fs.bySize[size]; ok {
		return f
	}
	var f font.Face = basicfont.Face7x13
	if gf := goFont(); gf != nil {
		if of, err := opentype.NewFace(gf, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone}); err == nil {
			f = of
		}
	}
	fs.bySize[size] = f
	return f
}

// textMetrics holds the vertical measures of a face in pixels.
type textMetrics struct {
	ascent, descent, capHeight float64
}

func (fs *faces) metrics(size float64) textMetrics {
	m := fs.face(size).Metrics()
	tm := textMetrics{ascent: fix(m.Ascent), descent: fix(m.Descent), capHeight: fix(m.CapHeight)}
	if tm.capHeight <= 0 {
		tm.capHeight = 0.7 * tm.ascent
	}
	return tm
}

// width returns the advance width of s in pixels.
func (fs *faces) width(s string, size float64) float64 {
	return fix(font.MeasureString(fs.face(size), s)) * fs.widthScale
}

func fix(v fixed.Int26_6) float64 { return float64(v) / 64 }
