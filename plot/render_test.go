package plot

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func renderPNG(t *testing.T, ch Chart, w, h int) *image.RGBA {
	t.Helper()
	var buf bytes.Buffer
	if err := WritePNG(&buf, ch, w, h); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("PNG is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	rgba := image.NewRGBA(img.Bounds())
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			rgba.Set(x, y, img.At(x, y))
		}
	}
	return rgba
}

func near(a color.RGBA, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) int { return max(int(x)-int(y), int(y)-int(x)) }
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol
}

// rowsOf returns the rows in column x whose colour is near c.
func rowsOf(img *image.RGBA, x int, c color.NRGBA) []int {
	var rows []int
	for y := 0; y < img.Bounds().Dy(); y++ {
		if near(img.RGBAAt(x, y), c, 40) {
			rows = append(rows, y)
		}
	}
	return rows
}

// solid reports whether 30 pixels from (x, y) in direction (dx, dy) all
// have the frame colour: the plot frame, not text.
func solid(img *image.RGBA, x, y, dx, dy int) bool {
	for k := 0; k < 30; k++ {
		if !near(img.RGBAAt(x+k*dx, y+k*dy), colAxis, 0) {
			return false
		}
	}
	return true
}

// frameRows returns the rows where a horizontal frame line crosses column
// x: the top and bottom of the plot area.
func frameRows(img *image.RGBA, x int) []int {
	var rows []int
	for y := 0; y < img.Bounds().Dy(); y++ {
		if solid(img, x, y, 1, 0) {
			rows = append(rows, y)
		}
	}
	return rows
}

func mean(v []int) float64 {
	s := 0
	for _, x := range v {
		s += x
	}
	return float64(s) / float64(len(v))
}

func TestLinePNGDrawsWhereTheDataIs(t *testing.T) {
	flat := func(y float64) []float64 { return []float64{y, y, y} }
	p := &LinePlot{
		Title: "levels", XLabel: "x", YLabel: "y", YRange: Range{0, 1},
		Series: []Series{
			{Name: "half", X: []float64{0, 1, 2}, Y: flat(0.5)},
			{Name: "quarter", X: []float64{0, 1, 2}, Y: flat(0.25)},
			{Name: "three quarters", X: []float64{0, 1, 2}, Y: flat(0.75)},
		},
		NoLegend: true,
	}
	const w, h = 400, 300
	img := renderPNG(t, p, w, h)
	x := w / 2
	frame := frameRows(img, x)
	if len(frame) < 2 {
		t.Fatalf("no plot frame found in column %d", x)
	}
	top, bottom := float64(frame[0]), float64(frame[len(frame)-1])
	for i, frac := range []float64{0.5, 0.25, 0.75} {
		rows := rowsOf(img, x, Tab10[i])
		if len(rows) == 0 || len(rows) > 4 {
			t.Fatalf("series at %v: rows %v in column %d, want a line 2-3 px thick", frac, rows, x)
		}
		want := bottom - frac*(bottom-top)
		if got := mean(rows); math.Abs(got-want) > 1.5 {
			t.Errorf("series at %v drawn at row %.1f, want %.1f (plot rows %v..%v)", frac, got, want, top, bottom)
		}
	}
	// Background stays white away from the data, e.g. the top left corner.
	if c := img.RGBAAt(1, 1); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("background is %v, want white", c)
	}
}

func TestScatterPNGColoursPoints(t *testing.T) {
	p := &ScatterPlot{
		X: []float64{0, 10, math.NaN(), 5}, Y: []float64{0, 10, 3, math.Inf(1)},
		Class: []int{0, 1, 2, 2}, ClassNames: []string{"a", "b", "c"},
		Radius: 5, Alpha: 1, HideAxes: true, XRange: Range{-10, 20}, YRange: Range{-10, 20},
	}
	img := renderPNG(t, p, 300, 300)
	// Find the plot frame along the middle row and column.
	cols := []int{}
	for x := 0; x < 300; x++ {
		if solid(img, x, 150, 0, 1) {
			cols = append(cols, x)
		}
	}
	rows := frameRows(img, 150)
	if len(cols) < 2 || len(rows) < 2 {
		t.Fatal("plot frame not found")
	}
	x0, x1 := float64(cols[0]), float64(cols[len(cols)-1])
	y0, y1 := float64(rows[0]), float64(rows[len(rows)-1])
	at := func(vx, vy float64) color.RGBA {
		px := x0 + (vx+10)/30*(x1-x0)
		py := y1 - (vy+10)/30*(y1-y0)
		return img.RGBAAt(int(math.Round(px)), int(math.Round(py)))
	}
	if c := at(0, 0); !near(c, ClassColor(0, 3), 30) {
		t.Errorf("point of class 0 is %v, want %v", c, ClassColor(0, 3))
	}
	if c := at(10, 10); !near(c, ClassColor(1, 3), 30) {
		t.Errorf("point of class 1 is %v, want %v", c, ClassColor(1, 3))
	}
	if c := at(5, 5); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("empty data area is %v, want white", c)
	}
}

// svgDoc is just enough of SVG to count what was drawn.
type svgDoc struct {
	XMLName   xml.Name    `xml:"svg"`
	Width     int         `xml:"width,attr"`
	Height    int         `xml:"height,attr"`
	Polylines []svgPoly   `xml:"polyline"`
	Texts     []string    `xml:"text"`
	Groups    []svgGroup  `xml:"g"`
	Rects     []svgRectEl `xml:"rect"`
}

type svgPoly struct {
	Points string `xml:"points,attr"`
	Stroke string `xml:"stroke,attr"`
}

type svgGroup struct {
	Fill    string     `xml:"fill,attr"`
	Circles []struct{} `xml:"circle"`
}

type svgRectEl struct {
	Fill string `xml:"fill,attr"`
}

func renderSVG(t *testing.T, ch Chart, w, h int) svgDoc {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSVG(&buf, ch, w, h); err != nil {
		t.Fatal(err)
	}
	// Well-formed: the whole document decodes token by token.
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, buf.String())
		}
	}
	var doc svgDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Width != w || doc.Height != h {
		t.Fatalf("SVG is %dx%d, want %dx%d", doc.Width, doc.Height, w, h)
	}
	return doc
}

func TestLineSVGOnePolylinePerSeries(t *testing.T) {
	p := &LinePlot{
		Title: "loss <&> lr", XLabel: "step", YLabel: "loss",
		Series: []Series{
			{Name: "a & b", Y: []float64{3, 2, 1.5, 1.2}},
			{Name: "c", X: []float64{0, 1, 2, 3}, Y: []float64{2.5, 2.2, 2, 1.9}},
			{Name: "d", X: []float64{0, 1, 2, 3}, Y: []float64{1, 1, 1, 1}},
		},
	}
	doc := renderSVG(t, p, 640, 400)
	if len(doc.Polylines) != 3 {
		t.Fatalf("%d polylines, want 3", len(doc.Polylines))
	}
	for i, pl := range doc.Polylines {
		if want := hexColor(Tab10[i]); pl.Stroke != want {
			t.Errorf("polyline %d stroke %s, want %s", i, pl.Stroke, want)
		}
		if n := len(strings.Fields(pl.Points)); n != 4 {
			t.Errorf("polyline %d has %d points, want 4", i, n)
		}
	}
	joined := strings.Join(doc.Texts, "|")
	for _, want := range []string{"loss <&> lr", "step", "loss", "a & b"} {
		if !strings.Contains(joined, want) {
			t.Errorf("text %q missing from %q", want, joined)
		}
	}
}

func TestScatterSVGCircles(t *testing.T) {
	n := 500
	p := &ScatterPlot{X: make([]float64, n), Y: make([]float64, n), Class: make([]int, n), ClassNames: []string{"zero", "one"}}
	for i := range n {
		p.X[i], p.Y[i], p.Class[i] = math.Cos(float64(i)), math.Sin(float64(i)), i%2
	}
	p.X[7] = math.NaN() // skipped
	doc := renderSVG(t, p, 500, 400)
	circles := 0
	for _, g := range doc.Groups {
		circles += len(g.Circles)
	}
	// n-1 data points plus one legend marker per class.
	if want := n - 1 + 2; circles != want {
		t.Errorf("%d circles, want %d", circles, want)
	}
}

func TestBarSVGRects(t *testing.T) {
	b := &BarChart{
		Groups: []string{"SimCLR", "MoCo"},
		Series: []BarSeries{{Name: "kNN", Values: []float64{80, 81}}, {Name: "linear", Values: []float64{85, math.NaN()}}},
	}
	doc := renderSVG(t, b, 500, 400)
	bars := map[string]int{}
	for _, r := range doc.Rects {
		bars[r.Fill]++
	}
	// Two kNN bars and one linear bar, plus a legend swatch each.
	if got := bars[hexColor(Tab10[0])]; got != 3 {
		t.Errorf("%d rects of the first colour, want 3", got)
	}
	if got := bars[hexColor(Tab10[1])]; got != 2 {
		t.Errorf("%d rects of the second colour, want 2 (NaN leaves a bar out)", got)
	}
}

func TestBadValuesAreSkipped(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	charts := map[string]Chart{
		"line with gaps": &LinePlot{Series: []Series{
			{Name: "a", X: []float64{0, 1, 2, 3, inf, 5}, Y: []float64{1, nan, 3, -inf, 2, 1}},
			{Name: "lone", Y: []float64{nan, 2, nan}},
		}},
		"log axes skip non-positive": &LinePlot{LogX: true, LogY: true, Series: []Series{
			{X: []float64{-1, 0, 1, 10, 100}, Y: []float64{1, 1, 0, 5, -3}},
			{X: []float64{1, 10}, Y: []float64{1, 2}},
		}},
		"huge values with a fixed range": &LinePlot{YRange: Range{0, 1}, Series: []Series{
			{Y: []float64{0.5, 1e300, -1e300, 0.5}},
		}},
		"scatter":      &ScatterPlot{X: []float64{nan, 1, 2, inf}, Y: []float64{1, 2, nan, 4}},
		"bars":         &BarChart{Groups: []string{"a", "b"}, Series: []BarSeries{{Values: []float64{nan, -2}}}},
		"single point": &LinePlot{Series: []Series{{Y: []float64{3}}}},
		"one class":    &ScatterPlot{X: []float64{1}, Y: []float64{1}},
	}
	for name, ch := range charts {
		for _, size := range [][2]int{{64, 64}, {640, 480}} {
			if err := WritePNG(io.Discard, ch, size[0], size[1]); err != nil && !strings.Contains(err.Error(), "too small") {
				t.Errorf("%s PNG %v: %v", name, size, err)
			}
			if err := WriteSVG(io.Discard, ch, size[0], size[1]); err != nil && !strings.Contains(err.Error(), "too small") {
				t.Errorf("%s SVG %v: %v", name, size, err)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		ch   Chart
		want string
	}{
		{"no series", &LinePlot{Title: "t"}, `line plot "t" has no series`},
		{"empty series", &LinePlot{Series: []Series{{Name: "train", Y: []float64{1}}, {Name: "val"}}}, `series 1 ("val") is empty`},
		{"length mismatch", &LinePlot{Series: []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1}}}}, "2 x values but 1 y values"},
		{"all NaN", &LinePlot{Series: []Series{{Name: "diverged", Y: []float64{math.NaN(), math.Inf(1)}}}}, `series 0 ("diverged") has no point that can be drawn`},
		{"log of non-positive", &LinePlot{LogY: true, Series: []Series{{Y: []float64{0, -1}}}}, "not positive on a log axis"},
		{"bad smoothing", &LinePlot{Series: []Series{{Y: []float64{1}, Smooth: 1}}}, "Smooth is 1"},
		{"no points", &ScatterPlot{}, "scatter plot has no points"},
		{"scatter mismatch", &ScatterPlot{X: []float64{1, 2}, Y: []float64{1}}, "2 x values but 1 y values"},
		{"negative class", &ScatterPlot{X: []float64{1}, Y: []float64{1}, Class: []int{-1}}, "class -1"},
		{"unnamed class", &ScatterPlot{X: []float64{1}, Y: []float64{1}, Class: []int{3}, ClassNames: []string{"a"}}, "only 1 class names"},
		{"all NaN scatter", &ScatterPlot{X: []float64{math.NaN()}, Y: []float64{1}}, "no point with finite coordinates"},
		{"no groups", &BarChart{}, "bar chart has no groups"},
		{"bar mismatch", &BarChart{Groups: []string{"a", "b"}, Series: []BarSeries{{Name: "knn", Values: []float64{1}}}}, `("knn") has 1 values for 2 groups`},
		{"bars all NaN", &BarChart{Groups: []string{"a"}, Series: []BarSeries{{Values: []float64{math.NaN()}}}}, "no finite value"},
	}
	for _, tt := range tests {
		for _, write := range []func(io.Writer, Chart, int, int) error{WritePNG, WriteSVG} {
			err := write(io.Discard, tt.ch, 400, 300)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
			}
		}
	}
	ok := &LinePlot{Series: []Series{{Y: []float64{1, 2}}}}
	if err := WritePNG(io.Discard, ok, 10, 300); err == nil || !strings.Contains(err.Error(), "10x300") {
		t.Errorf("tiny size: %v", err)
	}
}

func TestSaveIsAtomicAndNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	p := &LinePlot{Series: []Series{{Y: []float64{1, 2, 3}}}}
	pngPath := filepath.Join(dir, "loss.png")
	if err := p.SavePNG(pngPath, 320, 240); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(f)
	f.Close()
	if err != nil || cfg.Width != 320 || cfg.Height != 240 {
		t.Fatalf("saved PNG: %v %+v", err, cfg)
	}
	svgPath := filepath.Join(dir, "loss.svg")
	if err := p.SaveSVG(svgPath, 320, 240); err != nil {
		t.Fatal(err)
	}
	// A failed render leaves the old file alone and no temporary behind.
	bad := &LinePlot{}
	if err := bad.SavePNG(pngPath, 320, 240); err == nil || !strings.Contains(err.Error(), pngPath) {
		t.Fatalf("bad save: %v, want an error naming %s", err, pngPath)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("directory holds %d entries, want 2", len(entries))
	}
	missing := filepath.Join(dir, "no", "such", "dir", "x.png")
	if err := p.SavePNG(missing, 320, 240); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("save into a missing directory: %v", err)
	}
}

func TestXTickLabelsNeverOverlap(t *testing.T) {
	ranges := [][2]float64{{0, 20000}, {0, 1}, {1e-5, 3e-5}, {-123456, 7e6}, {0.001, 0.0013}}
	for _, r := range ranges {
		for w := 180; w <= 1600; w += 97 {
			c := newSVGCanvas(w, 300)
			f, err := layout(c, w, 300, frameSpec{x: axisSpec{lo: r[0], hi: r[1]}, y: axisSpec{lo: 0, hi: 1}})
			if err != nil {
				t.Fatalf("range %v width %d: %v", r, w, err)
			}
			if f.overlapX(c.fonts()) {
				t.Errorf("range %v width %d: x labels overlap", r, w)
			}
			if len(f.xt) < 2 {
				t.Errorf("range %v width %d: only %d x ticks", r, w, len(f.xt))
			}
		}
	}
}
