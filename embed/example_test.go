package embed_test

import (
	"fmt"
	"image"
	"image/color"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"selfsup/checkpoint"
	"selfsup/embed"
	"selfsup/methods"
	"selfsup/nn"
)

// demoCheckpoint saves an untrained SimCLR checkpoint for 28x28 gray
// images, standing in for `selfsup pretrain --data mnist --out DIR`.
func demoCheckpoint(dir string) error {
	spec := methods.Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 28}}
	m, err := methods.Build(spec, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return err
	}
	ck := &checkpoint.Checkpoint{Arch: spec.Backbone.Arch, Method: spec.Method, Model: nn.StateDict("", m)}
	if err := ck.SetConfig(map[string]any{"spec": spec}); err != nil {
		return err
	}
	return checkpoint.Save(dir, ck)
}

// Embed one image with the encoder of a checkpoint. The colour image is
// resized to the model's 28x28 input and converted to gray on the way.
func ExampleEncoder_Embed() {
	tmp, _ := os.MkdirTemp("", "embed-example")
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "ckpt")
	if err := demoCheckpoint(dir); err != nil {
		log.Fatal(err)
	}

	enc, err := embed.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := 16; x < 48; x++ {
		img.Set(x, 24, color.White) // a horizontal stroke
	}
	vec, err := enc.Embed(img)
	if err != nil {
		log.Fatal(err)
	}
	embed.Normalize(vec) // unit length, as the index stores them
	var norm float64
	for _, v := range vec {
		norm += float64(v) * float64(v)
	}
	fmt.Printf("%d values, norm %.3f, encoder ID of %d hex digits\n", len(vec), math.Sqrt(norm), len(enc.ID()))
	// Output: 256 values, norm 1.000, encoder ID of 32 hex digits
}
