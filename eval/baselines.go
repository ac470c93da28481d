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
	"selfsup/tensor"
)

// PixelFeatures returns the raw pixels of every image of ds as features
// (flattened C*H*W): the baseline every learned representation must beat.
func PixelFeatures(ds data.Dataset) (*Features, error) {
	c, h, w := ds.Shape()
	if c == 0 {
		return nil, fmt.Errorf("pixel features of %s: images vary in size (resize them)", ds.Name())
	}
	d := c * h * w
	x := tensor.New(ds.Len(), d)
	labels := make([]int, ds.Len())
	img := data.NewImage(c, h, w)
	for i := 0; i < ds.Len(); i++ {
		got, err := ds.Image(i, img)
		if err != nil {
			return nil, fmt.Errorf("pixel features of %s: %w", ds.Name(), err)
		}
		copy(x.Data[i*d:(i+1)*d], got.Pix)
		labels[i] = ds.Label(i)
	}
	return &Features{X: x, Labels: labels}, nil
}

// RecalibrateBN recomputes the running statistics of every batch-norm layer
// of enc as the exact average over the first n images of ds (forward passes
// in training mode, no gradient), then leaves enc in evaluation mode. A
// random-init encoder's running statistics are the initial 0/1 and say
// nothing about the data; this gives it the statistics a trained encoder
// would have, so its probe reports its features rather than an
// unnormalised network. transform prepares the images (nil: as they are).
func RecalibrateBN(ctx context.Context, enc nn.Backbone, ds data.Dataset, n int, transform augment.Transform) error {
	if n <= 0 || n > ds.Len() {
		n = ds.Len()
	}
	var bns []*nn.BatchNorm
	collectBN(enc, &bns)
	if len(bns) == 0 {
		return nil
	}
	momentum := make([]float32, len(bns))
	for i, b := range bns {
		momentum[i] = b.State.Momentum
		b.State.RunningMean.Zero()
		b.State.RunningVar.Zero()
	}
	defer func() {
		for i, b := range bns {
			b.State.Momentum = momentum[i]
		}
	}()
	views := []augment.Transform{transform}
	if transform == nil {
		views = []augment.Transform{augment.Compose()}
	}
	sub, err := data.Subset(ds, firstN(n))
	if err != nil {
		return err
	}
	ld, err := loader.New(sub, loader.Config{BatchSize: 256, Views: views})
	if err != nil {
		return fmt.Errorf("recalibrate batch norm on %s: %w", ds.Name(), err)
	}
	enc.SetTraining(true)
	defer enc.SetTraining(false)
	it := ld.Epoch(ctx, 0)
	defer it.Close()
	for k := 1; ; k++ {
		b, err := it.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("recalibrate batch norm on %s: %w", ds.Name(), err)
		}
		for _, bn := range bns {
			bn.State.Momentum = 1 / float32(k) // cumulative average
		}
		autograd.NoGrad(func() {
			f := enc.Forward(autograd.Const(b.Views[0]))
			f.Free()
		})
		ld.Release(b)
	}
}

func firstN(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// collectBN finds the batch-norm layers of a module through its state: any
// layer whose running statistics appear there.
func collectBN(m nn.Module, out *[]*nn.BatchNorm) {
	nn.VisitBatchNorms(m, func(b *nn.BatchNorm) { *out = append(*out, b) })
}
