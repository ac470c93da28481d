package data

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"io"
)

// maxGIFPixels bounds the pixels of all frames of one GIF together, so that
// a small hostile file announcing thousands of large frames cannot exhaust
// memory (2^27 pixels are 1.5 GiB of float32 RGB).
const maxGIFPixels = 1 << 27

// DecodeGIF decodes every frame of an animated GIF as an RGB image of the
// logical screen's size, as a browser shows it: each frame is drawn over the
// previous picture (its transparent pixels let that show through), then
// disposed of as the file says (kept, cleared to the transparent
// background, or restored to what was there before). Pixels never painted
// are black.
func DecodeGIF(r io.Reader) ([]Image, error) {
	g, err := gif.DecodeAll(r)
	if err != nil {
		return nil, err
	}
	if len(g.Image) == 0 {
		return nil, errors.New("the GIF holds no frames")
	}
	w, h := g.Config.Width, g.Config.Height
	if w <= 0 || h <= 0 {
		b := g.Image[0].Bounds()
		for _, f := range g.Image[1:] {
			b = b.Union(f.Bounds())
		}
		w, h = b.Max.X, b.Max.Y
	}
	if w <= 0 || h <= 0 || int64(w)*int64(h)*int64(len(g.Image)) > maxGIFPixels {
		return nil, fmt.Errorf("unsupported GIF: %d frames of %dx%d", len(g.Image), w, h)
	}
	canvas := image.NewRGBA(image.Rect(0, 0, w, h))
	saved := image.NewRGBA(canvas.Bounds())
	frames := make([]Image, 0, len(g.Image))
	for i, f := range g.Image {
		var disposal byte
		if i < len(g.Disposal) {
			disposal = g.Disposal[i]
		}
		if disposal == gif.DisposalPrevious {
			copy(saved.Pix, canvas.Pix)
		}
		draw.Draw(canvas, f.Bounds(), f, f.Bounds().Min, draw.Over)
		out := NewImage(3, h, w)
		toRGB(canvas, out)
		frames = append(frames, out)
		switch disposal {
		case gif.DisposalBackground:
			draw.Draw(canvas, f.Bounds(), image.NewUniform(color.Transparent), image.Point{}, draw.Src)
		case gif.DisposalPrevious:
			copy(canvas.Pix, saved.Pix)
		}
	}
	return frames, nil
}
