package embed

import (
	"bytes"
	"errors"
	"fmt"
	"image"
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
