package train_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"selfsup/methods"
	"selfsup/nn"
	"selfsup/train"
)

// ExampleRun trains SimCLR on the small ResNet for two steps of 16 tiny
// images and resumes the run for two more.
func ExampleRun() {
	tmp, err := os.MkdirTemp("", "example-run-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)

	spec := methods.Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}}
	ds := patterns{N: 32, Size: 16} // any data.Dataset of 1x16x16 images
	cfg := train.Config{RunDir: filepath.Join(tmp, "run"), Steps: 2, BatchSize: 16, Seed: 1}
	res, err := train.Run(context.Background(), spec, ds, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("steps:", res.Steps, "checkpoint:", filepath.Base(res.CheckpointDir))

	cfg.Steps, cfg.Resume = 4, true
	res, err = train.Run(context.Background(), spec, ds, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("resumed from:", res.ResumedFrom, "steps:", res.Steps, "checkpoint:", filepath.Base(res.CheckpointDir))
	// Output:
	// steps: 2 checkpoint: step-000000002
	// resumed from: 2 steps: 4 checkpoint: step-000000004
}
