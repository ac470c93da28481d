package loader

import (
	"context"
	"fmt"
	"io"
	"time"

	"selfsup/data"
)

// Throughput measures how fast the loader alone can deliver data: it runs
// the loader over n batches (continuing into later epochs when one epoch is
// shorter), releasing each batch at once, and returns views per second (one
// image with two views counts as two). Comparing it with a trainer's views
// per second shows whether data loading can keep up.
func Throughput(ds data.Dataset, cfg Config, n int) (float64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("loader: throughput over %d batches", n)
	}
	l, err := New(ds, cfg)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	views, batches := 0, 0
	start := time.Now()
	for epoch := 0; batches < n; epoch++ {
		it := l.Epoch(ctx, epoch)
		for batches < n {
			b, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				it.Close()
				return 0, err
			}
			views += b.Len() * len(b.Views)
			batches++
			l.Release(b)
		}
		it.Close()
	}
	return float64(views) / time.Since(start).Seconds(), nil
}
