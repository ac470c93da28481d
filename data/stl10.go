package data

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// STL-10 binary layout: 3x96x96 images stored channel by channel, each
// channel in column-major order (all of column 0 top to bottom, then column
// 1, ...), as MATLAB writes them; labels are one byte each, 1..10.
const (
	stlSide   = 96
	stlPixels = 3 * stlSide * stlSide
	stlFolder = "stl10_binary"
)

var stl10Classes = []string{
	"airplane", "bird", "car", "cat", "deer",
	"dog", "horse", "monkey", "ship", "truck",
}

// openSTL10 reads a split of the STL-10 binary version: train and test are
// read into memory; unlabeled (100000 images, 2.7 GB) is read image by image
// from the file.
func openSTL10(dir, split string) (Dataset, error) {
	switch split {
	case "", "train", "test", "unlabeled", "train+unlabeled":
	default:
		return nil, fmt.Errorf("stl10: unknown split %q (valid: train, test, unlabeled, train+unlabeled)", split)
	}
	if split == "" {
		split = "train"
	}
	probe := "train_X.bin"
	if split == "unlabeled" {
		probe = "unlabeled_X.bin"
	} else if split == "test" {
		probe = "test_X.bin"
	}
	dir = resolveDir(dir, stlFolder, probe)
	classes, err := readClassNames(filepath.Join(dir, "class_names.txt"), stl10Classes)
	if err != nil {
		return nil, fmt.Errorf("stl10: %w", err)
	}
	switch split {
	case "train", "test":
		return readSTLLabeled(dir, split, classes)
	case "unlabeled":
		return openSTLUnlabeled(dir, "stl10/unlabeled", classes)
	}
	train, err := readSTLLabeled(dir, "train", classes)
	if err != nil {
		return nil, err
	}
	unl, err := openSTLUnlabeled(dir, "stl10/unlabeled", classes)
	if err != nil {
		return nil, err
	}
	return Concat("stl10/train+unlabeled", train, unl)
}

// stlCount checks that path is a whole number of STL images long and
// returns how many it holds.
func stlCount(path string) (int, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("stl10: %s not found (point stl10:DIR at the stl10_binary folder or its parent)", path)
	}
	if st.Size() == 0 || st.Size()%stlPixels != 0 {
		return 0, fmt.Errorf("stl10: %s: length %d is not a positive multiple of the %d-byte image (%.2f images)",
			path, st.Size(), stlPixels, float64(st.Size())/stlPixels)
	}
	return int(st.Size() / stlPixels), nil
}

// readSTLLabeled reads split_X.bin and split_y.bin into memory, converting
// the images to row-major CHW and the labels from 1..10 to 0..9.
func readSTLLabeled(dir, split string, classes []string) (Dataset, error) {
	xPath := filepath.Join(dir, split+"_X.bin")
	yPath := filepath.Join(dir, split+"_y.bin")
	n, err := stlCount(xPath)
	if err != nil {
		return nil, err
	}
	ys, err := os.ReadFile(yPath)
	if err != nil {
		return nil, fmt.Errorf("stl10: %w", err)
	}
	if len(ys) != n {
		return nil, fmt.Errorf("stl10: %s holds %d images but %s holds %d labels", xPath, n, yPath, len(ys))
	}
	labels := make([]int16, n)
	for i, y := range ys {
		if y < 1 || int(y) > len(classes) {
			return nil, fmt.Errorf("stl10: %s: label %d of image %d is out of range 1..%d", yPath, y, i, len(classes))
		}
		labels[i] = int16(y) - 1
	}
	f, err := os.Open(xPath)
	if err != nil {
		return nil, fmt.Errorf("stl10: %w", err)
	}
	defer f.Close()
	pix := make([]uint8, n*stlPixels)
	buf := make([]uint8, stlPixels)
	for i := 0; i < n; i++ {
		if _, err := io.ReadFull(f, buf); err != nil {
			return nil, fmt.Errorf("stl10: %s: image %d: %w", xPath, i, err)
		}
		stlToRowMajor(pix[i*stlPixels:(i+1)*stlPixels], buf)
	}
	return &memory{name: "stl10/" + split, c: 3, h: stlSide, w: stlSide, pix: pix, labels: labels, classes: classes}, nil
}

// stlToRowMajor transposes each channel of an STL image from column-major
// src into row-major dst.
func stlToRowMajor(dst, src []uint8) {
	const plane = stlSide * stlSide
	for c := 0; c < 3; c++ {
		s, d := src[c*plane:(c+1)*plane], dst[c*plane:(c+1)*plane]
		for x := 0; x < stlSide; x++ {
			col := s[x*stlSide : (x+1)*stlSide]
			for y, v := range col {
				d[y*stlSide+x] = v
			}
		}
	}
}

// stlFile is an STL-10 image file read image by image with ReadAt, for the
// unlabeled split that is too large to hold in memory. ReadAt is safe for
// concurrent use; scratch buffers come from a pool.
type stlFile struct {
	name, path string
	f          *os.File
	n          int
	classes    []string
	bufs       sync.Pool
}

func openSTLUnlabeled(dir, name string, classes []string) (*stlFile, error) {
	p := filepath.Join(dir, "unlabeled_X.bin")
	n, err := stlCount(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("stl10: %w", err)
	}
	s := &stlFile{name: name, path: p, f: f, n: n, classes: classes}
	s.bufs.New = func() any { b := make([]uint8, 2*stlPixels); return &b }
	return s, nil
}

// The Dataset methods of stlFile; see Dataset for their contracts.
func (s *stlFile) Name() string         { return s.name }
func (s *stlFile) Len() int             { return s.n }
func (s *stlFile) Label(int) int        { return -1 }
func (s *stlFile) Shape() (c, h, w int) { return 3, stlSide, stlSide }

// Classes returns the STL-10 class names even though this split carries no
// labels, so that it shares the class list of train when concatenated.
func (s *stlFile) Classes() []string { return s.classes }

// Close releases the open file.
func (s *stlFile) Close() error { return s.f.Close() }

// Image reads image i from the file and converts it to row-major CHW float32.
func (s *stlFile) Image(i int, dst Image) (Image, error) {
	if i < 0 || i >= s.n {
		return dst, fmt.Errorf("%s: image index %d out of range [0, %d)", s.name, i, s.n)
	}
	bp := s.bufs.Get().(*[]uint8)
	defer s.bufs.Put(bp)
	raw, rm := (*bp)[:stlPixels], (*bp)[stlPixels:]
	if _, err := s.f.ReadAt(raw, int64(i)*stlPixels); err != nil {
		return dst, fmt.Errorf("%s: %s: image %d: %w", s.name, s.path, i, err)
	}
	stlToRowMajor(rm, raw)
	dst = ensureImage(dst, 3, stlSide, stlSide)
	for j, b := range rm {
		dst.Pix[j] = byteToUnit[b]
	}
	return dst, nil
}
