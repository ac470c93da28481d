package eval

import (
	"context"
	"fmt"
	"io"

	"selfsup/autograd"
	"selfsup/data"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/runlog"
	"selfsup/tensor"
)

// Features holds one feature vector per image of a dataset, in dataset
// order, with the images' labels (-1 for unlabeled ones).
type Features struct {
	X      *tensor.Tensor // [N, D]
	Labels []int
}

// ExtractConfig controls feature extraction.
type ExtractConfig struct {
	// Transform prepares each image (nil: the images as they are, which
	// must all have one size).
	Transform augment.Transform
	// BatchSize of the forward passes (0: 256).
	BatchSize int
	// Stage selects what is extracted: 0 (the default) the backbone's
	// pooled output; k >= 1 the globally pooled output of stage k
	// (ResNet: after layer k; ViT: mean token after block group k); -1 the
	// stem / embedding.
	Stage int
	// Progress receives a progress bar (nil: none).
	Progress io.Writer
	// Label names the bar.
	Label string
}

// Extract runs the frozen encoder (evaluation mode, no gradient) over every
// image of ds and returns the features. The encoder's training mode is
// restored afterwards.
func Extract(ctx context.Context, enc nn.Backbone, ds data.Dataset, cfg ExtractConfig) (*Features, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	views := []augment.Transform{cfg.Transform}
	if cfg.Transform == nil {
		views = []augment.Transform{augment.Compose()}
	}
	ld, err := loader.New(ds, loader.Config{BatchSize: cfg.BatchSize, Views: views, Shuffle: false, DropLast: false})
	if err != nil {
		return nil, fmt.Errorf("extract features of %s: %w", ds.Name(), err)
	}
	n := ds.Len()
	labels := make([]int, n)
	var feats *tensor.Tensor
	var bar *runlog.Progress
	if cfg.Progress != nil {
		label := cfg.Label
		if label == "" {
			label = "features " + ds.Name()
		}
		bar = runlog.NewProgress(cfg.Progress, int64(n), label, runlog.WithUnit("img"))
		defer bar.Finish()
	}
	enc.SetTraining(false)
	defer enc.SetTraining(true)
	it := ld.Epoch(ctx, 0)
	defer it.Close()
	for {
		b, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("extract features of %s: %w", ds.Name(), err)
		}
		var f *tensor.Tensor
		err = autograd.Guard(func() error {
			autograd.NoGrad(func() { f = forwardStage(enc, b.Views[0], cfg.Stage) })
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("extract features of %s: %w", ds.Name(), err)
		}
		d := f.Dim(1)
		if feats == nil {
			feats = tensor.New(n, d)
		}
		for k, idx := range b.Indices {
			copy(feats.Data[idx*d:(idx+1)*d], f.Data[k*d:(k+1)*d])
			labels[idx] = b.Labels[k]
		}
		tensor.Buffers.Put(f)
		ld.Release(b)
		if bar != nil {
			bar.Add(int64(b.Len()))
		}
	}
	if feats == nil {
		return nil, fmt.Errorf("extract features of %s: the dataset is empty", ds.Name())
	}
	return &Features{X: feats, Labels: labels}, nil
}

// forwardStage returns the requested features of a batch as a pool tensor.
func forwardStage(enc nn.Backbone, x *tensor.Tensor, stage int) *tensor.Tensor {
	in := autograd.Const(x)
	if stage == 0 {
		return enc.Forward(in).Value
	}
	upto := stage
	if stage < 0 {
		upto = 0
	}
	maps := enc.ForwardStages(in, upto, false)
	last := maps[len(maps)-1]
	var pooled *autograd.Var
	if last.Value.Dims() == 4 {
		pooled = autograd.GlobalAvgPool(last)
	} else { // tokens [B, T, D]
		pooled = autograd.MeanAxis(last, 1, false)
	}
	last.Free()
	return pooled.Value
}
