package augment_test

import (
	"fmt"
	"math/rand/v2"

	"selfsup/data"
	"selfsup/data/augment"
)

// Two SimCLR views of one CIFAR-sized image. Each worker keeps its own
// scratch images and feeds each result back in, so the steady state does not
// allocate.
func Example() {
	img := data.NewImage(3, 32, 32)
	for i := range img.Pix {
		img.Pix[i] = float32(i%97) / 96
	}
	views := augment.SimCLR(32, 0.5) // one pipeline, safe to share
	r := rand.New(rand.NewPCG(42, 0))

	var a, b data.Image // the worker's scratch
	a = views.Apply(a, img, r)
	b = views.Apply(b, img, r)
	fmt.Println(a.C, a.H, a.W, b.C, b.H, b.W)
	// Output: 3 32 32 3 32 32
}

// The presets take an options struct holding the paper's defaults; change
// what differs. Here SimCLR on 28x28 MNIST with a gentler crop.
func ExampleSimCLROptions() {
	o := augment.SimCLROptions(28, 0.5)
	o.Scale = [2]float64{0.3, 1}
	p := o.Pipeline()
	c, h, w, err := p.OutShape(1, 28, 28)
	fmt.Println(c, h, w, err)
	fmt.Println(p)
	// Output:
	// 1 28 28 <nil>
	// Compose(RandomResizedCrop(size=28, scale=[0.3 1], ratio=[0.75 1.333]), HorizontalFlip(p=0.5), ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, p=0.8), RandomGrayscale(p=0.2))
}

// DINO's multi-crop gives views of different sizes: two global, then local.
func ExampleMultiCrop() {
	views := augment.MultiCrop(224, 96, 6)
	for i, v := range views {
		_, h, w, _ := v.OutShape(3, 256, 256)
		if i < 3 {
			fmt.Printf("view %d: %dx%d\n", i, h, w)
		}
	}
	fmt.Println(len(views), "views")
	// Output:
	// view 0: 224x224
	// view 1: 224x224
	// view 2: 96x96
	// 8 views
}
