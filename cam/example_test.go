package cam_test

import (
	"fmt"
	"math/rand/v2"

	"selfsup/cam"
	"selfsup/data"
	"selfsup/eval"
	"selfsup/nn"
	"selfsup/tensor"
)

// Grad-CAM of a probe's class and the feature-norm map for a batch of
// images: one map per image, at the image's size, in [0, 1].
func ExampleExplainer() {
	enc, _ := nn.NewBackbone(nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 32}, rand.New(rand.NewPCG(1, 2)))
	// a probe of 10 classes on the encoder's 256 pooled features (normally
	// from cam.TrainProbe)
	probe := &eval.LinearClassifier{W: tensor.New(10, 256), B: tensor.New(10), Mean: tensor.New(256), Std: tensor.New(256)}
	for i := range probe.W.Data {
		probe.W.Data[i] = float32(i%7) - 3
	}
	for i := range probe.Std.Data {
		probe.Std.Data[i] = 1
	}
	x := tensor.New(2, 1, 32, 32)
	for i := range x.Data {
		x.Data[i] = float32(i%13) / 13
	}
	ex := &cam.Explainer{Encoder: enc, Probe: probe}
	maps, err := ex.Explain(x, cam.GradCAM, []int{3, cam.Predicted})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d Grad-CAM maps of %dx%d; the first explains class %d\n", len(maps), maps[0].H, maps[0].W, maps[0].Class)
	norms, _ := ex.Explain(x, cam.FeatureNorm, nil)
	fmt.Printf("feature-norm map of %dx%d\n", norms[0].H, norms[0].W)
	// Output:
	// 2 Grad-CAM maps of 32x32; the first explains class 3
	// feature-norm map of 32x32
}

// A localisation check: digits pasted at random on a larger canvas, with
// the box of each known, and the share of a map's mass inside it.
func ExamplePaste() {
	digits, err := data.Open("mnist", data.OpenOptions{Split: "test", Subset: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	pasted, _ := cam.Paste(digits, cam.PasteConfig{Size: 56, Seed: 1})
	box := pasted.Box(0)
	c, h, w := pasted.Shape()
	fmt.Printf("%dx%dx%d canvas, a %dx%d box\n", c, h, w, box.Dx(), box.Dy())
	uniform := cam.Map{H: h, W: w, Values: make([]float32, h*w)}
	for i := range uniform.Values {
		uniform.Values[i] = 1
	}
	fmt.Printf("a uniform map puts %.2f of its mass in the box\n", cam.MassInside(uniform, box))
	// Output:
	// 1x56x56 canvas, a 28x28 box
	// a uniform map puts 0.25 of its mass in the box
}
