package data

import "fmt"

// byteToUnit maps a stored 8-bit pixel to its float32 value in [0, 1]. A
// table lookup is cheaper than a division in the hot Image path.
var byteToUnit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// memory is a dataset held in memory as 8-bit pixels in CHW order, one image
// after another. It is immutable after construction, so concurrent reads
// need no locks.
type memory struct {
	name    string
	c, h, w int
	pix     []uint8 // Len * c*h*w bytes
	labels  []int16 // nil when unlabeled
	classes []string
}

// The Dataset methods of memory; see Dataset for their contracts.
func (m *memory) Name() string         { return m.name }
func (m *memory) Len() int             { return len(m.pix) / (m.c * m.h * m.w) }
func (m *memory) Classes() []string    { return m.classes }
func (m *memory) Shape() (c, h, w int) { return m.c, m.h, m.w }
func (m *memory) Label(i int) int {
	if m.labels == nil {
		return -1
	}
	return int(m.labels[i])
}

// Image converts image i to float32 without allocating when dst has room.
func (m *memory) Image(i int, dst Image) (Image, error) {
	n := m.c * m.h * m.w
	if i < 0 || i >= m.Len() {
		return dst, fmt.Errorf("%s: image index %d out of range [0, %d)", m.name, i, m.Len())
	}
	dst = ensureImage(dst, m.c, m.h, m.w)
	src := m.pix[i*n : (i+1)*n]
	out := dst.Pix[:n]
	for j, b := range src {
		out[j] = byteToUnit[b]
	}
	return dst, nil
}

// ensureImage returns dst reshaped to c x h x w, reusing its pixel buffer when
// the capacity suffices and allocating a new one otherwise.
func ensureImage(dst Image, c, h, w int) Image {
	n := c * h * w
	if cap(dst.Pix) < n {
		return NewImage(c, h, w)
	}
	return Image{C: c, H: h, W: w, Pix: dst.Pix[:n]}
}
