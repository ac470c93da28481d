package embed

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders used through image.Decode
	_ "image/jpeg"
	_ "image/png"
	"math/rand/v2"

	_ "golang.org/x/image/bmp" // uploads may also be BMP or WebP
	_ "golang.org/x/image/webp"

	"selfsup/data"
	"selfsup/data/augment"
)

// DefaultMaxPixels is the largest image (width x height) DecodeImage accepts
// unless told otherwise: 4096 x 4096. Decoding allocates about 16 bytes per
// pixel on the way to the model's input, so the limit bounds what one
// upload can cost.
const DefaultMaxPixels = 4096 * 4096

// ErrNotImage is wrapped by DecodeImage's error when the bytes are not an
// image in a supported format (PNG, JPEG, GIF, BMP, WebP).
var ErrNotImage = errors.New("not a supported image")

// ErrTooLarge is wrapped by DecodeImage's error when the image has more
// pixels than allowed.
var ErrTooLarge = errors.New("image too large")

// DecodeImage decodes an encoded image after checking, from its header
// alone, that it has at most maxPixels pixels (0: DefaultMaxPixels), so a
// small file announcing a huge image costs nothing. Errors wrap ErrNotImage
// or ErrTooLarge and say what was wrong.
func DecodeImage(b []byte, maxPixels int) (image.Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v (%d bytes; PNG, JPEG, GIF, BMP and WebP are accepted)", ErrNotImage, err, len(b))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %s image of size %dx%d", ErrNotImage, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, fmt.Errorf("%w: %s image of %dx%d pixels, more than the limit of %d pixels", ErrTooLarge, format, cfg.Width, cfg.Height, maxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s image: %v", ErrNotImage, format, err)
	}
	return img, nil
}

// byteToUnit maps an 8-bit sample to [0, 1] exactly as the data package
// does, so an image embedded here and the same file read from a folder
// dataset give the same input.
var byteToUnit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// imageToRGB converts img to a 3 x H x W float image in [0, 1], reusing
// dst's storage when it is large enough. It follows the folder datasets of
// package data (which keep their converter private): grayscale is
// replicated, palette images expanded, alpha dropped with the stored colour
// kept (as PIL's convert("RGB")), premultiplied RGBA un-premultiplied.
func imageToRGB(img image.Image, dst data.Image) data.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	if cap(dst.Pix) < 3*plane {
		dst.Pix = make([]float32, 3*plane)
	}
	dst = data.Image{C: 3, H: h, W: w, Pix: dst.Pix[:3*plane]}
	R, G, B := dst.Pix[:plane], dst.Pix[plane:2*plane], dst.Pix[2*plane:]
	switch m := img.(type) {
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				o := y*w + x
				R[o], G[o], B[o] = byteToUnit[r], byteToUnit[g], byteToUnit[bb]
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, v := range row {
				o := y*w + x
				R[o], G[o], B[o] = byteToUnit[v], byteToUnit[v], byteToUnit[v]
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				o := y*w + x
				R[o], G[o], B[o] = byteToUnit[row[4*x]], byteToUnit[row[4*x+1]], byteToUnit[row[4*x+2]]
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				o := y*w + x
				r, g, bb, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				switch a {
				case 255:
					R[o], G[o], B[o] = byteToUnit[r], byteToUnit[g], byteToUnit[bb]
				case 0:
					R[o], G[o], B[o] = 0, 0, 0
				default: // un-premultiply
					fa := float32(a)
					R[o], G[o], B[o] = float32(r)/fa, float32(g)/fa, float32(bb)/fa
				}
			}
		}
	case *image.Paletted:
		var pal [256][3]float32
		for k, c := range m.Palette {
			if k == 256 {
				break
			}
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[k] = [3]float32{byteToUnit[n.R], byteToUnit[n.G], byteToUnit[n.B]}
		}
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, v := range row {
				o := y*w + x
				R[o], G[o], B[o] = pal[v][0], pal[v][1], pal[v][2]
			}
		}
	default: // 16-bit PNG, CMYK JPEG, ...: slow but general
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				n := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				o := y*w + x
				R[o], G[o], B[o] = float32(n.R)/65535, float32(n.G)/65535, float32(n.B)/65535
			}
		}
	}
	return dst
}

// singleImage is a one-image dataset, so that one uploaded image goes
// through data.Resized: the very resampler image folders use.
type singleImage struct{ img data.Image }

func (s singleImage) Name() string         { return "image" }
func (s singleImage) Len() int             { return 1 }
func (s singleImage) Label(int) int        { return -1 }
func (s singleImage) Classes() []string    { return nil }
func (s singleImage) Shape() (c, h, w int) { return s.img.C, s.img.H, s.img.W }
func (s singleImage) Image(i int, dst data.Image) (data.Image, error) {
	if i != 0 {
		return dst, fmt.Errorf("image: index %d out of range [0, 1)", i)
	}
	n := len(s.img.Pix)
	if cap(dst.Pix) < n {
		dst.Pix = make([]float32, n)
	}
	dst = data.Image{C: s.img.C, H: s.img.H, W: s.img.W, Pix: dst.Pix[:n]}
	copy(dst.Pix, s.img.Pix)
	return dst, nil
}

// Channels is an augment.Transform that converts images to C channels:
// three to one by the ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B (what PIL's
// convert("L") computes and augment's grayscale uses), one to three by
// replication. Images that already have C channels are copied. It lets an
// encoder trained on grayscale MNIST embed colour photos and the reverse.
type Channels struct{ C int }

// Apply converts src into dst's storage.
func (t Channels) Apply(dst, src data.Image, _ *rand.Rand) data.Image {
	plane := src.H * src.W
	n := t.C * plane
	if cap(dst.Pix) < n {
		dst.Pix = make([]float32, n)
	}
	dst = data.Image{C: t.C, H: src.H, W: src.W, Pix: dst.Pix[:n]}
	switch {
	case src.C == t.C:
		copy(dst.Pix, src.Pix)
	case src.C == 3 && t.C == 1:
		r, g, b := src.Pix[:plane], src.Pix[plane:2*plane], src.Pix[2*plane:3*plane]
		for i := range dst.Pix {
			dst.Pix[i] = augment.LumaR*r[i] + augment.LumaG*g[i] + augment.LumaB*b[i]
		}
	case src.C == 1 && t.C == 3:
		copy(dst.Pix[:plane], src.Pix)
		copy(dst.Pix[plane:2*plane], src.Pix)
		copy(dst.Pix[2*plane:], src.Pix)
	default:
		panic(fmt.Sprintf("embed.Channels: cannot convert %d channels to %d", src.C, t.C)) // OutShape rejects this first
	}
	return dst
}

// OutShape reports C x h x w, or an error for channel counts it cannot
// convert (only 1 <-> 3 and identity are defined).
func (t Channels) OutShape(c, h, w int) (int, int, int, error) {
	if c != 0 && c != t.C && !(c == 3 && t.C == 1) && !(c == 1 && t.C == 3) {
		return 0, 0, 0, fmt.Errorf("cannot convert %d-channel images to %d channels (only gray <-> RGB)", c, t.C)
	}
	return t.C, h, w, nil
}

// String names the transform.
func (t Channels) String() string { return fmt.Sprintf("Channels(%d)", t.C) }
