package data

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sort"
)

// subset is a view of some images of a parent dataset, optionally with some
// labels hidden (set to -1).
type subset struct {
	name    string
	parent  Dataset
	indices []int
	hidden  []bool // nil, or true where the label is hidden
}

// Subset returns the images of ds at indices, in that order, as a dataset.
// Indices must lie in [0, ds.Len()); they may repeat.
func Subset(ds Dataset, indices []int) (Dataset, error) {
	n := ds.Len()
	for _, i := range indices {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("%s: subset index %d out of range [0, %d)", ds.Name(), i, n)
		}
	}
	return &subset{
		name:    fmt.Sprintf("%s[%d of %d]", ds.Name(), len(indices), n),
		parent:  ds,
		indices: slices.Clone(indices),
	}, nil
}

// The Dataset methods of subset; see Dataset for their contracts.
func (s *subset) Name() string         { return s.name }
func (s *subset) Len() int             { return len(s.indices) }
func (s *subset) Classes() []string    { return s.parent.Classes() }
func (s *subset) Shape() (c, h, w int) { return s.parent.Shape() }

func (s *subset) Image(i int, dst Image) (Image, error) {
	if i < 0 || i >= len(s.indices) {
		return dst, fmt.Errorf("%s: image index %d out of range [0, %d)", s.name, i, len(s.indices))
	}
	return s.parent.Image(s.indices[i], dst)
}

func (s *subset) Label(i int) int {
	if s.hidden != nil && s.hidden[i] {
		return -1
	}
	return s.parent.Label(s.indices[i])
}

// Labeled returns the images of ds that have a label (Label >= 0), in order.
// After opening with OpenOptions.LabelsFraction it is the class-balanced
// labeled part that a linear probe or fine-tuning trains on.
func Labeled(ds Dataset) (Dataset, error) {
	var idx []int
	for i := range ds.Len() {
		if ds.Label(i) >= 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("%s: no labeled images", ds.Name())
	}
	return Subset(ds, idx)
}

// WithLabelsFraction returns all images of ds but keeps the labels of only a
// class-balanced fraction of them (chosen by ClassBalancedIndices with seed);
// the others read as unlabeled (-1). This serves the semi-supervised setting:
// pretrain on every image, then probe on Labeled of the result.
func WithLabelsFraction(ds Dataset, fraction float64, seed uint64) (Dataset, error) {
	keep, err := ClassBalancedIndices(ds, fraction, seed)
	if err != nil {
		return nil, err
	}
	hidden := make([]bool, ds.Len())
	for i := range hidden {
		hidden[i] = true
	}
	for _, i := range keep {
		hidden[i] = false
	}
	idx := make([]int, ds.Len())
	for i := range idx {
		idx[i] = i
	}
	return &subset{
		name:    fmt.Sprintf("%s[labels %g%%]", ds.Name(), 100*fraction),
		parent:  ds,
		indices: idx,
		hidden:  hidden,
	}, nil
}

// ClassBalancedIndices picks, for every class of ds, round(fraction * count)
// of its labeled images (at least one when the class has any), at random but
// reproducibly from seed. Unlabeled images are never picked. The result is
// sorted in dataset order. fraction must lie in (0, 1].
func ClassBalancedIndices(ds Dataset, fraction float64, seed uint64) ([]int, error) {
	if !(fraction > 0 && fraction <= 1) {
		return nil, fmt.Errorf("%s: labels fraction %g must lie in (0, 1]", ds.Name(), fraction)
	}
	return pickPerClass(ds, seed, func(count int) int {
		return max(1, int(math.Round(fraction*float64(count))))
	})
}

// PerClassIndices picks perClass labeled images of every class of ds at
// random, reproducibly from seed, sorted in dataset order. A class with
// fewer images than perClass is an error, since the result would not be
// balanced.
func PerClassIndices(ds Dataset, perClass int, seed uint64) ([]int, error) {
	if perClass <= 0 {
		return nil, fmt.Errorf("%s: images per class %d must be positive", ds.Name(), perClass)
	}
	var short error
	idx, err := pickPerClass(ds, seed, func(count int) int {
		if count < perClass && short == nil {
			short = fmt.Errorf("%s: a class has only %d labeled images, fewer than the %d per class asked for", ds.Name(), count, perClass)
		}
		return min(count, perClass)
	})
	if err != nil {
		return nil, err
	}
	if short != nil {
		return nil, short
	}
	return idx, nil
}

// pickPerClass groups the labeled images of ds by class and keeps take(n) of
// each class's n images, shuffled with one stream per class so that a
// class's pick does not depend on the other classes.
func pickPerClass(ds Dataset, seed uint64, take func(count int) int) ([]int, error) {
	byClass := map[int][]int{}
	for i := range ds.Len() {
		if l := ds.Label(i); l >= 0 {
			byClass[l] = append(byClass[l], i)
		}
	}
	if len(byClass) == 0 {
		return nil, fmt.Errorf("%s: no labeled images to pick from", ds.Name())
	}
	var out []int
	for class, idx := range byClass {
		k := take(len(idx))
		r := newRand(seed, uint64(class))
		partialShuffle(r, idx, k)
		out = append(out, idx[:k]...)
	}
	sort.Ints(out)
	return out, nil
}

// RandomIndices picks n distinct indices out of [0, total) at random,
// reproducibly from seed, sorted ascending (so that reading them follows
// the file order).
func RandomIndices(total, n int, seed uint64) ([]int, error) {
	if n < 0 || n > total {
		return nil, fmt.Errorf("cannot pick %d of %d images", n, total)
	}
	idx := make([]int, total)
	for i := range idx {
		idx[i] = i
	}
	partialShuffle(newRand(seed, 0x5eed), idx, n)
	out := idx[:n]
	sort.Ints(out)
	return out, nil
}

// newRand returns a PCG generator; PCG's output is fixed by its definition,
// so the picks above do not change between Go releases.
func newRand(seed, stream uint64) *rand.PCG { return rand.NewPCG(seed, stream) }

// partialShuffle moves a uniformly random k-subset of idx, in random order,
// to its front (the first k steps of Fisher-Yates). It draws bounded
// integers itself (Lemire's method) so that the sequence depends only on
// the PCG stream.
func partialShuffle(r *rand.PCG, idx []int, k int) {
	n := len(idx)
	for i := 0; i < k; i++ {
		j := i + int(boundedUint64(r, uint64(n-i)))
		idx[i], idx[j] = idx[j], idx[i]
	}
}

// boundedUint64 returns a uniform integer in [0, n) (n > 0).
func boundedUint64(r *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}

// concat joins datasets end to end.
type concat struct {
	name    string
	parts   []Dataset
	starts  []int // starts[k] is the global index of parts[k]'s first image
	n       int
	classes []string
	c, h, w int
}

// Concat joins parts end to end into one dataset named name. The classes
// are those of the first part that has any; parts whose class list differs
// from it are an error (their labels would be misread). Shape is the common
// shape, or zeros when the parts differ.
func Concat(name string, parts ...Dataset) (Dataset, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("%s: nothing to concatenate", name)
	}
	d := &concat{name: name, parts: parts}
	d.c, d.h, d.w = parts[0].Shape()
	for _, p := range parts {
		d.starts = append(d.starts, d.n)
		d.n += p.Len()
		if c, h, w := p.Shape(); c != d.c || h != d.h || w != d.w {
			d.c, d.h, d.w = 0, 0, 0
		}
		if cl := p.Classes(); len(cl) > 0 {
			if d.classes == nil {
				d.classes = cl
			} else if !slices.Equal(cl, d.classes) {
				return nil, fmt.Errorf("%s: %s and %s have different classes", name, parts[0].Name(), p.Name())
			}
		}
	}
	return d, nil
}

// The Dataset methods of concat; see Dataset for their contracts.
func (d *concat) Name() string         { return d.name }
func (d *concat) Len() int             { return d.n }
func (d *concat) Classes() []string    { return d.classes }
func (d *concat) Shape() (c, h, w int) { return d.c, d.h, d.w }

// locate maps a global index to a part and its local index.
func (d *concat) locate(i int) (Dataset, int) {
	k := len(d.starts) - 1
	for d.starts[k] > i {
		k--
	}
	return d.parts[k], i - d.starts[k]
}

func (d *concat) Image(i int, dst Image) (Image, error) {
	if i < 0 || i >= d.n {
		return dst, fmt.Errorf("%s: image index %d out of range [0, %d)", d.name, i, d.n)
	}
	p, j := d.locate(i)
	return p.Image(j, dst)
}

func (d *concat) Label(i int) int {
	p, j := d.locate(i)
	return p.Label(j)
}
