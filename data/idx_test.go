package data

import (
	"strings"
	"testing"
)

func TestIDXReadsImagesAndLabels(t *testing.T) {
	for _, compressed := range []bool{true, false} {
		dir := t.TempDir()
		img, lbl := idxImages(7, 5, 4), idxLabels([]uint8{3, 1, 4, 1, 5, 9, 2})
		timg, tlbl := idxImages(2, 5, 4), idxLabels([]uint8{0, 8})
		suffix := ""
		if compressed {
			img, lbl, timg, tlbl, suffix = gz(img), gz(lbl), gz(timg), gz(tlbl), ".gz"
		}
		writeFile(t, dir, "train-images-idx3-ubyte"+suffix, img)
		writeFile(t, dir, "train-labels-idx1-ubyte"+suffix, lbl)
		writeFile(t, dir, "t10k-images-idx3-ubyte"+suffix, timg)
		writeFile(t, dir, "t10k-labels-idx1-ubyte"+suffix, tlbl)

		ds, err := Open("mnist:"+dir, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Name() != "mnist/train" || ds.Len() != 7 {
			t.Fatalf("name %q len %d, want mnist/train 7", ds.Name(), ds.Len())
		}
		if c, h, w := ds.Shape(); c != 1 || h != 5 || w != 4 {
			t.Fatalf("shape %d %d %d, want 1 5 4", c, h, w)
		}
		var buf Image
		for i, want := range []int{3, 1, 4, 1, 5, 9, 2} {
			if got := ds.Label(i); got != want {
				t.Errorf("label %d = %d, want %d", i, got, want)
			}
			if buf, err = ds.Image(i, buf); err != nil {
				t.Fatal(err)
			}
			checkPixels(t, buf, i, 1, 5, 4)
		}
		if _, err := ds.Image(7, buf); err == nil {
			t.Error("Image(7) of 7 images: no error")
		}
		test, err := Open("fashion-mnist:"+dir, OpenOptions{Split: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if test.Len() != 2 || test.Label(1) != 8 || test.Classes()[8] != "Bag" || test.Name() != "fashion-mnist/test" {
			t.Errorf("fashion test split: len %d label %d class %q name %q", test.Len(), test.Label(1), test.Classes()[8], test.Name())
		}
	}
}

func TestIDXImageDoesNotAllocate(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "train-images-idx3-ubyte", idxImages(3, 28, 28))
	writeFile(t, dir, "train-labels-idx1-ubyte", idxLabels([]uint8{1, 2, 3}))
	ds, err := Open("mnist:"+dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := NewImage(1, 28, 28)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ds.Image(2, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Image allocates %v times per call with a right-sized dst", allocs)
	}
}

func TestIDXBadInput(t *testing.T) {
	const (
		img = "train-images-idx3-ubyte"
		lbl = "train-labels-idx1-ubyte"
	)
	good := idxLabels([]uint8{1, 2, 3})
	bigGz := gz(idxImages(50, 20, 20))
	cases := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"truncated image header", map[string][]byte{img: idxImages(3, 2, 2)[:10], lbl: good},
			"train-images-idx3-ubyte: truncated header (10 bytes, need 16)"},
		{"truncated image body", map[string][]byte{img: idxImages(3, 2, 2)[:16+10], lbl: good},
			"train-images-idx3-ubyte: truncated: header says 3 images of 2x2, file holds 2.5"},
		{"truncated image body gz", map[string][]byte{img + ".gz": gz(idxImages(3, 2, 2)[:16+10]), lbl + ".gz": gz(good)},
			"train-images-idx3-ubyte.gz: truncated: header says 3 images of 2x2, file holds 2.5"},
		{"truncated label header", map[string][]byte{img: idxImages(3, 2, 2), lbl: good[:5]},
			"train-labels-idx1-ubyte: truncated header (5 bytes, need 8)"},
		{"truncated label body", map[string][]byte{img: idxImages(3, 2, 2), lbl: good[:10]},
			"train-labels-idx1-ubyte: truncated: header says 3 labels, file holds 2"},
		{"wrong image magic", map[string][]byte{img: idxLabels(make([]uint8, 12)), lbl: good},
			"train-images-idx3-ubyte: wrong magic number 0x00000801, want 0x00000803"},
		{"wrong label magic", map[string][]byte{img: idxImages(3, 2, 2), lbl: idxImages(3, 2, 2)},
			"train-labels-idx1-ubyte: wrong magic number 0x00000803, want 0x00000801"},
		{"count mismatch", map[string][]byte{img: idxImages(3, 2, 2), lbl: idxLabels([]uint8{1, 2})},
			"train-images-idx3-ubyte holds 3 images but train-labels-idx1-ubyte holds 2 labels"},
		{"extra bytes", map[string][]byte{img: append(idxImages(3, 2, 2), 9), lbl: good},
			"train-images-idx3-ubyte: file is longer than its header says"},
		{"zero size", map[string][]byte{img: idxImages(3, 0, 2), lbl: good},
			"train-images-idx3-ubyte: bad image size 0x2"},
		{"label out of range", map[string][]byte{img: idxImages(3, 2, 2), lbl: idxLabels([]uint8{1, 10, 3})},
			"train-labels-idx1-ubyte: label 10 of image 1 is out of range (10 classes)"},
		{"cut gzip stream", map[string][]byte{img + ".gz": bigGz[:len(bigGz)/2], lbl: good},
			"train-images-idx3-ubyte.gz: truncated gzip stream"},
		{"not gzip", map[string][]byte{img + ".gz": idxImages(3, 2, 2), lbl: good},
			"train-images-idx3-ubyte.gz: not a gzip file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				writeFile(t, dir, name, data)
			}
			_, err := Open("mnist:"+dir, OpenOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestIDXMissingFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := Open("mnist:"+dir, OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte.gz not found in "+dir) {
		t.Fatalf("err = %v", err)
	}
	writeFile(t, dir, "train-images-idx3-ubyte", idxImages(1, 2, 2))
	_, err = Open("mnist:"+dir, OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), "train-labels-idx1-ubyte.gz not found") {
		t.Fatalf("err = %v", err)
	}
	_, err = Open("mnist:"+dir, OpenOptions{Split: "unlabeled"})
	if err == nil || !strings.Contains(err.Error(), `unknown split "unlabeled" (valid: train, test)`) {
		t.Fatalf("err = %v", err)
	}
}
