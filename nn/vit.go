package nn

import (
	"fmt"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/tensor"
)

// ViTConfig describes a Vision Transformer.
type ViTConfig struct {
	ImageSize, PatchSize, InChannels int
	Dim, Depth, Heads                int
	// MLPRatio sets the block MLP width (4 in ViT).
	MLPRatio int
	// Pool is "cls" (the class token's output, the default) or "mean" (the
	// mean of the patch tokens).
	Pool string
}

// ViT is a Vision Transformer backbone with a class token and learnable
// position embeddings; Forward returns [N, Dim] features after the final
// LayerNorm.
type ViT struct {
	Cfg      ViTConfig
	Patch    *PatchEmbed
	CLS      *autograd.Var // [1, 1, D]
	PosEmbed *autograd.Var // [1, 1+T, D]
	Blocks   []*Block
	Norm     *LayerNorm
}

// NewViT builds the network described by cfg, initialised as in MAE/timm
// (truncated-normal 0.02 for the class token and position embedding,
// Xavier-uniform Linears).
func NewViT(cfg ViTConfig, r *rand.Rand) (*ViT, error) {
	if cfg.PatchSize <= 0 || cfg.ImageSize%cfg.PatchSize != 0 {
		return nil, fmt.Errorf("nn.NewViT: image size %d is not a multiple of patch size %d", cfg.ImageSize, cfg.PatchSize)
	}
	if cfg.MLPRatio == 0 {
		cfg.MLPRatio = 4
	}
	if cfg.Pool == "" {
		cfg.Pool = "cls"
	}
	if cfg.Pool != "cls" && cfg.Pool != "mean" {
		return nil, fmt.Errorf("nn.NewViT: pool %q is neither cls nor mean", cfg.Pool)
	}
	t := cfg.NumPatches()
	v := &ViT{
		Cfg:      cfg,
		Patch:    NewPatchEmbed(cfg.InChannels, cfg.PatchSize, cfg.Dim, r),
		CLS:      autograd.Param(tensor.New(1, 1, cfg.Dim), "cls_token"),
		PosEmbed: autograd.Param(tensor.New(1, 1+t, cfg.Dim), "pos_embed"),
		Norm:     NewLayerNorm(cfg.Dim, 1e-6),
	}
	for i := 0; i < cfg.Depth; i++ {
		b, err := NewBlock(cfg.Dim, cfg.Heads, cfg.Dim*cfg.MLPRatio, r)
		if err != nil {
			return nil, err
		}
		v.Blocks = append(v.Blocks, b)
	}
	InitViTWeights(v, r)
	TruncNormal(v.CLS.Value, 0.02, r)
	TruncNormal(v.PosEmbed.Value, 0.02, r)
	return v, nil
}

// NumPatches is the number of patch tokens per image.
func (c ViTConfig) NumPatches() int {
	g := c.ImageSize / c.PatchSize
	return g * g
}

// OutDim is the feature width.
func (v *ViT) OutDim() int { return v.Cfg.Dim }

// NumStages splits the blocks into (up to) four stages for per-stage probes
// and freezing.
func (v *ViT) NumStages() int { return min(4, len(v.Blocks)) }

func (v *ViT) stageBounds(i int) (lo, hi int) {
	n := v.NumStages()
	return i * len(v.Blocks) / n, (i + 1) * len(v.Blocks) / n
}

// EmbedPatches returns the patch tokens with their position embeddings,
// [B, T, D], without the class token (MAE masks these).
//
// Images of another size than the configured one (DINO's local crops) get
// the position embedding resampled bilinearly to their grid of patches.
func (v *ViT) EmbedPatches(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	if len(s) != 4 || s[2] != s[3] {
		panic(&autograd.OpError{Op: "ViT", Msg: fmt.Sprintf("images must be square [B, C, H, W], got %v", s)})
	}
	p := v.Patch.Forward(x)
	t := v.Cfg.NumPatches()
	pos := autograd.Narrow(v.PosEmbed, 1, 1, t)
	if g := s[2] / v.Cfg.PatchSize; g*g != t {
		src := v.Cfg.ImageSize / v.Cfg.PatchSize
		m := autograd.Const(BilinearMatrix(src, g))
		resampled := autograd.MatMul(m, autograd.Reshape(pos, t, v.Cfg.Dim), false, false) // [g*g, D]
		pos.Free()
		pos = autograd.Reshape(resampled, 1, g*g, v.Cfg.Dim)
	}
	out := autograd.Add(p, pos)
	p.Free()
	pos.Free()
	return out
}

// BilinearMatrix returns the [dst*dst, src*src] matrix that resamples a
// src x src grid (row-major) to dst x dst by bilinear interpolation with
// half-pixel centres (F.interpolate's align_corners=False).
func BilinearMatrix(src, dst int) *tensor.Tensor {
	m := tensor.New(dst*dst, src*src)
	weights := func(i int) (lo, hi int, wlo, whi float32) {
		x := (float64(i)+0.5)*float64(src)/float64(dst) - 0.5
		if x < 0 {
			x = 0
		}
		lo = int(x)
		if lo >= src-1 {
			return src - 1, src - 1, 1, 0
		}
		f := float32(x - float64(lo))
		return lo, lo + 1, 1 - f, f
	}
	for y := 0; y < dst; y++ {
		y0, y1, wy0, wy1 := weights(y)
		for x := 0; x < dst; x++ {
			x0, x1, wx0, wx1 := weights(x)
			row := m.Data[(y*dst+x)*src*src:]
			row[y0*src+x0] += wy0 * wx0
			row[y0*src+x1] += wy0 * wx1
			row[y1*src+x0] += wy1 * wx0
			row[y1*src+x1] += wy1 * wx1
		}
	}
	return m
}

// PrependCLS adds the class token (with its position embedding) in front of
// tokens [B, T', D].
func (v *ViT) PrependCLS(tokens *autograd.Var) *autograd.Var {
	b := tokens.Shape()[0]
	cls := autograd.Add(v.CLS, autograd.Narrow(v.PosEmbed, 1, 0, 1)) // [1, 1, D]
	clsB := autograd.IndexSelect(cls, make([]int, b))                // [B, 1, D]
	out := autograd.Concat(1, clsB, tokens)
	cls.Free()
	clsB.Free()
	return out
}

// RunBlocks applies blocks [lo, hi) to tokens.
func (v *ViT) RunBlocks(x *autograd.Var, lo, hi int) *autograd.Var {
	for _, b := range v.Blocks[lo:hi] {
		y := b.Forward(x)
		x.Free()
		x = y
	}
	return x
}

// Pool turns the normed token sequence [B, 1+T, D] into features [B, D].
func (v *ViT) Pool(tokens *autograd.Var) *autograd.Var {
	if v.Cfg.Pool == "mean" {
		t := tokens.Shape()[1]
		patches := autograd.Narrow(tokens, 1, 1, t-1)
		out := autograd.MeanAxis(patches, 1, false)
		patches.Free()
		return out
	}
	cls := autograd.Narrow(tokens, 1, 0, 1)
	return autograd.Reshape(cls, tokens.Shape()[0], v.Cfg.Dim)
}

// Forward returns the pooled features [B, D].
func (v *ViT) Forward(x *autograd.Var) *autograd.Var {
	maps := v.ForwardStages(x, v.NumStages(), false)
	last := maps[len(maps)-1]
	n := v.Norm.Forward(last)
	last.Free()
	out := v.Pool(n)
	return out
}

// ForwardStages returns the token sequences [B, 1+T, D] after the patch
// embedding (with keep) and after each of the first upto stages (all with
// keep, the last only without).
func (v *ViT) ForwardStages(x *autograd.Var, upto int, keep bool) []*autograd.Var {
	e := v.EmbedPatches(x)
	y := v.PrependCLS(e)
	e.Free()
	var out []*autograd.Var
	if keep {
		out = append(out, y)
	}
	for i := 0; i < upto; i++ {
		lo, hi := v.stageBounds(i)
		for _, b := range v.Blocks[lo:hi] {
			z := b.Forward(y)
			if !keep || len(out) == 0 || out[len(out)-1] != y {
				y.Free()
			}
			y = z
		}
		if keep {
			out = append(out, y)
		}
	}
	if !keep {
		out = append(out, y)
	}
	return out
}

// StageModules returns the embedding (index 0) and the block stages.
func (v *ViT) StageModules() []Module {
	mods := []Module{moduleFunc{collect: func(prefix string, s *State) {
		s.Param(prefix+"cls_token", v.CLS)
		s.Param(prefix+"pos_embed", v.PosEmbed)
		v.Patch.Collect(prefix+"patch_embed.", s)
	}, train: func(bool) {}}}
	for i := 0; i < v.NumStages(); i++ {
		lo, hi := v.stageBounds(i)
		last := i == v.NumStages()-1
		mods = append(mods, moduleFunc{collect: func(prefix string, s *State) {
			for j := lo; j < hi; j++ {
				v.Blocks[j].Collect(fmt.Sprintf("%sblocks.%d.", prefix, j), s)
			}
			if last {
				v.Norm.Collect(prefix+"norm.", s)
			}
		}, train: func(bool) {}})
	}
	return mods
}

// Collect implements Module.
func (v *ViT) Collect(prefix string, s *State) {
	for _, m := range v.StageModules() {
		m.Collect(prefix, s)
	}
}

// SetTraining implements Module (a ViT has no mode-dependent layers).
func (v *ViT) SetTraining(bool) {}
