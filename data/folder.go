package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders used through image.Decode
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Image file extensions a folder dataset picks up (compared case-insensitively).
var imageExts = []string{".jpg", ".jpeg", ".png", ".gif"}

// maxFolderPixels rejects images whose header announces more pixels than
// this, so that one hostile file cannot exhaust memory.
const maxFolderPixels = 1 << 26

// maxFolderDepth bounds recursion into class folders (and symlink loops).
const maxFolderDepth = 32

// ImageError reports an image file that could not be read or decoded.
type ImageError struct {
	Path string // the file
	Err  error  // what went wrong
}

// Error returns "path: problem".
func (e *ImageError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ImageError) Unwrap() error { return e.Err }

// folder is a dataset of image files listed at open time and decoded on
// demand. Every image is returned as RGB (C=3), whatever its stored format:
// grayscale is replicated to three channels, palette images are expanded,
// and alpha is dropped (the stored colour is kept, as PIL's convert("RGB")
// does). Sizes may differ between images, so Shape is zeros.
type folder struct {
	name    string
	paths   []string
	labels  []int16 // nil when unlabeled
	classes []string
}

// The Dataset methods of folder; see Dataset for their contracts.
func (f *folder) Name() string         { return f.name }
func (f *folder) Len() int             { return len(f.paths) }
func (f *folder) Classes() []string    { return f.classes }
func (f *folder) Shape() (c, h, w int) { return 0, 0, 0 }
func (f *folder) Path(i int) string    { return f.paths[i] }

func (f *folder) Label(i int) int {
	if f.labels == nil {
		return -1
	}
	return int(f.labels[i])
}

// Image reads and decodes image i. A file that cannot be read or decoded
// gives an *ImageError naming it.
func (f *folder) Image(i int, dst Image) (Image, error) {
	if i < 0 || i >= len(f.paths) {
		return dst, fmt.Errorf("%s: image index %d out of range [0, %d)", f.name, i, len(f.paths))
	}
	p := f.paths[i]
	raw, err := os.ReadFile(p)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return dst, &ImageError{Path: p, Err: err}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return dst, &ImageError{Path: p, Err: err}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxFolderPixels {
		return dst, &ImageError{Path: p, Err: fmt.Errorf("unsupported image size %dx%d", cfg.Width, cfg.Height)}
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return dst, &ImageError{Path: p, Err: err}
	}
	b := img.Bounds()
	dst = ensureImage(dst, 3, b.Dy(), b.Dx())
	toRGB(img, dst)
	return dst, nil
}

// FromImage converts a decoded image to a 3 x H x W float image in [0, 1]
// exactly as the folder datasets do (grayscale replicated, palettes
// expanded, alpha dropped keeping the stored colour, premultiplied RGBA
// un-premultiplied), reusing dst's storage when it is large enough. Code
// that embeds images outside a dataset (a server) uses it so the same file
// gives the same input either way.
func FromImage(img image.Image, dst Image) Image {
	b := img.Bounds()
	n := 3 * b.Dx() * b.Dy()
	if cap(dst.Pix) < n {
		dst.Pix = make([]float32, n)
	}
	dst = Image{C: 3, H: b.Dy(), W: b.Dx(), Pix: dst.Pix[:n]}
	toRGB(img, dst)
	return dst
}

// toRGB writes img into dst (3 x H x W, matching img's bounds) as float32
// values in [0, 1], with fast paths for the types the decoders return.
func toRGB(img image.Image, dst Image) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	R, G, B := dst.Pix[:plane], dst.Pix[plane:2*plane], dst.Pix[2*plane:3*plane]
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
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				o := y*w + x
				R[o], G[o], B[o] = byteToUnit[v], byteToUnit[v], byteToUnit[v]
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				o := y*w + x
				R[o], G[o], B[o] = byteToUnit[row[4*x]], byteToUnit[row[4*x+1]], byteToUnit[row[4*x+2]]
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				o := y*w + x
				r, g, bb, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				if a == 255 {
					R[o], G[o], B[o] = byteToUnit[r], byteToUnit[g], byteToUnit[bb]
				} else if a == 0 {
					R[o], G[o], B[o] = 0, 0, 0
				} else { // un-premultiply
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
			row := m.Pix[y*m.Stride : y*m.Stride+w]
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
}

// isImageFile reports whether name has one of the image extensions and is
// not hidden (macOS "._x.jpg" resource forks and the like are skipped).
func isImageFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range imageExts {
		if ext == e {
			return true
		}
	}
	return false
}

// dirEntry is one non-hidden entry of a folder with symlinks resolved.
type dirEntry struct {
	name  string
	isDir bool
}

// listDir returns the non-hidden entries of dir sorted by name, following
// symbolic links to decide what each entry is.
func listDir(dir string) ([]dirEntry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []dirEntry
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			st, err := os.Stat(filepath.Join(dir, e.Name()))
			if err != nil {
				continue // dangling link
			}
			isDir = st.IsDir()
		} else if !isDir && !e.Type().IsRegular() {
			continue
		}
		out = append(out, dirEntry{e.Name(), isDir})
	}
	return out, nil
}

// walkImages appends the image files under dir (recursively, sorted) to out.
func walkImages(dir string, depth int, out []string) ([]string, error) {
	if depth > maxFolderDepth {
		return out, fmt.Errorf("%s: folders nested deeper than %d (symlink loop?)", dir, maxFolderDepth)
	}
	ents, err := listDir(dir)
	if err != nil {
		return out, err
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.name)
		if e.isDir {
			if out, err = walkImages(p, depth+1, out); err != nil {
				return out, err
			}
		} else if isImageFile(e.name) {
			out = append(out, p)
		}
	}
	return out, nil
}

// imagesHint is the tail of the "no images" error.
var imagesHint = "(looked for " + strings.Join(imageExts, " ") + ")"

// openFolder opens a folder of images. Layout rules:
//   - when DIR has a train, test or val sub-folder, those are the splits
//     (split "test" falls back to val); otherwise DIR is the only split,
//     opened by split "" or "train";
//   - inside a split, each sub-folder holding images (at any depth) is a
//     class, named after the sub-folder, classes sorted by name; class
//     indices are shared by all splits (the union of their class folders);
//   - a split with image files directly inside and no class folders with
//     images is unlabeled; loose files next to class folders are an error.
func openFolder(spec, dir, split string) (Dataset, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: %s is not a folder", spec, dir)
	}
	top, err := listDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	splits := map[string]string{}
	for _, e := range top {
		if e.isDir && (e.name == "train" || e.name == "test" || e.name == "val") {
			splits[e.name] = filepath.Join(dir, e.name)
		}
	}
	splitDir := dir
	if len(splits) > 0 {
		want := split
		if want == "" {
			want = "train"
		}
		d, ok := splits[want]
		if !ok && want == "test" {
			d, ok = splits["val"]
		}
		if !ok {
			var have []string
			for k := range splits {
				have = append(have, k)
			}
			sort.Strings(have)
			return nil, fmt.Errorf("%s: no %s split (sub-folders present: %s)", spec, want, strings.Join(have, ", "))
		}
		split, splitDir = want, d
	} else {
		if split != "" && split != "train" {
			return nil, fmt.Errorf("%s: no %s split: the folder has no train/test/val sub-folders, so it is one split (use split train)", spec, split)
		}
		split = "train"
	}

	ents, err := listDir(splitDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	var loose []string
	var classDirs []string
	for _, e := range ents {
		if e.isDir {
			classDirs = append(classDirs, e.name)
		} else if isImageFile(e.name) {
			loose = append(loose, filepath.Join(splitDir, e.name))
		}
	}
	f := &folder{name: spec + "/" + split}
	perClass := make([][]string, len(classDirs))
	nClassImages := 0
	for k, c := range classDirs {
		if perClass[k], err = walkImages(filepath.Join(splitDir, c), 1, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", spec, err)
		}
		nClassImages += len(perClass[k])
	}
	if nClassImages == 0 {
		if len(loose) == 0 {
			return nil, fmt.Errorf("%s: no images found %s", spec, imagesHint)
		}
		f.paths = loose
		return f, nil
	}
	if len(loose) > 0 {
		return nil, fmt.Errorf("%s: %s holds both class sub-folders and loose images (first: %s); move the loose images into a class folder or elsewhere",
			spec, splitDir, filepath.Base(loose[0]))
	}
	// Class names: the union of the class folders of every split, so that
	// train and test agree on label numbers.
	names := map[string]bool{}
	for k, c := range classDirs {
		if len(perClass[k]) > 0 {
			names[c] = true
		}
	}
	for _, d := range splits {
		if d == splitDir {
			continue
		}
		others, err := listDir(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec, err)
		}
		for _, e := range others {
			if e.isDir {
				names[e.name] = true
			}
		}
	}
	for n := range names {
		f.classes = append(f.classes, n)
	}
	sort.Strings(f.classes)
	if len(f.classes) > 1<<15-1 {
		return nil, fmt.Errorf("%s: %d classes, more than supported (%d)", spec, len(f.classes), 1<<15-1)
	}
	index := map[string]int{}
	for i, n := range f.classes {
		index[n] = i
	}
	for k, c := range classDirs {
		for _, p := range perClass[k] {
			f.paths = append(f.paths, p)
			f.labels = append(f.labels, int16(index[c]))
		}
	}
	return f, nil
}
