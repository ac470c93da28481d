package data

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// BadImage is an image that Validate could not read.
type BadImage struct {
	Index int    // index in the dataset that was validated
	Path  string // the file, when the dataset knows it (image folders)
	Err   error  // why it could not be read
}

// Error returns "path: problem", or "image N: problem" without a path.
func (b BadImage) Error() string {
	if b.Path != "" {
		var ie *ImageError
		if errors.As(b.Err, &ie) {
			return ie.Error()
		}
		return b.Path + ": " + b.Err.Error()
	}
	return fmt.Sprintf("image %d: %v", b.Index, b.Err)
}

// Validate reads every image of ds (in parallel) to find the ones that
// cannot be decoded, which matters for image folders where files are only
// decoded when used. It returns a dataset without the bad images and the
// list of those, in index order. With strict, the first bad image is an
// error instead. Datasets held in memory never fail and come back as they
// are.
func Validate(ds Dataset, strict bool) (Dataset, []BadImage, error) {
	n := ds.Len()
	errs := make([]error, n)
	var next atomic.Int64
	var nbad atomic.Int64
	workers := min(runtime.GOMAXPROCS(0), max(n, 1))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf Image
			for {
				i := int(next.Add(1) - 1)
				if i >= n || (strict && nbad.Load() > 0) {
					return
				}
				img, err := ds.Image(i, buf)
				if err != nil {
					errs[i] = err
					nbad.Add(1)
					continue
				}
				buf = img
			}
		}()
	}
	wg.Wait()
	if nbad.Load() == 0 {
		return ds, nil, nil
	}
	var bad []BadImage
	good := make([]int, 0, n)
	for i, err := range errs {
		if err == nil {
			good = append(good, i)
			continue
		}
		bad = append(bad, BadImage{Index: i, Path: ImagePath(ds, i), Err: err})
	}
	if strict {
		return nil, bad, fmt.Errorf("%s: unreadable image %v (strict mode stops at the first one; without it unreadable images are skipped)", ds.Name(), bad[0])
	}
	if len(good) == 0 {
		return nil, bad, fmt.Errorf("%s: none of the %d images is readable (first: %v)", ds.Name(), n, bad[0])
	}
	out, err := Subset(ds, good)
	return out, bad, err
}

// SkippedMessage is the one-line warning for images Validate dropped:
// "skipped N unreadable images (first: path: reason)". It is "" for none.
func SkippedMessage(bad []BadImage) string {
	switch len(bad) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("skipped 1 unreadable image (%v)", bad[0])
	}
	return fmt.Sprintf("skipped %d unreadable images (first: %v)", len(bad), bad[0])
}

// pather is implemented by datasets that know the file of each image.
type pather interface{ Path(i int) string }

// ImagePath returns the file image i of ds was read from, looking through
// the wrappers of this package, or "" when the dataset does not store images
// as separate files.
func ImagePath(ds Dataset, i int) string {
	for {
		switch d := ds.(type) {
		case pather:
			return d.Path(i)
		case *subset:
			ds, i = d.parent, d.indices[i]
		case *resized:
			ds = d.parent
		case *concat:
			ds, i = d.locate(i)
		default:
			return ""
		}
	}
}
