package finetune

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"selfsup/data"
	"selfsup/nn"
)

// patterns is a tiny in-memory labelled dataset: n grayscale size x size
// images of four classes (horizontal stripes, vertical stripes, a
// checkerboard, a centred square) with varying phase and brightness.
// unlabelled, when positive, hides the label of every unlabelled-th image.
type patterns struct {
	n, size    int
	unlabelled int
}

func (p patterns) Name() string         { return fmt.Sprintf("patterns/%d", p.n) }
func (p patterns) Len() int             { return p.n }
func (p patterns) Classes() []string    { return []string{"rows", "cols", "checker", "square"} }
func (p patterns) Shape() (c, h, w int) { return 1, p.size, p.size }

func (p patterns) Label(i int) int {
	if p.unlabelled > 0 && i%p.unlabelled == p.unlabelled-1 {
		return -1
	}
	return i % 4
}

func (p patterns) Image(i int, dst data.Image) (data.Image, error) {
	if i < 0 || i >= p.n {
		return dst, fmt.Errorf("%s: image index %d out of range [0, %d)", p.Name(), i, p.n)
	}
	s := p.size
	if cap(dst.Pix) < s*s {
		dst = data.NewImage(1, s, s)
	}
	dst = data.Image{C: 1, H: s, W: s, Pix: dst.Pix[:s*s]}
	phase := i / 4
	level := 0.4 + 0.6*float32(i%7)/6
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			var on bool
			switch i % 4 {
			case 0:
				on = (y+phase)%4 < 2
			case 1:
				on = (x+phase)%4 < 2
			case 2:
				on = (x/2+y/2+phase)%2 == 0
			case 3:
				d := s/4 + phase%3
				on = x >= d && x < s-d && y >= d && y < s-d
			}
			v := float32(0.05)
			if on {
				v = level
			}
			dst.Pix[y*s+x] = v
		}
	}
	return dst, nil
}

// tinyBackbone is the small ResNet for 1x16x16 images.
var tinyBackbone = nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}

// pretrained returns a freshly initialised encoder standing in for a
// pretrained one.
func pretrained(t *testing.T, seed uint64) nn.Backbone {
	t.Helper()
	enc, err := nn.NewBackbone(tinyBackbone, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// snapshot copies every parameter and buffer of m.
func snapshot(m nn.Module) map[string][]float32 {
	out := map[string][]float32{}
	for name, t := range nn.StateDict("", m) {
		out[name] = append([]float32(nil), t.Data...)
	}
	return out
}

// changed lists the tensors of after that differ from before.
func changed(before, after map[string][]float32) map[string]bool {
	out := map[string]bool{}
	for name, x := range after {
		y := before[name]
		for i := range x {
			if x[i] != y[i] {
				out[name] = true
				break
			}
		}
	}
	return out
}
