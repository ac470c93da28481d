package methods_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/data/loader"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/tensor"
)

// The jigsaw task's puzzles: 64 orders of the 3x3 tiles, chosen greedily
// so that any two differ in at least 7 of the 9 positions.
func ExampleJigsawPermutations() {
	perms, err := methods.JigsawPermutations(64, 0, methods.SelectMaxMin)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(perms), "puzzles, minimum Hamming distance", methods.MinHamming(perms))
	// Output: 64 puzzles, minimum Hamming distance 7
}

// The 8 labels of relative patch location, as offsets from the centre
// patch (rows, columns).
func ExampleLocationOffset() {
	for label := 0; label < 8; label++ {
		dy, dx, _ := methods.LocationOffset(label)
		fmt.Printf("%d:(%d,%d) ", label, dy, dx)
	}
	fmt.Println()
	// Output: 0:(-1,-1) 1:(-1,0) 2:(-1,1) 3:(0,-1) 4:(0,1) 5:(1,-1) 6:(1,0) 7:(1,1)
}

// RotNet on a batch of two images: the loss sees all four rotations of
// each, and starts near log 4, the loss of a guess.
func ExampleRotation() {
	r := rand.New(rand.NewPCG(1, 1))
	spec := methods.Spec{Method: "rotation", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}}
	m, err := methods.Build(spec, r)
	if err != nil {
		panic(err)
	}
	x := tensor.New(2, 1, 16, 16)
	nn.Uniform(x, 1, r)
	rotated, labels := m.(*methods.Rotation).Rotate(x)
	fmt.Println(rotated.Shape(), labels)
	out := m.Loss(loader.Batch{Views: []*tensor.Tensor{x}}, r)
	fmt.Println("initial loss near log 4:", math.Abs(float64(out.Loss.Item())-math.Log(4)) < 0.5)
	// Output:
	// [8 1 16 16] [0 0 1 1 2 2 3 3]
	// initial loss near log 4: true
}
