package loader_test

import (
	"context"
	"fmt"
	"log"

	"selfsup/data"
	"selfsup/data/augment"
	"selfsup/data/loader"
)

// squares is a tiny in-memory dataset for the example.
type squares struct{}

func (squares) Name() string         { return "squares/train" }
func (squares) Len() int             { return 10 }
func (squares) Label(i int) int      { return i % 2 }
func (squares) Classes() []string    { return []string{"dark", "light"} }
func (squares) Shape() (c, h, w int) { return 3, 32, 32 }
func (s squares) Image(i int, dst data.Image) (data.Image, error) {
	if cap(dst.Pix) < 3*32*32 {
		dst = data.NewImage(3, 32, 32)
	}
	dst = data.Image{C: 3, H: 32, W: 32, Pix: dst.Pix[:3*32*32]}
	for j := range dst.Pix {
		dst.Pix[j] = float32(i%2)*0.5 + float32(j%32)/64
	}
	return dst, nil
}

// A SimCLR training epoch: two views per image, batches of 4, the last
// smaller one dropped.
func Example() {
	views := augment.SimCLR(32, 0.5)
	l, err := loader.New(squares{}, loader.Config{
		BatchSize: 4,
		Views:     []augment.Transform{views, views},
		Shuffle:   true,
		DropLast:  true,
		Seed:      1,
	})
	if err != nil {
		log.Fatal(err)
	}
	for b, err := range l.Batches(context.Background(), 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("step", b.Step, "views", b.Views[0].Shape(), b.Views[1].Shape(), "labels", len(b.Labels))
		l.Release(b) // hand the tensors back once the step is done
	}
	// Output:
	// step 0 views [4 3 32 32] [4 3 32 32] labels 4
	// step 1 views [4 3 32 32] [4 3 32 32] labels 4
}

// The explicit iterator suits a loop that resumes mid-epoch from a
// checkpoint.
func ExampleLoader_Resume() {
	l, err := loader.New(squares{}, loader.Config{
		BatchSize: 3,
		Views:     augment.MultiCrop(32, 16, 2),
		Shuffle:   true,
		Seed:      7,
	})
	if err != nil {
		log.Fatal(err)
	}
	it := l.Resume(context.Background(), 5, 2) // epoch 5 from step 2
	defer it.Close()
	for {
		b, err := it.Next()
		if err != nil {
			fmt.Println(err) // io.EOF at the end of the epoch
			break
		}
		fmt.Println("epoch", b.Epoch, "step", b.Step, "images", b.Len(), "views", len(b.Views), "local", b.Views[2].Shape())
		l.Release(b)
	}
	// Output:
	// epoch 5 step 2 images 3 views 4 local [3 3 16 16]
	// epoch 5 step 3 images 1 views 4 local [1 3 16 16]
	// EOF
}
