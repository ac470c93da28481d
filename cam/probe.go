package cam

import (
	"context"
	"fmt"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/nn"
	"selfsup/tensor"
)

// ProbeConfig sets up TrainProbe.
type ProbeConfig struct {
	// Images is how many labelled training images the probe is fitted on:
	// a seeded class-balanced share when the dataset holds more (0: 10000).
	Images int
	// Seed picks the images.
	Seed uint64
	// BatchSize of the forward passes (0: 128).
	BatchSize int
	// Linear is the probe's protocol (the zero value: L-BFGS with weight
	// decay 1e-4, no selection, which is quick and enough to pick a class).
	Linear eval.LinearConfig
}

// TrainProbe fits the linear probe Grad-CAM explains: multinomial logistic
// regression on the spatially pooled last feature map of the frozen
// encoder (the features Explain pools, so that for a ResNet they are its
// pooled output), over up to cfg.Images labelled images of ds. The encoder
// is left in training mode afterwards, as eval.Extract does.
func TrainProbe(ctx context.Context, enc nn.Backbone, ds data.Dataset, cfg ProbeConfig) (*eval.LinearClassifier, error) {
	if cfg.Images <= 0 {
		cfg.Images = 10000
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 128
	}
	if cfg.Linear.WeightDecay == 0 && !cfg.Linear.SelectWeightDecay {
		cfg.Linear.WeightDecay = 1e-4
	}
	labelled, err := data.Labeled(ds)
	if err != nil {
		return nil, fmt.Errorf("cam probe: %w", err)
	}
	classes := len(labelled.Classes())
	present := map[int]bool{}
	for i := range labelled.Len() {
		present[labelled.Label(i)] = true
	}
	if classes < 2 || len(present) < 2 {
		return nil, fmt.Errorf("cam probe: %s has %d labelled images of %d classes; a probe needs images of at least 2 classes", ds.Name(), labelled.Len(), len(present))
	}
	if labelled.Len() > cfg.Images {
		idx, err := data.ClassBalancedIndices(labelled, float64(cfg.Images)/float64(labelled.Len()), cfg.Seed)
		if err != nil {
			return nil, fmt.Errorf("cam probe: %w", err)
		}
		if labelled, err = data.Subset(labelled, idx); err != nil {
			return nil, fmt.Errorf("cam probe: %w", err)
		}
	}
	x, labels, err := PooledFeatures(ctx, enc, labelled, cfg.BatchSize)
	if err != nil {
		return nil, err
	}
	lc, _, err := eval.TrainLinear(x, labels, classes, cfg.Linear)
	if err != nil {
		return nil, fmt.Errorf("cam probe on %s: %w", ds.Name(), err)
	}
	return lc, nil
}

// PooledFeatures returns the spatial mean of the frozen encoder's last
// feature map (see FeatureMap) for every image of ds, [N, C], with the
// labels: the features TrainProbe fits on. The encoder runs in evaluation
// mode and is left in training mode.
func PooledFeatures(ctx context.Context, enc nn.Backbone, ds data.Dataset, batch int) (*tensor.Tensor, []int, error) {
	if batch <= 0 {
		batch = 128
	}
	n := ds.Len()
	if n == 0 {
		return nil, nil, fmt.Errorf("cam: %s is empty", ds.Name())
	}
	enc.SetTraining(false)
	defer enc.SetTraining(true)
	var feats *tensor.Tensor
	labels := make([]int, 0, n)
	idx := make([]int, 0, batch)
	for lo := 0; lo < n; lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		idx = idx[:0]
		for i := lo; i < min(lo+batch, n); i++ {
			idx = append(idx, i)
		}
		x, l, err := readBatch(ds, idx)
		if err != nil {
			return nil, nil, err
		}
		a, err := FeatureMap(enc, x)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", ds.Name(), err)
		}
		p := poolMap(a)
		tensor.Buffers.Put(a)
		d := p.Dim(1)
		if feats == nil {
			feats = tensor.New(n, d)
		}
		copy(feats.Data[lo*d:], p.Data)
		labels = append(labels, l...)
	}
	return feats, labels, nil
}
