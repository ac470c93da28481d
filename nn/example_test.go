package nn_test

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"selfsup/autograd"
	"selfsup/nn"
	"selfsup/tensor"
)

// ExampleNewBackbone builds the small ResNet for 16x16 RGB images, encodes
// a random batch of two images in evaluation mode without recording a
// graph, and lists the size of its state dict (parameters plus batch-norm
// buffers, the names a checkpoint stores).
func ExampleNewBackbone() {
	r := rand.New(rand.NewPCG(1, 2))
	enc, err := nn.NewBackbone(nn.BackboneConfig{Arch: "resnet-small", InChannels: 3, ImageSize: 16}, r)
	if err != nil {
		fmt.Println(err)
		return
	}
	x := tensor.New(2, 3, 16, 16)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	enc.SetTraining(false)
	var shape []int
	autograd.NoGrad(func() {
		shape = enc.Forward(autograd.Const(x)).Shape()
	})
	state := nn.StateOf(enc)
	fmt.Println("features:", shape, "OutDim:", enc.OutDim())
	fmt.Println("parameter tensors:", len(state.Params), "buffers:", len(state.Buffers), "state dict entries:", len(nn.StateDict("", enc)))
	fmt.Println("parameters:", nn.NumParams(enc))
	names := make([]string, 0, len(state.Params))
	for _, p := range state.Params {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	fmt.Println("first names:", names[:3])
	// Output:
	// features: [2 256] OutDim: 256
	// parameter tensors: 30 buffers: 30 state dict entries: 60
	// parameters: 1207840
	// first names: [bn1.bias bn1.weight conv1.weight]
}
