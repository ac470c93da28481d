package methods_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/tensor"
)

// Build the colorization method for 32-pixel colour images and predict the
// colours of a (blank) image: a and b on an 8x8 grid, a quarter of the
// image's resolution.
func ExampleNewColorization() {
	spec := methods.Spec{Method: "colorization", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 3, ImageSize: 32}}
	m, err := methods.NewColorization(spec, methods.DefaultColorizationParams(), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Bins.Dim(0), "in-gamut ab bins, output grid", m.Grid())
	ab, err := m.PredictAB(tensor.New(1, 3, 32, 32))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("predicted ab:", ab.Shape())
	// The encoder that probes evaluate reads RGB images.
	enc := m.Encoder()
	enc.SetTraining(false)
	feats := enc.Forward(autograd.Const(tensor.New(2, 3, 32, 32)))
	fmt.Println("features:", feats.Shape())
	// Output:
	// 261 in-gamut ab bins, output grid 8
	// predicted ab: [1 2 8 8]
	// features: [2 256]
}
