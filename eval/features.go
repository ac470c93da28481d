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
	// stem / embedding. Any other value is an error (see CheckStage).
	Stage int
	// Progress receives a progress bar (nil: none).
	Progress io.Writer
	// Label names the bar.
	Label string
}

// Extract runs the frozen encoder (evaluation mode, no gradient) over every
// image of ds and returns the features. The encoder's training mode is
// restored afterwards. A Stage the backbone does not have is an error that
// names the valid range.
func Extract(ctx context.Context, enc nn.Backbone, ds data.Dataset, cfg ExtractConfig) (*Features, error) {
	if err := CheckStage(enc, cfg.Stage); err != nil {
		return nil, fmt.Errorf("extract features of %s: %w", ds.Name(), err)
	}
	out, err := extract(ctx, enc, ds, cfg, 1, func(x *tensor.Tensor, dst []*tensor.Tensor) {
		dst[0] = forwardStage(enc, x, cfg.Stage)
	})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// ExtractStages runs the frozen encoder once over every image of ds and
// returns the globally pooled output of every stage: element 0 is the stem
// (or a ViT's patch embedding, Stage -1 of Extract), element k the output
// of stage k (Stage k of Extract), up to enc.NumStages(). One pass is much
// cheaper than one Extract per stage; it holds N*(sum of stage widths)
// floats. cfg.Stage is ignored.
func ExtractStages(ctx context.Context, enc nn.Backbone, ds data.Dataset, cfg ExtractConfig) ([]*Features, error) {
	k := enc.NumStages()
	return extract(ctx, enc, ds, cfg, k+1, func(x *tensor.Tensor, dst []*tensor.Tensor) {
		maps := enc.ForwardStages(autograd.Const(x), k, true)
		for i, m := range maps {
			dst[i] = globalPool(m)
			m.Free()
		}
	})
}

// CheckStage reports whether stage is a valid ExtractConfig.Stage for enc:
// -1 (stem), 0 (pooled output) or 1..enc.NumStages(). The error names the
// valid range.
func CheckStage(enc nn.Backbone, stage int) error {
	if n := enc.NumStages(); stage < -1 || stage > n {
		return fmt.Errorf("stage %d does not exist: the backbone has %d stages (valid: 1..%d, 0 for the pooled output, -1 for the stem)", stage, n, n)
	}
	return nil
}

// extract is the loop behind Extract and ExtractStages: forward fills one
// [B, D_j] pool tensor per output j for a batch, which is copied into the
// features in dataset order and returned to the pool.
func extract(ctx context.Context, enc nn.Backbone, ds data.Dataset, cfg ExtractConfig, outputs int, forward func(x *tensor.Tensor, dst []*tensor.Tensor)) ([]*Features, error) {
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
	feats := make([]*tensor.Tensor, outputs)
	got := make([]*tensor.Tensor, outputs)
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
		err = autograd.Guard(func() error {
			autograd.NoGrad(func() { forward(b.Views[0], got) })
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("extract features of %s: %w", ds.Name(), err)
		}
		for j, f := range got {
			d := f.Dim(1)
			if feats[j] == nil {
				feats[j] = tensor.New(n, d)
			}
			for k, idx := range b.Indices {
				copy(feats[j].Data[idx*d:(idx+1)*d], f.Data[k*d:(k+1)*d])
			}
			tensor.Buffers.Put(f)
			got[j] = nil
		}
		for k, idx := range b.Indices {
			labels[idx] = b.Labels[k]
		}
		ld.Release(b)
		if bar != nil {
			bar.Add(int64(b.Len()))
		}
	}
	if feats[0] == nil {
		return nil, fmt.Errorf("extract features of %s: the dataset is empty", ds.Name())
	}
	out := make([]*Features, outputs)
	for j, f := range feats {
		out[j] = &Features{X: f, Labels: labels}
	}
	return out, nil
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
	pooled := globalPool(last)
	last.Free()
	return pooled
}

// globalPool averages a feature map [B, C, H, W] over its positions or a
// token sequence [B, T, D] over its tokens, giving a [B, C] or [B, D] pool
// tensor.
func globalPool(m *autograd.Var) *tensor.Tensor {
	if m.Value.Dims() == 4 {
		return autograd.GlobalAvgPool(m).Value
	}
	return autograd.MeanAxis(m, 1, false).Value
}
