package data_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"selfsup/data"
)

// ExampleOpen opens a (tiny, generated) CIFAR-10 test batch, keeps the
// labels of half of its images, class-balanced, and reads one image into a
// reused buffer.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "cifar")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// Four records of the official format: label byte, then 3x32x32 pixels.
	var batch []byte
	for i := 0; i < 4; i++ {
		rec := make([]byte, 1+3072)
		rec[0] = byte(i % 2)  // airplane, automobile, airplane, automobile
		rec[1] = byte(51 * i) // red plane, pixel (0, 0)
		batch = append(batch, rec...)
	}
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), batch, 0o644)

	ds, err := data.Open("cifar10:"+dir, data.OpenOptions{Split: "test", LabelsFraction: 0.5, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	c, h, w := ds.Shape()
	fmt.Println(ds.Len(), "images of", c, h, w)
	labeled, _ := data.Labeled(ds)
	fmt.Println(labeled.Len(), "labeled")

	buf := data.NewImage(c, h, w)
	img, err := ds.Image(3, buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("image 3: red (0,0) = %.1f\n", img.Pix[0])
	for i := 0; i < ds.Len(); i++ {
		if l := ds.Label(i); l >= 0 {
			fmt.Printf("image %d: %s\n", i, ds.Classes()[l])
		} else {
			fmt.Printf("image %d: label hidden\n", i)
		}
	}
	// Output:
	// 4 images of 3 32 32
	// 2 labeled
	// image 3: red (0,0) = 0.6
	// image 0: label hidden
	// image 1: label hidden
	// image 2: airplane
	// image 3: automobile
}

// ExampleClassBalancedIndices picks a reproducible, class-balanced 10% of
// the labeled images, e.g. for a linear probe in the low-label regime.
func ExampleClassBalancedIndices() {
	dir, _ := os.MkdirTemp("", "cifar")
	defer os.RemoveAll(dir)
	var batch []byte
	for i := 0; i < 100; i++ {
		rec := make([]byte, 1+3072)
		rec[0] = byte(i % 10)
		batch = append(batch, rec...)
	}
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), batch, 0o644)
	ds, err := data.Open("cifar10:"+dir, data.OpenOptions{Split: "test"})
	if err != nil {
		log.Fatal(err)
	}
	idx, _ := data.ClassBalancedIndices(ds, 0.1, 42)
	probe, _ := data.Subset(ds, idx)
	perClass := make([]int, 10)
	for i := 0; i < probe.Len(); i++ {
		perClass[probe.Label(i)]++
	}
	fmt.Println(probe.Len(), perClass)
	// Output: 10 [1 1 1 1 1 1 1 1 1 1]
}

// ExampleSyntheticShapes reads a generated colour image and its label: no
// files needed, and image i is the same on every machine.
func ExampleSyntheticShapes() {
	ds, err := data.Open("synthetic:shapes:100", data.OpenOptions{Split: "test"})
	if err != nil {
		log.Fatal(err)
	}
	c, h, w := ds.Shape()
	img, _ := ds.Image(3, data.NewImage(c, h, w))
	fmt.Println(ds.Name(), ds.Len(), "images of", c, h, w)
	fmt.Println("image 3 is a", ds.Classes()[ds.Label(3)], "with", len(img.Pix), "values")
	// Output:
	// synthetic:shapes/test 20 images of 3 32 32
	// image 3 is a frame with 3072 values
}
