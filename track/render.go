package track

import (
	"image"
	"image/color"
	"image/gif"
	"io"

	"selfsup/data"
	"selfsup/internal/atomicfile"
)

// overlayAlpha is how strongly a mask's colour covers the frame.
const overlayAlpha = 0.5

// Overlay draws a frame enlarged scale times with its mask over it: each
// object's pixels tinted with its DAVIS palette colour, its boundary in the
// full colour, and keypoints as white-edged crosses of their object's
// colour.
func Overlay(frame data.Image, mask []uint8, kps []data.Keypoint, scale int) *image.NRGBA {
	scale = max(1, scale)
	h, w := frame.H, frame.W
	pal := data.MaskPalette()
	base := data.FrameImage(frame)
	border := make([]bool, h*w)
	for y := range h {
		for x := range w {
			id := mask[y*w+x]
			if id == 0 {
				continue
			}
			for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				xx, yy := x+d[0], y+d[1]
				if xx < 0 || yy < 0 || xx >= w || yy >= h || mask[yy*w+xx] != id {
					border[y*w+x] = true
				}
			}
		}
	}
	out := image.NewNRGBA(image.Rect(0, 0, w*scale, h*scale))
	for y := range h * scale {
		for x := range w * scale {
			sx, sy := x/scale, y/scale
			i := sy*w + sx
			c := base.NRGBAAt(sx, sy)
			if id := mask[i]; id != 0 {
				p := pal[id].(color.NRGBA)
				a := overlayAlpha
				if border[i] {
					a = 1
				}
				c.R = uint8(float64(c.R)*(1-a) + float64(p.R)*a + 0.5)
				c.G = uint8(float64(c.G)*(1-a) + float64(p.G)*a + 0.5)
				c.B = uint8(float64(c.B)*(1-a) + float64(p.B)*a + 0.5)
			}
			out.SetNRGBA(x, y, c)
		}
	}
	for _, kp := range kps {
		cx, cy := int(kp.X*float64(scale)), int(kp.Y*float64(scale))
		p := pal[kp.ID%256].(color.NRGBA)
		arm := max(2, scale)
		for d := -arm - 1; d <= arm+1; d++ {
			for _, q := range [2][2]int{{cx + d, cy}, {cx, cy + d}} { // a white cross under the coloured one
				if image.Pt(q[0], q[1]).In(out.Bounds()) {
					out.SetNRGBA(q[0], q[1], color.NRGBA{255, 255, 255, 255})
				}
			}
		}
		for d := -arm; d <= arm; d++ {
			for _, q := range [2][2]int{{cx + d, cy}, {cx, cy + d}} {
				if image.Pt(q[0], q[1]).In(out.Bounds()) {
					out.SetNRGBA(q[0], q[1], p)
				}
			}
		}
	}
	return out
}

// gifLevels are the levels of red, green and blue in the GIF palette: a
// 6x7x6 colour cube (252 colours), with more greens, to which the eye is
// most sensitive.
var gifLevels = [3]int{6, 7, 6}

// gifPalette is the colour cube, index (r*7 + g)*6 + b.
var gifPalette = func() color.Palette {
	var p color.Palette
	for r := range gifLevels[0] {
		for g := range gifLevels[1] {
			for b := range gifLevels[2] {
				p = append(p, color.NRGBA{cubeLevel(r, 0), cubeLevel(g, 1), cubeLevel(b, 2), 255})
			}
		}
	}
	return p
}()

// cubeLevel is the 8-bit value of level i of channel ch.
func cubeLevel(i, ch int) uint8 { return uint8((i*255 + (gifLevels[ch]-1)/2) / (gifLevels[ch] - 1)) }

// bayer4 is the 4x4 ordered-dithering matrix.
var bayer4 = [4][4]float64{{0, 8, 2, 10}, {12, 4, 14, 6}, {3, 11, 1, 9}, {15, 7, 13, 5}}

// gifFrame maps an image to the colour cube with ordered dithering: a
// constant number of operations per pixel, so long videos encode quickly.
func gifFrame(f *image.NRGBA) *image.Paletted {
	b := f.Bounds()
	p := image.NewPaletted(b, gifPalette)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := f.NRGBAAt(x, y)
			d := (bayer4[y&3][x&3]+0.5)/16 - 0.5
			var idx [3]int
			for ch, v := range [3]uint8{c.R, c.G, c.B} {
				n := gifLevels[ch] - 1
				idx[ch] = min(n, max(0, int(float64(v)*float64(n)/255+d+0.5)))
			}
			p.Pix[(y-b.Min.Y)*p.Stride+(x-b.Min.X)] = uint8((idx[0]*gifLevels[1]+idx[1])*gifLevels[2] + idx[2])
		}
	}
	return p
}

// WriteGIF writes frames as an animated GIF (atomically), delay hundredths
// of a second apart, looping; colours are reduced to a 252-colour cube with
// ordered dithering.
func WriteGIF(path string, frames []*image.NRGBA, delay int) error {
	g := &gif.GIF{LoopCount: 0}
	for _, f := range frames {
		g.Image = append(g.Image, gifFrame(f))
		g.Delay = append(g.Delay, delay)
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return gif.EncodeAll(w, g) })
}
