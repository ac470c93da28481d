package nn

import (
	"fmt"
	"math"

	"selfsup/autograd"
	"selfsup/tensor"
)

// SinCosPosEmbed returns the fixed 2-D sine-cosine position embedding that
// MAE (He et al. 2021) and MoCo v3 (Chen et al. 2021) use instead of a
// learned one, for a grid x grid patch layout in row-major token order:
// [1, 1+grid*grid, dim], the class token's row all zeros. The first half of
// a token's dimensions encodes its column, the second half its row; each
// half is dim/4 sines then dim/4 cosines of the coordinate times the
// frequencies 10000^(-k/(dim/4)), k = 0..dim/4-1 (MAE's
// get_2d_sincos_pos_embed). dim must be a multiple of 4.
func SinCosPosEmbed(dim, grid int) (*tensor.Tensor, error) {
	if dim <= 0 || dim%4 != 0 {
		return nil, fmt.Errorf("nn.SinCosPosEmbed: width %d is not a positive multiple of 4", dim)
	}
	if grid <= 0 {
		return nil, fmt.Errorf("nn.SinCosPosEmbed: grid %d is not positive", grid)
	}
	q := dim / 4
	out := tensor.New(1, 1+grid*grid, dim)
	for i := 0; i < grid; i++ { // row
		for j := 0; j < grid; j++ { // column
			row := out.Data[(1+i*grid+j)*dim : (2+i*grid+j)*dim]
			for half, pos := range [2]float64{float64(j), float64(i)} {
				h := row[half*2*q : (half+1)*2*q]
				for k := 0; k < q; k++ {
					a := pos / math.Pow(10000, float64(k)/float64(q))
					h[k] = float32(math.Sin(a))
					h[q+k] = float32(math.Cos(a))
				}
			}
		}
	}
	return out, nil
}

// UseSinCosPosEmbed replaces v's learned position embedding by the fixed
// 2-D sine-cosine one (FixSinCosPosEmbed) and stops it from training, as MAE
// and MoCo v3 do: positions are known from the first step instead of being
// learned from a small random start. Checkpoints keep the values under the
// same name, so an encoder built with NewViT loads them unchanged.
func (v *ViT) UseSinCosPosEmbed() error {
	if err := FixSinCosPosEmbed(v.PosEmbed, v.Cfg.ImageSize/v.Cfg.PatchSize); err != nil {
		return fmt.Errorf("vit: %w", err)
	}
	return nil
}

// FixSinCosPosEmbed fills pos, a [1, 1+grid*grid, dim] position embedding
// (a ViT's or a decoder's), with SinCosPosEmbed and stops it from training.
func FixSinCosPosEmbed(pos *autograd.Var, grid int) error {
	pe, err := SinCosPosEmbed(pos.Value.Dim(-1), grid)
	if err != nil {
		return err
	}
	if pe.Len() != pos.Value.Len() {
		return fmt.Errorf("nn.FixSinCosPosEmbed: embedding of shape %v is not 1+%d tokens", pos.Value.Shape(), grid*grid)
	}
	copy(pos.Value.Data, pe.Data)
	pos.SetRequiresGrad(false)
	return nil
}
