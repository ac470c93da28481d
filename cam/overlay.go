package cam

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"selfsup/data"
)

// Jet maps t in [0, 1] to the "jet" colour map the Grad-CAM papers and
// OpenCV's COLORMAP_JET use: dark blue (0) through cyan, yellow to dark red
// (1). Values outside [0, 1] are clamped.
func Jet(t float32) color.NRGBA {
	t = min(max(t, 0), 1)
	ch := func(c float32) uint8 {
		v := min(max(1.5-float32(math.Abs(float64(4*t-c))), 0), 1)
		return uint8(v*255 + 0.5)
	}
	return color.NRGBA{R: ch(3), G: ch(2), B: ch(1), A: 255}
}

// ImageRGBA converts a data.Image (values in [0, 1]) to an RGBA picture:
// one channel is drawn as grey, three as RGB; of other channel counts the
// first is drawn as grey.
func ImageRGBA(img data.Image) (*image.RGBA, error) {
	if img.C <= 0 || img.H <= 0 || img.W <= 0 || len(img.Pix) != img.C*img.H*img.W {
		return nil, fmt.Errorf("cam: image of %dx%dx%d with %d values", img.C, img.H, img.W, len(img.Pix))
	}
	out := image.NewRGBA(image.Rect(0, 0, img.W, img.H))
	n := img.H * img.W
	for p := 0; p < n; p++ {
		r := toByte(img.Pix[p])
		g, b := r, r
		if img.C == 3 {
			g, b = toByte(img.Pix[n+p]), toByte(img.Pix[2*n+p])
		}
		o := 4 * p
		out.Pix[o], out.Pix[o+1], out.Pix[o+2], out.Pix[o+3] = r, g, b, 255
	}
	return out, nil
}

func toByte(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(v*255 + 0.5)
}

// Overlay blends the map's jet colours over the image: each pixel is
// (1 - alpha) * image + alpha * Jet(map). alpha is clamped to [0, 1]. The
// map must have the image's size.
func Overlay(img data.Image, m Map, alpha float64) (*image.RGBA, error) {
	if m.H != img.H || m.W != img.W || len(m.Values) != m.H*m.W {
		return nil, fmt.Errorf("cam: a %dx%d map does not fit a %dx%d image", m.H, m.W, img.H, img.W)
	}
	out, err := ImageRGBA(img)
	if err != nil {
		return nil, err
	}
	a := float32(min(max(alpha, 0), 1))
	for p, v := range m.Values {
		c := Jet(v)
		o := 4 * p
		px := out.Pix[o : o+3 : o+3]
		px[0] = blend(px[0], c.R, a)
		px[1] = blend(px[1], c.G, a)
		px[2] = blend(px[2], c.B, a)
	}
	return out, nil
}

func blend(under, over uint8, a float32) uint8 {
	return uint8((1-a)*float32(under) + a*float32(over) + 0.5)
}
