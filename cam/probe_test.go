package cam

import (
	"context"
	"image"
	"testing"

	"selfsup/data"
)

// TestTrainProbeAndExplainDataset runs the dataset path end to end on
// blobs: the probe separates the three classes (their brightness differs)
// and the feature-norm maps of a random-init encoder already sit on the
// bright square (the test box, the square grown by 2 pixels on every
// side, covers a quarter of the image).
func TestTrainProbeAndExplainDataset(t *testing.T) {
	ctx := context.Background()
	ds := blobs{n: 60, size: 16}
	enc := tinyResNet(t, 5)
	probe, err := TrainProbe(ctx, enc, ds, ProbeConfig{Images: 30, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if probe.NumClasses() != 3 || probe.Dim() != 64 {
		t.Fatalf("probe of %d classes on %d features", probe.NumClasses(), probe.Dim())
	}
	idx := []int{0, 1, 2, 3, 4, 5, 6, 7}
	ex := &Explainer{Encoder: enc, Probe: probe}
	maps, err := ex.ExplainDataset(ctx, ds, idx, GradCAM, TargetLabel, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range maps {
		if m.Class != ds.Label(idx[i]) {
			t.Errorf("map %d explains class %d, its label is %d", i, m.Class, ds.Label(idx[i]))
		}
	}
	pred, err := ex.ExplainDataset(ctx, ds, idx, GradCAM, TargetPredicted, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range pred {
		if m.Class != m.Predicted {
			t.Errorf("map %d explains %d, predicted %d", i, m.Class, m.Predicted)
		}
	}
	norms, err := ex.ExplainDataset(ctx, ds, idx, FeatureNorm, TargetLabel, 0)
	if err != nil {
		t.Fatal(err)
	}
	boxes := make([]image.Rectangle, len(idx))
	for k, i := range idx {
		x, y, s := ds.box(i)
		boxes[k] = image.Rect(x, y, x+s, y+s).Inset(-2)
	}
	if m, used := MeanMassInside(norms, boxes); used == 0 || m < 0.3 {
		t.Errorf("feature-norm mass inside the squares' boxes (a quarter of the image) is %.3f over %d maps", m, used)
	}
	if _, err := ex.ExplainDataset(ctx, ds, []int{60}, FeatureNorm, TargetLabel, 0); err == nil {
		t.Error("an index past the end gave no error")
	}
}

func TestTrainProbeErrors(t *testing.T) {
	enc := tinyResNet(t, 5)
	unlabelled, err := data.Subset(blobs{n: 6, size: 16}, []int{0, 3})
	if err != nil {
		t.Fatal(err)
	}
	// two images of one class (labels 0 and 0)
	if _, err := TrainProbe(context.Background(), enc, unlabelled, ProbeConfig{}); err == nil {
		t.Error("a probe on one class gave no error")
	}
}
