package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// pixelAt is the deterministic pixel pattern the generated test files use;
// it is asymmetric in y and x so that transposed reads are caught.
func pixelAt(i, c, y, x int) uint8 { return uint8(i*31 + c*50 + y*7 + x*3) }

// idxImages encodes n images of r x c pixels (pixelAt) as an idx3 file.
func idxImages(n, r, c int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, [4]uint32{idxImagesMagic, uint32(n), uint32(r), uint32(c)})
	for i := 0; i < n; i++ {
		for y := 0; y < r; y++ {
			for x := 0; x < c; x++ {
				b.WriteByte(pixelAt(i, 0, y, x))
			}
		}
	}
	return b.Bytes()
}

// idxLabels encodes labels as an idx1 file.
func idxLabels(labels []uint8) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, [2]uint32{idxLabelsMagic, uint32(len(labels))})
	b.Write(labels)
	return b.Bytes()
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// writeFile writes data to dir/name, creating folders, and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// cifarRecords encodes n CIFAR records whose labels come from label(i) and
// pixels from pixelAt(first+i, ...). labelBytes is 1 (CIFAR-10) or 2
// (CIFAR-100, coarse then fine).
func cifarRecords(first, n, labelBytes int, label func(i int) []uint8) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		b.Write(label(i)[:labelBytes])
		for c := 0; c < 3; c++ {
			for y := 0; y < 32; y++ {
				for x := 0; x < 32; x++ {
					b.WriteByte(pixelAt(i, c, y, x))
				}
			}
		}
	}
	return b.Bytes()
}

// writeCIFAR10 writes a CIFAR-10 binary folder with per records in each of
// the five train batches and in the test batch; image i has label i%10.
func writeCIFAR10(t testing.TB, dir string, per int) {
	t.Helper()
	lbl := func(i int) []uint8 { return []uint8{uint8(i % 10)} }
	for k := 0; k < 5; k++ {
		writeFile(t, dir, "data_batch_"+string(rune('1'+k))+".bin", cifarRecords(k*per, per, 1, lbl))
	}
	writeFile(t, dir, "test_batch.bin", cifarRecords(1000, per, 1, lbl))
	writeFile(t, dir, "batches.meta.txt", []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"))
}

// stlImage encodes image i (pixelAt) in the STL-10 layout: channel by
// channel, each channel column-major.
func stlImage(i int) []byte {
	b := make([]byte, 0, stlPixels)
	for c := 0; c < 3; c++ {
		for x := 0; x < stlSide; x++ {
			for y := 0; y < stlSide; y++ {
				b = append(b, pixelAt(i, c, y, x))
			}
		}
	}
	return b
}

func stlImages(first, n int) []byte {
	var b []byte
	for i := first; i < first+n; i++ {
		b = append(b, stlImage(i)...)
	}
	return b
}

// checkPixels asserts that img is image i of the pixelAt pattern.
func checkPixels(t *testing.T, img Image, i, c, h, w int) {
	t.Helper()
	if img.C != c || img.H != h || img.W != w || len(img.Pix) != c*h*w {
		t.Fatalf("image %d: got %dx%dx%d (%d values), want %dx%dx%d", i, img.C, img.H, img.W, len(img.Pix), c, h, w)
	}
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				want := float32(pixelAt(i, ch, y, x)) / 255
				if got := img.Pix[(ch*h+y)*w+x]; got != want {
					t.Fatalf("image %d pixel (c%d,y%d,x%d) = %v, want %v", i, ch, y, x, got, want)
				}
			}
		}
	}
}
