package methods

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/nn"
	"selfsup/tensor"
)

func TestLocationLabelRoundTrip(t *testing.T) {
	seen := map[[2]int]bool{}
	for label := 0; label < 8; label++ {
		dy, dx, err := LocationOffset(label)
		if err != nil {
			t.Fatal(err)
		}
		if seen[[2]int{dy, dx}] || (dy == 0 && dx == 0) {
			t.Fatalf("label %d: offset (%d, %d) repeated or the centre", label, dy, dx)
		}
		seen[[2]int{dy, dx}] = true
		back, err := LocationLabel(dy, dx)
		if err != nil || back != label {
			t.Fatalf("label %d -> (%d, %d) -> %d, %v", label, dy, dx, back, err)
		}
	}
	if dy, dx, _ := LocationOffset(0); dy != -1 || dx != -1 {
		t.Fatalf("label 0 is (%d, %d), want the top-left neighbour (-1, -1)", dy, dx)
	}
	for _, bad := range [][2]int{{0, 0}, {2, 0}, {0, -2}} {
		if _, err := LocationLabel(bad[0], bad[1]); err == nil {
			t.Errorf("offset %v accepted", bad)
		}
	}
	for _, bad := range []int{-1, 8} {
		if _, _, err := LocationOffset(bad); err == nil {
			t.Errorf("label %d accepted", bad)
		}
	}
}

// Sampled grids keep every patch inside the image, each within the jitter
// of its cell, and neighbours apart by the gap give or take the jitter.
func TestPatchGridGeometry(t *testing.T) {
	cases := []struct {
		grid PatchGrid
		auto bool
	}{
		{PatchGrid{Size: 28, Patch: 7, Gap: 2, Jitter: 1}, true},
		{PatchGrid{Size: 32, Patch: 8, Gap: 2, Jitter: 1}, true},
		{PatchGrid{Size: 96, Patch: 26, Gap: 6, Jitter: 3}, true},
		{PatchGrid{Size: 28, Patch: 8, Gap: 2, Jitter: 0}, false},
		{PatchGrid{Size: 40, Patch: 6, Gap: 4, Jitter: 2}, false}, // slack for the grid to move
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range cases {
		g := c.grid
		if c.auto && AutoGrid(g.Size) != g {
			t.Fatalf("AutoGrid(%d) = %+v, want %+v", g.Size, AutoGrid(g.Size), g)
		}
		if err := g.Validate("test"); err != nil {
			t.Fatal(err)
		}
		step := g.Patch + g.Gap
		var pos [9][2]int
		moved := map[int]bool{}
		for trial := 0; trial < 300; trial++ {
			g.Sample(r, &pos)
			for k, p := range pos {
				for _, v := range p {
					if v < 0 || v+g.Patch > g.Size {
						t.Fatalf("%+v: patch %d at %v leaves the image", g, k, p)
					}
				}
				if k%3 < 2 {
					if d := pos[k+1][1] - p[1] - g.Patch; d < g.Gap-2*g.Jitter || d > g.Gap+2*g.Jitter || d < 0 {
						t.Fatalf("%+v: horizontal gap %d between cells %d and %d", g, d, k, k+1)
					}
				}
				if k < 6 {
					if d := pos[k+3][0] - p[0] - g.Patch; d < g.Gap-2*g.Jitter || d > g.Gap+2*g.Jitter || d < 0 {
						t.Fatalf("%+v: vertical gap %d between cells %d and %d", g, d, k, k+3)
					}
				}
				// relative to the centre patch, within the jitter of the cell
				dy := p[0] - pos[4][0] - (k/3-1)*step
				dx := p[1] - pos[4][1] - (k%3-1)*step
				if abs(dy) > 2*g.Jitter || abs(dx) > 2*g.Jitter {
					t.Fatalf("%+v: cell %d off its place by (%d, %d)", g, k, dy, dx)
				}
				moved[p[1]-(k%3)*step] = true
			}
		}
		if want := g.Size - g.Extent() + 2*g.Jitter + 1; len(moved) != want {
			t.Fatalf("%+v: patches took %d horizontal offsets, want all %d", g, len(moved), want)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestPatchGridErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		method string
		size   int
		params string
		want   string
	}{
		{"location", 28, `{"patch":9}`, "need 33 pixels, but the images have 28"},
		{"jigsaw", 28, `{"patch":8,"gap":3,"jitter":1}`, "need 32 pixels"},
		{"location", 28, `{"gap":1,"jitter":1}`, "gap 1 is less than twice the jitter 1"},
		{"jigsaw", 8, ``, "patch 0 is too small"},
		{"location", 28, `{"pairs":9}`, "pairs = 9"},
		{"location", 28, `{"pairs":0}`, "pairs = 0"},
	}
	for _, c := range cases {
		_, err := Build(pretextSpec(c.method, c.size, c.params), r)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), c.method) {
			t.Errorf("%s %s: err = %v, want one naming %s and %q", c.method, c.params, err, c.method, c.want)
		}
		_, err = Resolve(pretextSpec(c.method, c.size, c.params), RunInfo{BatchSize: 8, DataLen: 64})
		if strings.Contains(c.want, "pixels") && err == nil {
			t.Errorf("%s %s: Resolve accepted a grid that does not fit", c.method, c.params)
		}
	}
}

// positionImage makes images whose pixel (y, x) of image i holds
// i*10000 + y*100 + x + 1, so every crop says where it came from.
func positionImage(n, size int) *tensor.Tensor {
	x := tensor.New(n, 1, size, size)
	for i := 0; i < n; i++ {
		for y := 0; y < size; y++ {
			for xx := 0; xx < size; xx++ {
				x.Data[(i*size+y)*size+xx] = float32(i*10000 + y*100 + xx + 1)
			}
		}
	}
	return x
}

func decodePosition(v float32) (img, y, x int) {
	p := int(v) - 1
	return p / 10000, p % 10000 / 100, p % 100
}

// The pairs' patches come from the right image and the labelled
// neighbour: the label's offset matches where the patch was cut.
func TestLocationPatchesMatchLabels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, pairs := range []int{1, 3, 8} {
		m, err := Build(pretextSpec("location", 28, fmt.Sprintf(`{"normalize":false,"hidden_dim":8,"pairs":%d}`, pairs)), r)
		if err != nil {
			t.Fatal(err)
		}
		loc := m.(*Location)
		n, p := 5, loc.Grid.Patch
		patches, labels := loc.Patches(positionImage(n, 28), r)
		if s := patches.Shape(); s[0] != n*(1+pairs) || s[2] != p || s[3] != p || len(labels) != n*pairs {
			t.Fatalf("pairs %d: patches %v, %d labels", pairs, s, len(labels))
		}
		sz := p * p
		for i := 0; i < n; i++ {
			ci, cy, cx := decodePosition(patches.Data[i*sz])
			used := map[int]bool{}
			for j := 0; j < pairs; j++ {
				row := n + i*pairs + j
				ni, ny, nx := decodePosition(patches.Data[row*sz])
				if ci != i || ni != i {
					t.Fatalf("pair %d of image %d cut from images %d and %d", j, i, ci, ni)
				}
				// the last pixel continues the first: a contiguous crop
				if _, ly, lx := decodePosition(patches.Data[(row+1)*sz-1]); ly != ny+p-1 || lx != nx+p-1 {
					t.Fatalf("patch is not a contiguous %dx%d crop", p, p)
				}
				step := float64(p + loc.Grid.Gap)
				dy := int(math.Round(float64(ny-cy) / step))
				dx := int(math.Round(float64(nx-cx) / step))
				got, err := LocationLabel(dy, dx)
				if err != nil || got != labels[i*pairs+j] {
					t.Fatalf("patch at offset (%d, %d) from the centre labelled %d (offset says %d, %v)", ny-cy, nx-cx, labels[i*pairs+j], got, err)
				}
				if used[got] {
					t.Fatalf("image %d paired twice with neighbour %d", i, got)
				}
				used[got] = true
			}
		}
		tensor.Buffers.Put(patches)
	}
}

// With normalisation on, every patch has zero mean and (unless blank)
// unit variance, whatever the brightness of its image.
func TestLocationNormalizesPatches(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	m, err := Build(pretextSpec("location", 28, `{"hidden_dim":8,"pairs":8}`), r)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(4, 1, 28, 28)
	nn.Uniform(x, 1, r)
	for i := range x.Data[:784] {
		x.Data[i] = 3 + 10*x.Data[i] // a bright, contrasty image
	}
	patches, _ := m.(*Location).Patches(x, r)
	d := patches.Len() / patches.Dim(0)
	for k := 0; k < patches.Dim(0); k++ {
		var s, ss float64
		for _, v := range patches.Data[k*d : (k+1)*d] {
			s += float64(v)
			ss += float64(v) * float64(v)
		}
		if mu, v := s/float64(d), ss/float64(d); math.Abs(mu) > 1e-4 || math.Abs(v-1) > 0.05 {
			t.Fatalf("patch %d: mean %v, mean square %v", k, mu, v)
		}
	}
	tensor.Buffers.Put(patches)
}
