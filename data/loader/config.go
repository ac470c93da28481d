package loader

import (
	"errors"
	"fmt"
	"runtime"

	"selfsup/data"
	"selfsup/data/augment"
)

// Config says how to batch and augment a dataset.
type Config struct {
	// BatchSize is the number of images per batch.
	BatchSize int
	// Views holds one pipeline per view: every image yields one view per
	// entry, in order. Two SimCLR views are {p, p}; DINO's multi-crop is
	// augment.MultiCrop(...). Views may differ in size. Pipelines are
	// shared by all workers, which augment's transforms allow.
	Views []augment.Transform
	// Shuffle draws a new sample order every epoch from (Seed, epoch);
	// otherwise images come in dataset order.
	Shuffle bool
	// DropLast drops the last, smaller batch of an epoch.
	DropLast bool
	// Seed makes the order and the augmentations reproducible.
	Seed uint64
	// Workers is the number of decoding and augmenting goroutines; 0 means
	// GOMAXPROCS.
	Workers int
	// Prefetch is the number of batches assembled ahead of the consumer;
	// 0 means 2, which keeps all workers busy because they share each
	// batch.
	Prefetch int
	// ViewShapes, when set, is the C, H, W each view must produce; New
	// fails when the pipelines disagree (a guard against a mistyped size).
	ViewShapes [][3]int
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Workers == 0 {
		c.Workers = max(runtime.GOMAXPROCS(0), 1)
	}
	if c.Prefetch == 0 {
		c.Prefetch = 2
	}
	c.Views = append([]augment.Transform(nil), c.Views...)
	c.ViewShapes = append([][3]int(nil), c.ViewShapes...)
	return c
}

func (c Config) validate() error {
	switch {
	case c.BatchSize <= 0:
		return fmt.Errorf("batch size %d is not positive", c.BatchSize)
	case len(c.Views) == 0:
		return errors.New("no views: give at least one pipeline (augment.Compose() copies images unchanged)")
	case c.Workers < 0:
		return fmt.Errorf("worker count %d is negative", c.Workers)
	case c.Prefetch < 0:
		return fmt.Errorf("prefetch %d is negative", c.Prefetch)
	case len(c.ViewShapes) != 0 && len(c.ViewShapes) != len(c.Views):
		return fmt.Errorf("%d view shapes for %d views", len(c.ViewShapes), len(c.Views))
	}
	for i, v := range c.Views {
		if v == nil {
			return fmt.Errorf("view %d is nil", i)
		}
	}
	return nil
}

// viewShapes works out the C, H, W of every view. Dimensions the dataset
// does not fix (image folders of varying size) are taken from image 0; the
// workers then check every image against them.
func viewShapes(ds data.Dataset, cfg Config) ([][3]int, error) {
	c, h, w := ds.Shape()
	shapes := make([][3]int, len(cfg.Views))
	probed := false
	for v, t := range cfg.Views {
		oc, oh, ow, err := t.OutShape(c, h, w)
		if err != nil {
			return nil, fmt.Errorf("view %d for %s (%dx%dx%d images): %w", v, ds.Name(), c, h, w, err)
		}
		if oc == 0 || oh == 0 || ow == 0 {
			if !probed {
				img, err := ds.Image(0, data.Image{})
				if err != nil {
					return nil, fmt.Errorf("reading image 0 to size the views: %w", err)
				}
				c, h, w, probed = img.C, img.H, img.W, true
			}
			if oc, oh, ow, err = t.OutShape(c, h, w); err != nil {
				return nil, fmt.Errorf("view %d for %s image 0 (%dx%dx%d): %w", v, ds.Name(), c, h, w, err)
			}
			if oc <= 0 || oh <= 0 || ow <= 0 {
				return nil, fmt.Errorf("view %d: %v gives no output size for a %dx%dx%d image", v, t, c, h, w)
			}
		}
		shapes[v] = [3]int{oc, oh, ow}
		if len(cfg.ViewShapes) != 0 && cfg.ViewShapes[v] != shapes[v] {
			return nil, fmt.Errorf("view %d produces %dx%dx%d images, the configuration expects %dx%dx%d",
				v, oc, oh, ow, cfg.ViewShapes[v][0], cfg.ViewShapes[v][1], cfg.ViewShapes[v][2])
		}
	}
	return shapes, nil
}
