package augment

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"selfsup/data"
)

// Transform maps one image to another, drawing any randomness from r.
// See the package documentation for who owns which memory.
type Transform interface {
	// Apply writes the transformed src into dst's storage (growing it when
	// too small) and returns the result. It never writes src's memory
	// unless dst shares it, which only InPlace transforms allow.
	Apply(dst, src data.Image, r *rand.Rand) data.Image
	// OutShape reports the C, H, W that Apply produces from a c x h x w
	// input, or an error saying why such an input cannot be transformed.
	// An input dimension of 0 means "unknown or varying"; an output
	// dimension that depends on it is then 0 as well.
	OutShape(c, h, w int) (int, int, int, error)
}

// InPlacer is implemented by transforms whose Apply accepts dst and src
// sharing the same memory. A Pipeline runs such steps in place and avoids a
// copy; transforms without the method are treated as not in place.
type InPlacer interface {
	InPlace() bool
}

func inPlace(t Transform) bool {
	ip, ok := t.(InPlacer)
	return ok && ip.InPlace()
}

// Pipeline applies its steps one after another. Build it with Compose. It is
// safe for concurrent use: each call works in the caller's dst, and the
// intermediate images needed by steps that cannot run in place come from a
// free list that is never trimmed, so the steady state allocates nothing.
type Pipeline struct {
	steps []Transform

	mu   sync.Mutex
	free []*data.Image // intermediates for out-of-place steps after the first
}

// Compose returns a Pipeline running steps in order. With no steps the
// pipeline copies its input.
func Compose(steps ...Transform) *Pipeline {
	return &Pipeline{steps: append([]Transform(nil), steps...)}
}

// Steps returns the pipeline's transforms; the caller must not modify the
// slice.
func (p *Pipeline) Steps() []Transform { return p.steps }

// Apply runs the steps: the first reads src and writes dst, the others work
// on the result in dst (directly when they run in place, through a pooled
// intermediate image and a copy back otherwise). dst must not overlap src
// unless every step runs in place.
func (p *Pipeline) Apply(dst, src data.Image, r *rand.Rand) data.Image {
	if len(p.steps) == 0 {
		return copyInto(dst, src)
	}
	cur := p.steps[0].Apply(dst, src, r)
	for _, t := range p.steps[1:] {
		if inPlace(t) {
			cur = t.Apply(cur, cur, r)
			continue
		}
		tmp := p.getTmp()
		*tmp = t.Apply(*tmp, cur, r)
		cur = copyInto(cur, *tmp)
		p.putTmp(tmp)
	}
	return cur
}

func (p *Pipeline) getTmp() *data.Image {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := len(p.free); k > 0 {
		t := p.free[k-1]
		p.free = p.free[:k-1]
		return t
	}
	return new(data.Image)
}

func (p *Pipeline) putTmp(t *data.Image) {
	p.mu.Lock()
	p.free = append(p.free, t)
	p.mu.Unlock()
}

// OutShape chains the steps' shapes and reports the first step that rejects
// its input, naming it.
func (p *Pipeline) OutShape(c, h, w int) (int, int, int, error) {
	for i, t := range p.steps {
		var err error
		c, h, w, err = t.OutShape(c, h, w)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("step %d (%v): %w", i+1, t, err)
		}
	}
	return c, h, w, nil
}

// InPlace reports whether every step runs in place, in which case the whole
// pipeline may be applied with dst == src.
func (p *Pipeline) InPlace() bool {
	for _, t := range p.steps {
		if !inPlace(t) {
			return false
		}
	}
	return true
}

// String lists the steps, for logs and run reports.
func (p *Pipeline) String() string {
	var b strings.Builder
	b.WriteString("Compose(")
	for i, t := range p.steps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, t)
	}
	b.WriteString(")")
	return b.String()
}

// fit returns dst resized to c x h x w, reusing its storage when the
// capacity allows. The contents are undefined.
func fit(dst data.Image, c, h, w int) data.Image {
	n := c * h * w
	if cap(dst.Pix) < n {
		dst.Pix = make([]float32, n)
	} else {
		dst.Pix = dst.Pix[:n]
	}
	dst.C, dst.H, dst.W = c, h, w
	return dst
}

// copyInto copies src into dst's storage (a no-op when they are the same
// memory) and returns the result.
func copyInto(dst, src data.Image) data.Image {
	if same(dst, src) {
		return src
	}
	dst = fit(dst, src.C, src.H, src.W)
	copy(dst.Pix, src.Pix)
	return dst
}

// same reports whether a and b start at the same element, i.e. an in-place
// call.
func same(a, b data.Image) bool {
	return len(a.Pix) > 0 && len(b.Pix) > 0 && &a.Pix[0] == &b.Pix[0]
}

// checkDims rejects negative sizes; 0 is allowed and means "unknown".
func checkDims(c, h, w int) error {
	if c < 0 || h < 0 || w < 0 {
		return fmt.Errorf("negative image size %dx%dx%d", c, h, w)
	}
	return nil
}

// uniform returns a float64 drawn uniformly from [lo, hi).
func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// hit draws a Bernoulli(p) event the way torchvision's random transforms do
// (apply when a uniform draw is below p). It always consumes one number, so
// the generator's stream does not depend on p.
func hit(r *rand.Rand, p float64) bool { return r.Float64() < p }

// checkProb validates a probability field.
func checkProb(name string, p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("%s probability %v outside [0, 1]", name, p)
	}
	return nil
}
