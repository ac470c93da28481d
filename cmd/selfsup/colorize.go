package main

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	imgcolor "image/color"
	_ "image/gif" // decoders for the input images
	_ "image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"selfsup/color"
	"selfsup/internal/atomicfile"
	"selfsup/methods"
	"selfsup/tensor"
)

func init() {
	register("colorize", "colourise images with a colorization checkpoint", runColorize)
}

const colorizeUsage = `
Usage: selfsup colorize --ckpt DIR [--out DIR] [--grid grid.png] [--temperature T] IMAGE...

Colourises PNG, JPEG or GIF images with a colorization checkpoint (pretrain
--method colorization). Each image's lightness L (CIE Lab) is resized to the
model's image size, the model predicts the colour channels a and b on its
output grid (the annealed mean of the predicted bin distribution for the
classification variant), and the prediction is upsampled bilinearly to the
image's own resolution and combined with its full-resolution L, as the paper
does. Only the lightness of the inputs is used, so colour photos and grey
images alike work. The result is written as NAME_colorized.png next to each
input, or into --out DIR. --grid also writes one PNG with a row per image:
grey input | colourised | original.

Prints, per image, the mean ab error of the colourised image against the
input's own colours (in Lab units; meaningless for grey inputs).

Examples:
  selfsup pretrain --data synthetic:shapes --method colorization --epochs 20 --out runs/color
  selfsup colorize --ckpt runs/color photo.jpg
  selfsup colorize --ckpt runs/color --out colourised --grid grid.png a.png b.png
  selfsup colorize --ckpt runs/color --temperature 0.2 photo.png
`

func runColorize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("colorize", colorizeUsage, stderr)
	ckpt := fs.String("ckpt", "", "colorization checkpoint (a run directory or one of its step directories)")
	outDir := fs.String("out", "", "folder for the colourised images (default: next to each input)")
	grid := fs.String("grid", "", "also write a PNG grid: grey | colourised | original, one row per image")
	temp := fs.Float64("temperature", 0, "annealed-mean temperature (0: the checkpoint's, 0.38 by default; classification only)")
	// flags and images may be interleaved
	var inputs []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		inputs = append(inputs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case *ckpt == "":
		return usageError("--ckpt is required")
	case len(inputs) == 0:
		return usageError("no images given (selfsup colorize --ckpt DIR IMAGE...)")
	case *grid != "" && !strings.HasSuffix(strings.ToLower(*grid), ".png"):
		return usageError("--grid %s: the grid is written as PNG; name the file *.png", *grid)
	case *temp < 0:
		return usageError("--temperature %v must not be negative", *temp)
	}
	outs, err := colorizedNames(inputs, *outDir)
	if err != nil {
		return err
	}
	m, ck, err := methods.Load(*ckpt)
	if err != nil {
		return err
	}
	col, ok := m.(*methods.Colorization)
	if !ok {
		return fmt.Errorf("checkpoint %s is a %s checkpoint; colorize needs a colorization one (pretrain --method colorization)", ck.Dir, ck.Method)
	}
	if *temp > 0 {
		if col.P.Variant != "classification" {
			return usageError("--temperature applies to the classification variant; %s is a %s model", ck.Dir, col.P.Variant)
		}
		col.P.Temperature = *temp
	}
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return err
		}
	}
	var rows []colorizeRow
	for i, path := range inputs {
		src, err := readColorizeInput(path)
		if err != nil {
			return err
		}
		res, err := colorizeImage(col, src)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := writePlanesPNG(outs[i], res.colour); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s -> %s (%dx%d, mean ab error against the input's colours %.1f)\n",
			path, outs[i], src.w, src.h, res.abError)
		if *grid != "" {
			rows = append(rows, colorizeRow{res.grey, res.colour, src})
		}
	}
	if *grid != "" {
		if err := writeColorizePNG(*grid, colorizeGrid(rows)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: %d rows of grey | colourised | original\n", *grid, len(rows))
	}
	return nil
}

// colorizedNames returns the output file of each input: NAME_colorized.png
// beside it or in outDir; two inputs may not map to one output.
func colorizedNames(inputs []string, outDir string) ([]string, error) {
	outs := make([]string, len(inputs))
	seen := map[string]string{}
	for i, in := range inputs {
		base := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in)) + "_colorized.png"
		dir := filepath.Dir(in)
		if outDir != "" {
			dir = outDir
		}
		outs[i] = filepath.Join(dir, base)
		if prev, ok := seen[outs[i]]; ok {
			return nil, usageError("%s and %s would both be written to %s (rename one, or colourise them separately)", prev, in, outs[i])
		}
		seen[outs[i]] = in
	}
	return outs, nil
}

// rgbPlanes is a float image in CHW layout with values in [0, 1].
type rgbPlanes struct {
	c, h, w int
	pix     []float32
}

// readColorizeInput decodes an image file as RGB planes.
func readColorizeInput(path string) (rgbPlanes, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return rgbPlanes{}, fmt.Errorf("%s: %w", path, err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return rgbPlanes{}, fmt.Errorf("%s: not a PNG, JPEG or GIF image (%v)", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > 64<<20 {
		return rgbPlanes{}, fmt.Errorf("%s: unsupported image size %dx%d", path, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return rgbPlanes{}, fmt.Errorf("%s: %v", path, err)
	}
	b := img.Bounds()
	p := rgbPlanes{c: 3, h: b.Dy(), w: b.Dx(), pix: make([]float32, 3*b.Dx()*b.Dy())}
	n := p.h * p.w
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			c := imgcolor.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(imgcolor.NRGBA64)
			o := y*p.w + x
			p.pix[o], p.pix[n+o], p.pix[2*n+o] = float32(c.R)/65535, float32(c.G)/65535, float32(c.B)/65535
		}
	}
	return p, nil
}

// colorized is one image's result: its lightness as grey, the colourised
// image, and the mean ab distance between them and the input's colours.
type colorized struct {
	grey, colour rgbPlanes
	abError      float64
}

// colorizeImage predicts the colours of src: its L at the model's size goes
// through the network; the ab grid is upsampled to src's size and joined
// with src's own L.
func colorizeImage(m *methods.Colorization, src rgbPlanes) (colorized, error) {
	s := m.ImageSize()
	small := resizePlanes(src, s, s)
	ab, err := m.PredictAB(tensor.FromData(small.pix, 1, 3, s, s))
	if err != nil {
		return colorized{}, err
	}
	g := m.Grid()
	full := resizePlanes(rgbPlanes{c: 2, h: g, w: g, pix: ab.Data}, src.h, src.w)
	n := src.h * src.w
	lab := make([]float32, 3*n)
	if err := color.RGBToLabPlanar(lab, src.pix, n); err != nil {
		return colorized{}, err
	}
	var errSum float64
	for i := range n {
		da, db := float64(full.pix[i]-lab[n+i]), float64(full.pix[n+i]-lab[2*n+i])
		errSum += math.Sqrt(da*da + db*db)
	}
	predLab := make([]float32, 3*n)
	greyLab := make([]float32, 3*n)
	copy(predLab[:n], lab[:n])
	copy(predLab[n:], full.pix)
	copy(greyLab[:n], lab[:n])
	out := colorized{grey: rgbPlanes{c: 3, h: src.h, w: src.w, pix: make([]float32, 3*n)},
		colour: rgbPlanes{c: 3, h: src.h, w: src.w, pix: make([]float32, 3*n)}, abError: errSum / float64(n)}
	if err := color.LabToRGBPlanar(out.colour.pix, predLab, n); err != nil {
		return colorized{}, err
	}
	if err := color.LabToRGBPlanar(out.grey.pix, greyLab, n); err != nil {
		return colorized{}, err
	}
	return out, nil
}

// resizePlanes resamples every plane of p to oh x ow with a triangle filter
// (PIL's bilinear resize): bilinear interpolation with half-pixel centres
// when enlarging, and a filter widened by the scale factor when shrinking
// so that small outputs do not alias.
func resizePlanes(p rgbPlanes, oh, ow int) rgbPlanes {
	if p.h == oh && p.w == ow {
		return rgbPlanes{c: p.c, h: oh, w: ow, pix: append([]float32(nil), p.pix...)}
	}
	ty, tx := triangleTaps(p.h, oh), triangleTaps(p.w, ow)
	tmp := make([]float32, p.h*ow)
	out := rgbPlanes{c: p.c, h: oh, w: ow, pix: make([]float32, p.c*oh*ow)}
	for c := range p.c {
		src := p.pix[c*p.h*p.w : (c+1)*p.h*p.w]
		for y := range p.h {
			row := src[y*p.w : (y+1)*p.w]
			for x, t := range tx {
				var s float32
				for k, wgt := range t.w {
					s += wgt * row[t.first+k]
				}
				tmp[y*ow+x] = s
			}
		}
		dst := out.pix[c*oh*ow : (c+1)*oh*ow]
		for y, t := range ty {
			for x := range ow {
				var s float32
				for k, wgt := range t.w {
					s += wgt * tmp[(t.first+k)*ow+x]
				}
				dst[y*ow+x] = s
			}
		}
	}
	return out
}

// resizeTaps are the input samples (from first) and weights of one output
// sample.
type resizeTaps struct {
	first int
	w     []float32
}

// triangleTaps returns the taps of each of out samples resampled from in.
func triangleTaps(in, out int) []resizeTaps {
	scale := float64(in) / float64(out)
	support := math.Max(1, scale)
	res := make([]resizeTaps, out)
	for o := range out {
		centre := (float64(o)+0.5)*scale - 0.5
		lo := max(0, int(math.Ceil(centre-support)))
		hi := min(in-1, int(math.Floor(centre+support)))
		var ws []float32
		var sum float64
		for i := lo; i <= hi; i++ {
			wgt := math.Max(0, 1-math.Abs(float64(i)-centre)/support)
			ws = append(ws, float32(wgt))
			sum += wgt
		}
		if sum == 0 { // centre beyond the last sample: take the nearest
			lo, ws, sum = min(in-1, max(0, int(math.Round(centre)))), []float32{1}, 1
		}
		for i := range ws {
			ws[i] /= float32(sum)
		}
		res[o] = resizeTaps{first: lo, w: ws}
	}
	return res
}

// planesToNRGBA converts RGB planes to an 8-bit image.
func planesToNRGBA(p rgbPlanes) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, p.w, p.h))
	n := p.h * p.w
	for i := range n {
		for k := range 3 {
			img.Pix[4*i+k] = uint8(math.Round(255 * math.Min(1, math.Max(0, float64(p.pix[k*n+i])))))
		}
		img.Pix[4*i+3] = 255
	}
	return img
}

// writePlanesPNG writes RGB planes as a PNG file, atomically.
func writePlanesPNG(path string, p rgbPlanes) error { return writeColorizePNG(path, planesToNRGBA(p)) }

// writeColorizePNG encodes img as PNG and writes it atomically.
func writeColorizePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}

// colorizeRow is one row of the grid.
type colorizeRow struct{ grey, colour, original rgbPlanes }

// Grid layout: gaps between the images of a row and around the rows.
const (
	colorizeGap    = 4
	colorizeMargin = 10
	// colorizeMinSide is the side small images are enlarged to (nearest
	// neighbour, by a whole factor) so that 32-pixel images are visible.
	colorizeMinSide = 96
)

// colorizeGrid draws the rows (grey | colourised | original) on a dark
// background, each image enlarged by the whole factor that brings its
// shorter side to at least colorizeMinSide.
func colorizeGrid(rows []colorizeRow) image.Image {
	scales := make([]int, len(rows))
	w, h := 0, colorizeMargin
	for i, r := range rows {
		scales[i] = max(1, (colorizeMinSide+min(r.grey.h, r.grey.w)-1)/min(r.grey.h, r.grey.w))
		w = max(w, 2*colorizeMargin+3*r.grey.w*scales[i]+2*colorizeGap)
		h += r.grey.h*scales[i] + colorizeMargin
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 40, 40, 40, 255
	}
	y0 := colorizeMargin
	for i, r := range rows {
		s := scales[i]
		for k, p := range []rgbPlanes{r.grey, r.colour, r.original} {
			drawColorizeScaled(img, planesToNRGBA(p), s, colorizeMargin+k*(p.w*s+colorizeGap), y0)
		}
		y0 += r.grey.h*s + colorizeMargin
	}
	return img
}

// drawColorizeScaled paints src into dst at (x0, y0), each pixel a scale x scale
// block.
func drawColorizeScaled(dst, src *image.NRGBA, scale, x0, y0 int) {
	b := src.Bounds()
	for y := 0; y < b.Dy()*scale; y++ {
		for x := 0; x < b.Dx()*scale; x++ {
			so := src.PixOffset(x/scale, y/scale)
			do := dst.PixOffset(x0+x, y0+y)
			copy(dst.Pix[do:do+4], src.Pix[so:so+4])
		}
	}
}
