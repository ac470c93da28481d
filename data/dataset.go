// Package data reads image datasets (MNIST-style idx files, CIFAR-10/100 and
// STL-10 binaries, folders of images) behind one interface, parses the data
// spec strings every command takes, and downloads the public datasets for
// users who have internet access.
package data

// Image is a float32 image in CHW layout (channel planes one after another),
// values in [0, 1]. Pix has C*H*W elements.
type Image struct {
	C, H, W int
	Pix     []float32
}

// NewImage returns a zeroed image of the given size.
func NewImage(c, h, w int) Image { return Image{C: c, H: h, W: w, Pix: make([]float32, c*h*w)} }

// Dataset is a random-access collection of images with optional labels.
// Implementations are safe for concurrent reads.
type Dataset interface {
	// Name describes the dataset and split, e.g. "mnist/train".
	Name() string
	// Len is the number of images.
	Len() int
	// Image decodes image i into dst when dst has the right size (to avoid
	// allocation) and returns it; otherwise it allocates. Errors name the
	// file and the problem.
	Image(i int, dst Image) (Image, error)
	// Label returns the class of image i, or -1 when it has none.
	Label(i int) int
	// Classes returns the class names; empty for an unlabeled dataset.
	Classes() []string
	// Shape is the C, H, W of every image, or zeros when sizes vary
	// (image folders).
	Shape() (c, h, w int)
}
