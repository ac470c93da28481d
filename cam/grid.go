package cam

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"selfsup/data"
	"selfsup/internal/atomicfile"
)

// Column is one model's maps in a Grid: one map per example image.
type Column struct {
	// Title names the model above its tiles (e.g. "supervised").
	Title string
	Maps  []Map
}

// Grid draws example images next to the overlays of one or more models'
// maps: each example is a group of tiles (the image, then one overlay per
// column), and the groups fill rows of PerRow. Under every tile is a
// caption: the example's under the image, the class explained and the
// prediction under an overlay.
type Grid struct {
	// Title is written above the grid (optional).
	Title string
	// Images are the examples.
	Images []data.Image
	// Captions, when set, has one line per example for under its image
	// (e.g. its label).
	Captions []string
	// Columns hold the maps, len(Images) each.
	Columns []Column
	// ClassNames name the classes in the overlay captions (numbers
	// otherwise).
	ClassNames []string
	// Boxes, when set, are drawn on every overlay of their example (the
	// object's box of a Pasted dataset).
	Boxes []image.Rectangle
	// Alpha is the overlay's opacity (0: 0.5).
	Alpha float64
	// Scale enlarges every tile by this integer factor (0: the smallest
	// that makes tiles at least 96 pixels tall).
	Scale int
	// PerRow is the number of examples per row (0: about the square root
	// of their number).
	PerRow int
}

// Layout constants, in pixels.
const (
	gridMargin  = 8
	gridGap     = 14 // between example groups
	tileGap     = 4  // between tiles of a group
	titleHeight = 22
	headHeight  = 16
	capHeight   = 16
)

var (
	gridFace   = basicfont.Face7x13
	gridInk    = color.RGBA{30, 30, 30, 255}
	gridPaper  = color.RGBA{255, 255, 255, 255}
	gridBoxInk = color.RGBA{40, 230, 60, 255}
)

// check reports the first inconsistency of the grid's inputs.
func (g *Grid) check() error {
	n := len(g.Images)
	if n == 0 {
		return fmt.Errorf("cam grid: no images")
	}
	if g.Captions != nil && len(g.Captions) != n {
		return fmt.Errorf("cam grid: %d captions for %d images", len(g.Captions), n)
	}
	if g.Boxes != nil && len(g.Boxes) != n {
		return fmt.Errorf("cam grid: %d boxes for %d images", len(g.Boxes), n)
	}
	h, w := g.Images[0].H, g.Images[0].W
	for i, img := range g.Images {
		if img.H != h || img.W != w {
			return fmt.Errorf("cam grid: image %d is %dx%d, image 0 %dx%d; the tiles need one size", i, img.H, img.W, h, w)
		}
	}
	for _, c := range g.Columns {
		if len(c.Maps) != n {
			return fmt.Errorf("cam grid: column %q has %d maps for %d images", c.Title, len(c.Maps), n)
		}
		for i, m := range c.Maps {
			if m.H != h || m.W != w {
				return fmt.Errorf("cam grid: map %d of column %q is %dx%d, the images %dx%d", i, c.Title, m.H, m.W, h, w)
			}
		}
	}
	return nil
}

// Render draws the grid.
func (g *Grid) Render() (*image.RGBA, error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	n := len(g.Images)
	h, w := g.Images[0].H, g.Images[0].W
	scale := g.Scale
	if scale <= 0 {
		scale = max(1, (96+h-1)/h)
	}
	perRow := g.PerRow
	if perRow <= 0 {
		perRow = int(math.Ceil(math.Sqrt(float64(n))))
	}
	perRow = min(perRow, n)
	rows := (n + perRow - 1) / perRow
	tw, th := w*scale, h*scale
	tiles := 1 + len(g.Columns)
	groupW := tiles*tw + (tiles-1)*tileGap
	groupH := headHeight + th + capHeight
	top := gridMargin
	if g.Title != "" {
		top += titleHeight
	}
	width := 2*gridMargin + perRow*groupW + (perRow-1)*gridGap
	height := top + rows*groupH + (rows-1)*gridGap + gridMargin
	if t := textWidth(g.Title) + 2*gridMargin; t > width {
		width = t
	}
	out := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(out, out.Bounds(), image.NewUniform(gridPaper), image.Point{}, draw.Src)
	if g.Title != "" {
		drawText(out, gridMargin, gridMargin+13, g.Title, width-2*gridMargin)
	}
	alpha := g.Alpha
	if alpha == 0 {
		alpha = 0.5
	}
	for i, img := range g.Images {
		gx := gridMargin + (i%perRow)*(groupW+gridGap)
		gy := top + (i/perRow)*(groupH+gridGap)
		titles := []string{"image"}
		base, err := ImageRGBA(img)
		if err != nil {
			return nil, fmt.Errorf("cam grid: image %d: %w", i, err)
		}
		pics := []*image.RGBA{base}
		caps := []string{""}
		if g.Captions != nil {
			caps[0] = g.Captions[i]
		}
		for _, c := range g.Columns {
			ov, err := Overlay(img, c.Maps[i], alpha)
			if err != nil {
				return nil, fmt.Errorf("cam grid: image %d, column %q: %w", i, c.Title, err)
			}
			if g.Boxes != nil {
				drawBox(ov, g.Boxes[i])
			}
			pics = append(pics, ov)
			titles = append(titles, c.Title)
			caps = append(caps, g.mapCaption(c.Maps[i]))
		}
		for t, pic := range pics {
			x := gx + t*(tw+tileGap)
			drawText(out, x, gy+12, titles[t], tw)
			blitScaled(out, pic, x, gy+headHeight, scale)
			drawText(out, x, gy+headHeight+th+12, caps[t], tw)
		}
	}
	return out, nil
}

// mapCaption says which class a map explains and what the probe predicts.
func (g *Grid) mapCaption(m Map) string {
	name := func(c int) string {
		if c >= 0 && c < len(g.ClassNames) && g.ClassNames[c] != "" {
			return g.ClassNames[c]
		}
		return fmt.Sprint(c)
	}
	switch {
	case m.Class >= 0 && m.Predicted >= 0 && m.Predicted != m.Class:
		return fmt.Sprintf("%s (pred %s)", name(m.Class), name(m.Predicted))
	case m.Class >= 0:
		return name(m.Class)
	case m.Predicted >= 0:
		return "pred " + name(m.Predicted)
	}
	return ""
}

// WritePNG renders the grid as a PNG onto w.
func (g *Grid) WritePNG(w io.Writer) error {
	img, err := g.Render()
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// SavePNG renders the grid to a PNG file, written atomically.
func (g *Grid) SavePNG(path string) error {
	img, err := g.Render()
	if err != nil {
		return err
	}
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error { return png.Encode(w, img) })
	if err != nil {
		return fmt.Errorf("cam grid %s: %w", path, err)
	}
	return nil
}

// blitScaled copies src into dst at (x, y), each pixel enlarged to a
// scale x scale block.
func blitScaled(dst, src *image.RGBA, x, y, scale int) {
	b := src.Bounds()
	for sy := 0; sy < b.Dy(); sy++ {
		for sx := 0; sx < b.Dx(); sx++ {
			o := src.PixOffset(sx, sy)
			c := src.Pix[o : o+4 : o+4]
			for dy := 0; dy < scale; dy++ {
				d := dst.PixOffset(x+sx*scale, y+sy*scale+dy)
				row := dst.Pix[d : d+4*scale : d+4*scale]
				for k := 0; k < scale; k++ {
					copy(row[4*k:4*k+4], c)
				}
			}
		}
	}
}

// drawBox outlines r (clipped to the picture) one pixel wide.
func drawBox(img *image.RGBA, r image.Rectangle) {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return
	}
	for x := r.Min.X; x < r.Max.X; x++ {
		img.SetRGBA(x, r.Min.Y, gridBoxInk)
		img.SetRGBA(x, r.Max.Y-1, gridBoxInk)
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		img.SetRGBA(r.Min.X, y, gridBoxInk)
		img.SetRGBA(r.Max.X-1, y, gridBoxInk)
	}
}

// textWidth is the width of s in the grid's fixed-width font.
func textWidth(s string) int { return len([]rune(s)) * gridFace.Advance }

// drawText writes s with its baseline at y, cut to fit maxW pixels.
func drawText(img *image.RGBA, x, y int, s string, maxW int) {
	if s == "" {
		return
	}
	r := []rune(s)
	if fit := maxW / gridFace.Advance; len(r) > fit {
		if fit <= 1 {
			return
		}
		r = append(r[:fit-1], '~')
	}
	d := font.Drawer{Dst: img, Src: image.NewUniform(gridInk), Face: gridFace, Dot: fixed.P(x, y)}
	d.DrawString(string(r))
}
