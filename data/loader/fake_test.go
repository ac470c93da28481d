package loader

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"selfsup/data"
	"selfsup/data/augment"
)

// fakeDS is an in-memory dataset whose pixels are a function of the index.
// Images listed in bad fail to decode; when sizes is set, image i has side
// sizes[i%len(sizes)] and Shape reports zeros, like an image folder.
type fakeDS struct {
	n, c, h, w int
	bad        map[int]bool
	sizes      []int
}

func (f *fakeDS) Name() string { return "fake/train" }
func (f *fakeDS) Len() int     { return f.n }
func (f *fakeDS) Label(i int) int {
	return (i * 7) % 10
}
func (f *fakeDS) Classes() []string {
	return []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
}
func (f *fakeDS) Shape() (int, int, int) {
	if f.sizes != nil {
		return 0, 0, 0
	}
	return f.c, f.h, f.w
}

func (f *fakeDS) Image(i int, dst data.Image) (data.Image, error) {
	if i < 0 || i >= f.n {
		return dst, fmt.Errorf("fake: index %d out of range", i)
	}
	if f.bad[i] {
		return dst, fmt.Errorf("fake/img%04d.png: corrupt PNG header", i)
	}
	h, w := f.h, f.w
	if f.sizes != nil {
		h = f.sizes[i%len(f.sizes)]
		w = h
	}
	n := f.c * h * w
	if cap(dst.Pix) < n {
		dst.Pix = make([]float32, n)
	}
	dst = data.Image{C: f.c, H: h, W: w, Pix: dst.Pix[:n]}
	r := rand.New(rand.NewPCG(uint64(i), 1))
	for j := range dst.Pix {
		dst.Pix[j] = r.Float32()
	}
	return dst, nil
}

// goroutinesSettle waits until the goroutine count is back to base, since
// exiting goroutines may still be unwinding when Close returns.
func goroutinesSettle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), base, buf[:n])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// twoViews is a SimCLR-like configuration with views of different sizes.
func twoViews() []augment.Transform {
	return []augment.Transform{augment.SimCLR(12, 0.5), augment.MultiCrop(12, 6, 1)[2]}
}
