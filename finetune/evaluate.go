package finetune

import (
	"context"
	"fmt"
	"io"

	"selfsup/autograd"
	"selfsup/data"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/eval"
	"selfsup/methods"
	"selfsup/tensor"
)

// Evaluate classifies every image of ds (as it is, no augmentation) with
// the model in evaluation mode and without gradients, and returns top-1
// and top-5 accuracy with the predictions. Every image must be labelled.
// The model is left in evaluation mode.
func Evaluate(ctx context.Context, m *methods.Supervised, ds data.Dataset, batch int) (*eval.Evaluation, error) {
	if batch <= 0 {
		batch = 256
	}
	ld, err := loader.New(ds, loader.Config{BatchSize: batch, Views: []augment.Transform{augment.Compose()}})
	if err != nil {
		return nil, fmt.Errorf("evaluate on %s: %w", ds.Name(), err)
	}
	n, c := ds.Len(), m.P.Classes
	scores := tensor.New(n, c)
	labels := make([]int, n)
	m.SetTraining(false)
	it := ld.Epoch(ctx, 0)
	defer it.Close()
	for {
		b, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("evaluate on %s: %w", ds.Name(), err)
		}
		err = autograd.Guard(func() error {
			autograd.NoGrad(func() {
				z := m.Logits(autograd.Const(b.Views[0]))
				for k, idx := range b.Indices {
					copy(scores.Data[idx*c:(idx+1)*c], z.Value.Data[k*c:(k+1)*c])
					labels[idx] = b.Labels[k]
				}
				z.Free()
			})
			return nil
		})
		ld.Release(b)
		if err != nil {
			return nil, fmt.Errorf("evaluate on %s: %w", ds.Name(), err)
		}
	}
	for i, l := range labels {
		if l < 0 || l >= c {
			return nil, fmt.Errorf("evaluate on %s: image %d has label %d; the %d-class model needs labels in [0, %d)", ds.Name(), i, l, c, c)
		}
	}
	top1, err := eval.TopKAccuracy(scores, labels, 1)
	if err != nil {
		return nil, err
	}
	top5, err := eval.TopKAccuracy(scores, labels, min(5, c))
	if err != nil {
		return nil, err
	}
	pred, err := eval.Argmax(scores)
	if err != nil {
		return nil, err
	}
	return &eval.Evaluation{NumClasses: c, Top1: top1, Top5: top5, Predictions: pred, Labels: labels}, nil
}
