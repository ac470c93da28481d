package finetune

import (
	"math/rand/v2"
	"selfsup/internal/testsets"
	"testing"

	"selfsup/nn"
)

// patterns is the tiny four-class dataset of the tests (testsets.Patterns).
type patterns = testsets.Patterns

// tinyBackbone is the small ResNet for 1x16x16 images.
var tinyBackbone = nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}

// pretrained returns a freshly initialised encoder standing in for a
// pretrained one.
func pretrained(t *testing.T, seed uint64) nn.Backbone {
	t.Helper()
	enc, err := nn.NewBackbone(tinyBackbone, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// snapshot copies every parameter and buffer of m.
func snapshot(m nn.Module) map[string][]float32 {
	out := map[string][]float32{}
	for name, t := range nn.StateDict("", m) {
		out[name] = append([]float32(nil), t.Data...)
	}
	return out
}

// changed lists the tensors of after that differ from before.
func changed(before, after map[string][]float32) map[string]bool {
	out := map[string]bool{}
	for name, x := range after {
		y := before[name]
		for i := range x {
			if x[i] != y[i] {
				out[name] = true
				break
			}
		}
	}
	return out
}
