package checkpoint_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"selfsup/checkpoint"
	"selfsup/tensor"
)

// A safetensors file holds named float32 tensors and string metadata; any
// safetensors reader (PyTorch, JAX, ...) can open it.
func ExampleWriteFile() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "weights.safetensors")

	w := tensor.FromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	err := checkpoint.WriteFile(path, map[string]*tensor.Tensor{"fc.weight": w, "fc.bias": tensor.New(2)},
		map[string]string{"note": "example"})
	if err != nil {
		log.Fatal(err)
	}
	tensors, meta, err := checkpoint.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tensors["fc.weight"], tensors["fc.bias"].Shape(), meta["note"])
	// Output: Tensor[2 3][1 2 3 4 5 6] [2] example
}

// A training run saves checkpoints as it goes; evaluation later loads the
// newest one and copies its encoder weights into a fresh encoder.
func ExampleSaveStep() {
	run, _ := os.MkdirTemp("", "run")
	defer os.RemoveAll(run)

	// The full model during training: encoder and projection head.
	full := map[string]*tensor.Tensor{
		"encoder.conv1.weight": tensor.New(8, 3, 3, 3),
		"encoder.bn1.bias":     tensor.New(8),
		"head.0.weight":        tensor.New(4, 8),
	}
	for step := int64(100); step <= 400; step += 100 {
		full["encoder.bn1.bias"].Data[0] = float32(step) // "training"
		ck := &checkpoint.Checkpoint{
			Arch: "tiny-cnn", Method: "simclr", Step: step, Epoch: int(step / 100),
			Metrics: map[string]float64{"loss": 4 - float64(step)/100},
			Model:   full,
		}
		if _, err := checkpoint.SaveStep(run, ck, 0); err != nil { // keeps the newest 2
			log.Fatal(err)
		}
	}

	dir, err := checkpoint.LatestIn(run)
	if err != nil {
		log.Fatal(err)
	}
	ck, err := checkpoint.LoadWeights(dir)
	if err != nil {
		log.Fatal(err)
	}
	encoder := map[string]*tensor.Tensor{
		"conv1.weight": tensor.New(8, 3, 3, 3),
		"bn1.bias":     tensor.New(8),
	}
	ck.Model = checkpoint.WithPrefix(ck.Model, "encoder.")
	if err := ck.ApplyTo(encoder, "tiny-cnn", true); err != nil {
		log.Fatal(err)
	}
	all, _ := checkpoint.List(run)
	fmt.Println(filepath.Base(dir), len(all), ck.Epoch, ck.Metrics["loss"], encoder["bn1.bias"].Data[0])

	// A model of another shape gets an error that says why.
	wide := map[string]*tensor.Tensor{"conv1.weight": tensor.New(16, 3, 3, 3), "bn1.bias": tensor.New(16)}
	ck.Dir = "runs/example"
	fmt.Println(ck.ApplyTo(wide, "wide-cnn", true))
	// Output:
	// step-000000400 2 4 0 400
	// checkpoint runs/example: bn1.bias: shape [8] in checkpoint, [16] in model; conv1.weight: shape [8 3 3 3] in checkpoint, [16 3 3 3] in model (is this checkpoint from another architecture? it says tiny-cnn, the model is wide-cnn)
}
