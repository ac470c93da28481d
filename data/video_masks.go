package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"selfsup/internal/atomicfile"
)

// Instance masks are stored as DAVIS stores them: one PNG per frame, named
// after the frame, whose pixel values are object ids (0 for the
// background), written as indexed PNGs with the PASCAL VOC / DAVIS palette
// so that they also look right in an image viewer. Keypoints go to one JSON
// file per video next to the masks.

// KeypointsFile is the name of the keypoints file in a video's mask folder.
const KeypointsFile = "keypoints.json"

// MaskPalette returns the PASCAL VOC / DAVIS palette: entry i is the colour
// of object id i (0 black, 1 dark red, 2 dark green, ...), built by spreading
// the bits of i over the high bits of red, green and blue.
func MaskPalette() color.Palette {
	p := make(color.Palette, 256)
	for i := range 256 {
		var r, g, b uint8
		c := i
		for j := 7; j >= 0; j-- {
			r |= uint8(c&1) << j
			g |= uint8(c>>1&1) << j
			b |= uint8(c>>2&1) << j
			c >>= 3
		}
		p[i] = color.NRGBA{r, g, b, 255}
	}
	return p
}

// DecodeMask decodes a mask image into object ids: the palette index of an
// indexed image, the grey level of a grey image, and for RGB images either
// the grey level (when every pixel is grey) or the index of the pixel's
// colour in MaskPalette (masks saved in the DAVIS colours without their
// palette). Any other colour is an error, since its id cannot be known.
func DecodeMask(r io.Reader) (ids []uint8, h, w int, err error) {
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, 0, 0, err
	}
	b := img.Bounds()
	h, w = b.Dy(), b.Dx()
	if w <= 0 || h <= 0 || int64(w)*int64(h) > maxFolderPixels {
		return nil, 0, 0, fmt.Errorf("unsupported mask size %dx%d", w, h)
	}
	ids = make([]uint8, w*h)
	switch m := img.(type) {
	case *image.Paletted:
		for y := range h {
			copy(ids[y*w:(y+1)*w], m.Pix[y*m.Stride:y*m.Stride+w])
		}
		return ids, h, w, nil
	case *image.Gray:
		for y := range h {
			copy(ids[y*w:(y+1)*w], m.Pix[y*m.Stride:y*m.Stride+w])
		}
		return ids, h, w, nil
	case *image.Gray16:
		for y := range h {
			for x := range w {
				v := int(m.Pix[y*m.Stride+2*x])<<8 | int(m.Pix[y*m.Stride+2*x+1])
				if v > 255 {
					return nil, 0, 0, fmt.Errorf("16-bit mask value %d at (%d, %d): object ids must lie in [0, 255]", v, x, y)
				}
				ids[y*w+x] = uint8(v)
			}
		}
		return ids, h, w, nil
	}
	pal := MaskPalette()
	index := make(map[color.NRGBA]uint8, 256)
	for i := len(pal) - 1; i >= 0; i-- {
		index[pal[i].(color.NRGBA)] = uint8(i)
	}
	grey := true
	for y := range h {
		for x := range w {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			if c.R != c.G || c.G != c.B {
				grey = false
			}
			ids[y*w+x] = c.R
		}
	}
	if grey {
		return ids, h, w, nil
	}
	for y := range h {
		for x := range w {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			c.A = 255
			id, ok := index[c]
			if !ok {
				return nil, 0, 0, fmt.Errorf("colour (%d, %d, %d) at (%d, %d) is no object id: save masks as indexed PNGs, grey levels, or in the DAVIS palette colours", c.R, c.G, c.B, x, y)
			}
			ids[y*w+x] = id
		}
	}
	return ids, h, w, nil
}

// ReadMask reads a mask file (see DecodeMask); errors name the file.
func ReadMask(path string) (ids []uint8, h, w int, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, &ImageError{Path: path, Err: unwrapPathError(err)}
	}
	ids, h, w, err = DecodeMask(bytes.NewReader(raw))
	if err != nil {
		return nil, 0, 0, &ImageError{Path: path, Err: err}
	}
	return ids, h, w, nil
}

// MaskImage returns object ids (h*w values, row by row) as an indexed image
// in MaskPalette's colours.
func MaskImage(ids []uint8, h, w int) *image.Paletted {
	m := image.NewPaletted(image.Rect(0, 0, w, h), MaskPalette())
	for y := range h {
		copy(m.Pix[y*m.Stride:y*m.Stride+w], ids[y*w:(y+1)*w])
	}
	return m
}

// WriteMask writes object ids as an indexed PNG (atomically).
func WriteMask(path string, ids []uint8, h, w int) error {
	if len(ids) != h*w {
		return fmt.Errorf("write %s: %d mask values for a %dx%d mask", path, len(ids), w, h)
	}
	return atomicfile.Write(path, 0o644, func(wr io.Writer) error { return png.Encode(wr, MaskImage(ids, h, w)) })
}

// FrameImage converts an RGB (or grey) Image to an 8-bit image, rounding
// values clamped to [0, 1].
func FrameImage(img Image) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, img.W, img.H))
	plane := img.H * img.W
	for i := range plane {
		for ch := range 3 {
			src := ch
			if img.C < 3 {
				src = 0
			}
			v := img.Pix[src*plane+i]
			out.Pix[4*i+ch] = uint8(min(1, max(0, v))*255 + 0.5)
		}
		out.Pix[4*i+3] = 255
	}
	return out
}

// WriteFrames writes a video's frames as PNG files named after FrameNames
// into dir (created when missing).
func WriteFrames(dir string, v Video) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for t, f := range v.Frames {
		p := filepath.Join(dir, v.FrameNames[t]+".png")
		if err := atomicfile.Write(p, 0o644, func(w io.Writer) error { return png.Encode(w, FrameImage(f)) }); err != nil {
			return err
		}
	}
	return nil
}

// keypointsJSON is the keypoints file: the keypoints of each frame, keyed
// by frame name.
type keypointsJSON struct {
	Frames map[string][]Keypoint `json:"frames"`
}

// WriteGroundTruth writes a video's masks (one indexed PNG per frame that
// has one, named after the frame) and keypoints (KeypointsFile, when the
// video has any) into dir, created when missing.
func WriteGroundTruth(dir string, v Video) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	h, w := v.Size()
	for t, m := range v.Masks {
		if m == nil {
			continue
		}
		if err := WriteMask(filepath.Join(dir, v.FrameNames[t]+".png"), m, h, w); err != nil {
			return err
		}
	}
	if v.Keypoints == nil {
		return nil
	}
	kp := keypointsJSON{Frames: map[string][]Keypoint{}}
	for t, k := range v.Keypoints {
		if k != nil {
			kp.Frames[v.FrameNames[t]] = k
		}
	}
	raw, err := json.MarshalIndent(kp, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, KeypointsFile), append(raw, '\n'), 0o644)
}

// ReadGroundTruth reads the masks and keypoints of video v from dir: the
// mask of frame NAME is dir/NAME.png (frames without one get none), the
// keypoints come from dir/keypoints.json when present. A mask whose size is
// not the frame's, a mask that does not decode, or a folder in which no mask
// matches any frame name is an error naming the file or folder. It returns
// the number of masks read.
func ReadGroundTruth(dir string, v *Video) (int, error) {
	ents, err := listDir(dir)
	if err != nil {
		return 0, &VideoError{Path: dir, Err: unwrapPathError(err)}
	}
	files := map[string]string{}
	var pngs []string
	for _, e := range ents {
		if !e.isDir && strings.EqualFold(filepath.Ext(e.name), ".png") {
			files[frameName(e.name)] = filepath.Join(dir, e.name)
			pngs = append(pngs, e.name)
		}
	}
	h, w := v.Size()
	v.Masks = make([][]uint8, len(v.Frames))
	n := 0
	for t, name := range v.FrameNames {
		p, ok := files[name]
		if !ok {
			continue
		}
		ids, mh, mw, err := ReadMask(p)
		if err != nil {
			return 0, err
		}
		if mh != h || mw != w {
			return 0, &VideoError{Path: p, Err: fmt.Errorf("mask is %dx%d (width x height), but frame %s of video %s is %dx%d", mw, mh, name, v.Name, w, h)}
		}
		v.Masks[t] = ids
		n++
	}
	if n == 0 {
		v.Masks = nil
		sort.Strings(pngs)
		if len(pngs) > 3 {
			pngs = append(pngs[:3], "...")
		}
		first := ""
		if len(v.FrameNames) > 0 {
			first = v.FrameNames[0]
		}
		return 0, &VideoError{Path: dir, Err: fmt.Errorf("no mask matches a frame of video %s (the mask of frame %s would be %s.png; found: %s)",
			v.Name, first, first, strings.Join(pngs, ", "))}
	}
	raw, err := os.ReadFile(filepath.Join(dir, KeypointsFile))
	if errors.Is(err, os.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return 0, &VideoError{Path: filepath.Join(dir, KeypointsFile), Err: unwrapPathError(err)}
	}
	var kp keypointsJSON
	if err := json.Unmarshal(raw, &kp); err != nil {
		return 0, &VideoError{Path: filepath.Join(dir, KeypointsFile), Err: err}
	}
	v.Keypoints = make([][]Keypoint, len(v.Frames))
	for t, name := range v.FrameNames {
		v.Keypoints[t] = kp.Frames[name]
	}
	return n, nil
}
