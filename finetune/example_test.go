package finetune

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"selfsup/methods"
	"selfsup/nn"
)

// ExampleRun fine-tunes an encoder with its stem and first stage frozen
// (what RotNet did) on a tiny labelled dataset, then loads the result as a
// method checkpoint.
func ExampleRun() {
	tmp, err := os.MkdirTemp("", "example-finetune-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)

	bc := nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}
	// stands for the encoder of a pretraining checkpoint (methods.Load)
	enc, err := nn.NewBackbone(bc, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	train := patterns{N: 64, Size: 16} // any labelled data.Dataset of 1x16x16 images
	test := patterns{N: 16, Size: 16}
	cfg := Config{RunDir: filepath.Join(tmp, "ft"), Backbone: bc, Pretrained: enc, Freeze: 2,
		Epochs: 2, BatchSize: 32, Workers: 1}
	res, err := Run(context.Background(), train, test, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("steps:", res.Steps, "epochs:", res.Epochs, "checkpoint:", filepath.Base(res.CheckpointDir))
	fmt.Println("frozen parameters:", res.Frozen, "trained:", res.Trainable)
	fmt.Println("test accuracy in [0, 1]:", res.Test.Top1 >= 0 && res.Test.Top1 <= 1)

	m, ck, err := methods.Load(cfg.RunDir)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("checkpoint: method %s, arch %s, %T\n", ck.Method, ck.Arch, m)
	// Output:
	// steps: 4 epochs: 2 checkpoint: step-000000004
	// frozen parameters: 58080 trained: 1150212
	// test accuracy in [0, 1]: true
	// checkpoint: method supervised, arch resnet-small, *methods.Supervised
}
