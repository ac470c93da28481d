package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The fixed embedding's shape and layout (its values are checked against
// the MAE code's formula in methods/mae_torchref_test.go), its errors, and
// a ViT that uses it no longer training its positions.
func TestSinCosPosEmbed(t *testing.T) {
	for _, c := range []struct {
		dim, grid int
		want      string // error substring, "" for success
	}{
		{8, 4, ""},
		{192, 7, ""},
		{6, 4, "multiple of 4"},
		{0, 4, "multiple of 4"},
		{8, 0, "grid"},
	} {
		pe, err := SinCosPosEmbed(c.dim, c.grid)
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("SinCosPosEmbed(%d, %d): err %v, want one mentioning %q", c.dim, c.grid, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := pe.Shape(); len(got) != 3 || got[0] != 1 || got[1] != 1+c.grid*c.grid || got[2] != c.dim {
			t.Fatalf("shape %v", got)
		}
		for k := 0; k < c.dim; k++ {
			if pe.Data[k] != 0 {
				t.Fatalf("class token row has %v at %d", pe.Data[k], k)
			}
		}
		// token (row i, column j): dimension 0 is sin(j), dimension dim/2 sin(i),
		// dimension dim/4 cos(j)
		i, j := c.grid-1, c.grid/2
		tok := pe.Data[(1+i*c.grid+j)*c.dim:]
		for _, w := range []struct {
			at   int
			want float64
		}{{0, math.Sin(float64(j))}, {c.dim / 2, math.Sin(float64(i))}, {c.dim / 4, math.Cos(float64(j))}} {
			if math.Abs(float64(tok[w.at])-w.want) > 1e-6 {
				t.Errorf("dim %d grid %d: token (%d,%d)[%d] = %v, want %v", c.dim, c.grid, i, j, w.at, tok[w.at], w.want)
			}
		}
	}
	v, err := NewViT(ViTConfig{ImageSize: 8, PatchSize: 2, InChannels: 1, Dim: 8, Depth: 1, Heads: 2}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.UseSinCosPosEmbed(); err != nil {
		t.Fatal(err)
	}
	if v.PosEmbed.RequiresGrad() {
		t.Error("the fixed position embedding still trains")
	}
	odd, _ := NewViT(ViTConfig{ImageSize: 8, PatchSize: 2, InChannels: 1, Dim: 6, Depth: 1, Heads: 2}, rand.New(rand.NewPCG(1, 1)))
	if err := odd.UseSinCosPosEmbed(); err == nil {
		t.Error("width 6 took a sine-cosine embedding")
	}
}
