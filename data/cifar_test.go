package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCIFAR10ReadsRecords(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, cifar10Folder)
	writeCIFAR10(t, dir, 3)
	// Both the folder holding the .bin files and its parent work.
	for _, spec := range []string{"cifar10:" + dir, "cifar10:" + root} {
		ds, err := Open(spec, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Len() != 15 || ds.Name() != "cifar10/train" {
			t.Fatalf("%s: len %d name %q, want 15 cifar10/train", spec, ds.Len(), ds.Name())
		}
		if c, h, w := ds.Shape(); c != 3 || h != 32 || w != 32 {
			t.Fatalf("shape %d %d %d", c, h, w)
		}
		for _, i := range []int{0, 4, 14} { // first, inside batch 2, last of batch 5
			img, err := ds.Image(i, Image{})
			if err != nil {
				t.Fatal(err)
			}
			checkPixels(t, img, i, 3, 32, 32)
			if ds.Label(i) != i%10 {
				t.Errorf("label %d = %d, want %d", i, ds.Label(i), i%10)
			}
		}
		if got := ds.Classes(); len(got) != 10 || got[1] != "automobile" {
			t.Errorf("classes %v", got)
		}
	}
	test, err := Open("cifar10:"+root, OpenOptions{Split: "test"})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := test.Image(2, Image{})
	checkPixels(t, img, 1002, 3, 32, 32)
	if test.Len() != 3 || test.Label(2) != 1002%10 {
		t.Errorf("test: len %d label %d", test.Len(), test.Label(2))
	}
}

func TestCIFAR100FineAndCoarse(t *testing.T) {
	dir := t.TempDir()
	lbl := func(i int) []uint8 { return []uint8{uint8(i % 20), uint8(i * 7 % 100)} }
	writeFile(t, dir, "train.bin", cifarRecords(0, 6, 2, lbl))
	writeFile(t, dir, "test.bin", cifarRecords(100, 2, 2, lbl))
	fine, err := Open("cifar100:"+dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	coarse, err := Open("cifar100-coarse:"+dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		if fine.Label(i) != i*7%100 || coarse.Label(i) != i%20 {
			t.Errorf("image %d: fine %d coarse %d, want %d %d", i, fine.Label(i), coarse.Label(i), i*7%100, i%20)
		}
	}
	img, _ := fine.Image(5, Image{})
	checkPixels(t, img, 5, 3, 32, 32)
	if len(fine.Classes()) != 100 || fine.Classes()[99] != "worm" || len(coarse.Classes()) != 20 {
		t.Errorf("classes: %d fine (last %q), %d coarse", len(fine.Classes()), fine.Classes()[99], len(coarse.Classes()))
	}
	test, err := Open("cifar100:"+dir, OpenOptions{Split: "test"})
	if err != nil || test.Len() != 2 || test.Label(1) != 101*7%100 {
		t.Fatalf("test split: %v", err)
	}
}

func TestCIFARBadInput(t *testing.T) {
	lbl10 := func(i int) []uint8 { return []uint8{uint8(i % 10)} }
	cases := []struct {
		name  string
		spec  string
		setup func(dir string)
		want  string
	}{
		{"wrong length", "cifar10", func(dir string) {
			writeCIFAR10(t, dir, 2)
			writeFile(t, dir, "data_batch_3.bin", cifarRecords(0, 2, 1, lbl10)[:3073+3072])
		}, "data_batch_3.bin: length 6145 is not a positive multiple of the 3073-byte record (2.00 records)"},
		{"empty file", "cifar10", func(dir string) {
			writeCIFAR10(t, dir, 2)
			writeFile(t, dir, "data_batch_1.bin", nil)
		}, "data_batch_1.bin: length 0 is not a positive multiple"},
		{"missing batch", "cifar10", func(dir string) {
			writeCIFAR10(t, dir, 2)
			os.Remove(filepath.Join(dir, "data_batch_2.bin"))
		}, "data_batch_2.bin not found"},
		{"label out of range", "cifar10", func(dir string) {
			writeCIFAR10(t, dir, 2)
			writeFile(t, dir, "data_batch_4.bin", cifarRecords(0, 2, 1, func(i int) []uint8 { return []uint8{uint8(10 + i)} }))
		}, "data_batch_4.bin: record 0 has label 10, out of range (10 classes)"},
		{"bad meta", "cifar10", func(dir string) {
			writeCIFAR10(t, dir, 2)
			writeFile(t, dir, "batches.meta.txt", []byte("a\nb\n"))
		}, "batches.meta.txt: 2 class names, want 10"},
		{"cifar100 wrong length", "cifar100", func(dir string) {
			writeFile(t, dir, "train.bin", make([]byte, 3074*2+1))
		}, "train.bin: length 6149 is not a positive multiple of the 3074-byte record"},
		{"cifar100 label range", "cifar100", func(dir string) {
			writeFile(t, dir, "train.bin", cifarRecords(0, 1, 2, func(int) []uint8 { return []uint8{0, 100} }))
		}, "record 0 has label 100, out of range (100 classes)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(dir)
			_, err := Open(tc.spec+":"+dir, OpenOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// BenchmarkCIFARImage measures the hot read path the loader calls from many
// goroutines: one 3x32x32 image into a reused buffer.
func BenchmarkCIFARImage(b *testing.B) {
	dir := b.TempDir()
	writeCIFAR10(b, dir, 100)
	ds, err := Open("cifar10:"+dir, OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := NewImage(3, 32, 32)
		i := 0
		for pb.Next() {
			ds.Image(i%ds.Len(), buf)
			i++
		}
	})
}
