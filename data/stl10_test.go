package data

import (
	"io"
	"strings"
	"sync"
	"testing"
)

// writeSTL writes an STL-10 binary folder: 4 train, 3 test and 5 unlabeled
// images, the train/test labels given in the official 1..10 range.
func writeSTL(t *testing.T, dir string) {
	writeFile(t, dir, "train_X.bin", stlImages(0, 4))
	writeFile(t, dir, "train_y.bin", []byte{1, 10, 3, 4})
	writeFile(t, dir, "test_X.bin", stlImages(10, 3))
	writeFile(t, dir, "test_y.bin", []byte{2, 2, 9})
	writeFile(t, dir, "unlabeled_X.bin", stlImages(20, 5))
}

func TestSTL10ColumnMajorByHand(t *testing.T) {
	// One hand-made image: channel 0 has a single bright pixel at row 1,
	// column 2; in the column-major file it sits at column*96 + row.
	raw := make([]byte, stlPixels)
	raw[2*96+1] = 255
	raw[stlSide*stlSide+5] = 51 // channel 1, column 0, row 5
	dir := t.TempDir()
	writeFile(t, dir, "train_X.bin", raw)
	writeFile(t, dir, "train_y.bin", []byte{7})
	ds, err := Open("stl10:"+dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img, err := ds.Image(0, Image{})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range img.Pix {
		want := float32(0)
		switch i {
		case 1*96 + 2: // channel 0, y=1, x=2
			want = 1
		case stlSide*stlSide + 5*96 + 0: // channel 1, y=5, x=0
			want = 0.2
		}
		if v != want {
			t.Fatalf("pixel %d = %v, want %v", i, v, want)
		}
	}
	if ds.Label(0) != 6 || ds.Classes()[6] != "horse" {
		t.Errorf("label %d (%s), want 6 (horse)", ds.Label(0), ds.Classes()[ds.Label(0)])
	}
}

func TestSTL10Splits(t *testing.T) {
	root := t.TempDir()
	writeSTL(t, root+"/"+stlFolder)
	cases := []struct {
		split  string
		n      int
		first  []int // pixelAt image number of each image
		labels []int
	}{
		{"", 4, []int{0, 1, 2, 3}, []int{0, 9, 2, 3}},
		{"test", 3, []int{10, 11, 12}, []int{1, 1, 8}},
		{"unlabeled", 5, []int{20, 21, 22, 23, 24}, []int{-1, -1, -1, -1, -1}},
		{"train+unlabeled", 9, []int{0, 1, 2, 3, 20, 21, 22, 23, 24}, []int{0, 9, 2, 3, -1, -1, -1, -1, -1}},
	}
	for _, tc := range cases {
		t.Run(tc.split, func(t *testing.T) {
			ds, err := Open("stl10:"+root, OpenOptions{Split: tc.split})
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != tc.n {
				t.Fatalf("len %d, want %d", ds.Len(), tc.n)
			}
			if c, h, w := ds.Shape(); c != 3 || h != 96 || w != 96 {
				t.Errorf("shape %d %d %d", c, h, w)
			}
			if len(ds.Classes()) != 10 {
				t.Errorf("classes %v", ds.Classes())
			}
			buf := NewImage(3, 96, 96)
			for i := 0; i < tc.n; i++ {
				img, err := ds.Image(i, buf)
				if err != nil {
					t.Fatal(err)
				}
				if &img.Pix[0] != &buf.Pix[0] {
					t.Error("Image did not reuse a right-sized dst")
				}
				checkPixels(t, img, tc.first[i], 3, 96, 96)
				if ds.Label(i) != tc.labels[i] {
					t.Errorf("label %d = %d, want %d", i, ds.Label(i), tc.labels[i])
				}
			}
			if c, ok := ds.(io.Closer); ok && tc.split == "unlabeled" {
				defer c.Close()
			}
		})
	}
}

func TestSTL10UnlabeledConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	writeSTL(t, dir)
	ds, err := Open("stl10:"+dir, OpenOptions{Split: "unlabeled"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := NewImage(3, 96, 96)
			for k := 0; k < 20; k++ {
				i := (g + k) % 5
				img, err := ds.Image(i, buf)
				if err != nil {
					errs <- err
					return
				}
				for _, p := range [][3]int{{0, 0, 1}, {2, 95, 3}, {1, 40, 77}} {
					if img.Pix[(p[0]*96+p[1])*96+p[2]] != float32(pixelAt(20+i, p[0], p[1], p[2]))/255 {
						errs <- io.ErrUnexpectedEOF
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestSTL10BadInput(t *testing.T) {
	cases := []struct {
		name  string
		split string
		files map[string][]byte
		want  string
	}{
		{"X wrong length", "", map[string][]byte{"train_X.bin": stlImages(0, 2)[:stlPixels+10], "train_y.bin": {1, 2}},
			"train_X.bin: length 27658 is not a positive multiple of the 27648-byte image"},
		{"label count", "", map[string][]byte{"train_X.bin": stlImages(0, 2), "train_y.bin": {1}},
			"holds 2 images but"},
		{"label zero", "", map[string][]byte{"train_X.bin": stlImages(0, 2), "train_y.bin": {1, 0}},
			"train_y.bin: label 0 of image 1 is out of range 1..10"},
		{"label eleven", "test", map[string][]byte{"test_X.bin": stlImages(0, 1), "test_y.bin": {11}},
			"test_y.bin: label 11 of image 0 is out of range 1..10"},
		{"missing unlabeled", "unlabeled", map[string][]byte{"train_X.bin": stlImages(0, 1)},
			"unlabeled_X.bin not found"},
		{"bad split", "val", nil, `unknown split "val" (valid: train, test, unlabeled, train+unlabeled)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				writeFile(t, dir, name, data)
			}
			_, err := Open("stl10:"+dir, OpenOptions{Split: tc.split})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
