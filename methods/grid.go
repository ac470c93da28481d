package methods

import (
	"fmt"
	"math/rand/v2"

	"selfsup/tensor"
)

// PatchGrid is the 3x3 layout of patches (relative patch location) or tiles
// (jigsaw) cut from one square image: Patch-pixel squares Gap pixels apart,
// each moved by up to Jitter pixels in each direction, the whole grid placed
// at a random spot of the image when it is smaller than the image. The gap
// and the jitter keep a network from solving the task by continuing edges
// and textures across patch boundaries (Doersch et al. 2015, section 3).
type PatchGrid struct {
	Size, Patch, Gap, Jitter int
}

// AutoGrid sizes a grid for size-pixel images: jitter max(1, size/32),
// a gap of twice the jitter (so neighbours never overlap) and the largest
// patch that fits. At 28 pixels that is 7-pixel patches with a 2-pixel gap
// and 1 pixel of jitter, at 32 pixels 8/2/1, at 96 pixels 26/6/3. The papers'
// proportions (Doersch: 96-pixel patches 48 apart, jitter 7; Noroozi: 64 of
// each 75-pixel cell) leave too little of a 28-pixel image, so the gap is
// smaller here.
func AutoGrid(size int) PatchGrid {
	j := max(1, size/32)
	g := 2 * j
	return PatchGrid{Size: size, Patch: (size - 2*g - 2*j) / 3, Gap: g, Jitter: j}
}

// resolveGrid fills the automatic parts of a method's grid options in
// place (patch 0 and negative gap or jitter take AutoGrid's values for the
// image size) and returns the grid, validated for method.
func resolveGrid(method string, size int, patch, gap, jitter *int) (PatchGrid, error) {
	auto := AutoGrid(size)
	if *gap < 0 {
		*gap = auto.Gap
	}
	if *jitter < 0 {
		*jitter = auto.Jitter
	}
	if *patch == 0 {
		*patch = (size - 2**gap - 2**jitter) / 3
	}
	g := PatchGrid{Size: size, Patch: *patch, Gap: *gap, Jitter: *jitter}
	return g, g.Validate(method)
}

// Extent is the side of the square the grid can cover, jitter included.
func (g PatchGrid) Extent() int { return 3*g.Patch + 2*g.Gap + 2*g.Jitter }

// Validate reports a grid that does not fit its images or lets patches
// overlap, naming the method and the option at fault.
func (g PatchGrid) Validate(method string) error {
	switch {
	case g.Patch < 2:
		return fmt.Errorf("%s: patch %d is too small (at least 2 pixels; images of %d pixels leave %d after the gaps and jitter)", method, g.Patch, g.Size, g.Size-2*g.Gap-2*g.Jitter)
	case g.Gap < 0 || g.Jitter < 0:
		return fmt.Errorf("%s: gap %d and jitter %d must not be negative", method, g.Gap, g.Jitter)
	case g.Gap < 2*g.Jitter:
		return fmt.Errorf("%s: gap %d is less than twice the jitter %d, so neighbouring patches could overlap (a shortcut); raise gap or lower jitter", method, g.Gap, g.Jitter)
	case g.Extent() > g.Size:
		return fmt.Errorf("%s: 3 patches of %d with gap %d and jitter %d need %d pixels, but the images have %d (lower patch, gap or jitter, or use larger images)", method, g.Patch, g.Gap, g.Jitter, g.Extent(), g.Size)
	}
	return nil
}

// Sample places one image's nine patches: pos[k] is the top-left corner
// (row, column) of the patch in grid cell k, cells numbered row-major from
// the top left (4 is the centre). Every patch lies inside the image.
func (g PatchGrid) Sample(r *rand.Rand, pos *[9][2]int) {
	slack := g.Size - g.Extent()
	oy, ox := r.IntN(slack+1), r.IntN(slack+1)
	step := g.Patch + g.Gap
	span := 2*g.Jitter + 1
	for k := range pos {
		row, col := k/3, k%3
		pos[k][0] = oy + g.Jitter + row*step + r.IntN(span) - g.Jitter
		pos[k][1] = ox + g.Jitter + col*step + r.IntN(span) - g.Jitter
	}
}

// window is the crop of grid cell k of image img.
func window(img int, pos *[9][2]int, k int) tensor.Window {
	return tensor.Window{Image: img, Top: pos[k][0], Left: pos[k][1]}
}

// cropPatches cuts the windows out of imgs [N, C, H, W] into a pool tensor
// [len(wins), C, patch, patch], standardised one by one when normalize is
// set (the papers' per-patch normalisation against low-level shortcuts).
func cropPatches(imgs *tensor.Tensor, wins []tensor.Window, patch int, normalize bool) *tensor.Tensor {
	out := tensor.Buffers.Get(len(wins), imgs.Dim(1), patch, patch)
	tensor.CropWindows(out, imgs, wins)
	if normalize {
		tensor.StandardizeItems(out, patchEps)
	}
	return out
}

// patchEps floors each patch's variance in the per-patch standardisation, so
// that a nearly blank patch (MNIST's borders) is not blown up into noise: a
// patch whose standard deviation is below about 0.03 (on [0, 1] pixels) is
// scaled up less than to unit variance.
const patchEps = 1e-3
