package nn

import (
	"fmt"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/tensor"
)

// Attention is multi-head self-attention with a fused QKV projection
// (timm naming: qkv, proj).
type Attention struct {
	QKV, Proj *Linear
	Heads     int
}

// NewAttention returns self-attention over dim features split into heads.
func NewAttention(dim, heads int, r *rand.Rand) (*Attention, error) {
	if heads <= 0 || dim%heads != 0 {
		return nil, fmt.Errorf("nn.NewAttention: width %d is not divisible by %d heads", dim, heads)
	}
	return &Attention{QKV: NewLinear(dim, 3*dim, true, r), Proj: NewLinear(dim, dim, true, r), Heads: heads}, nil
}

// Forward maps x [B, T, D] to [B, T, D].
func (a *Attention) Forward(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	if len(s) != 3 {
		panic(&autograd.OpError{Op: "Attention", Msg: fmt.Sprintf("input must be [B, T, D], got %v", s)})
	}
	qkv := a.QKV.Forward(x) // [B, T, 3D]: queries, keys, values, head-major within each
	ctx := autograd.Attention(qkv, a.Heads)
	qkv.Free()
	out := a.Proj.Forward(ctx) // [B, T, D]
	ctx.Free()
	return out
}

// Collect implements Module.
func (a *Attention) Collect(prefix string, s *State) {
	a.QKV.Collect(prefix+"qkv.", s)
	a.Proj.Collect(prefix+"proj.", s)
}

// SetTraining implements Module (no mode).
func (a *Attention) SetTraining(bool) {}

// Block is a pre-norm transformer block: x + Attn(LN(x)), then
// x + MLP(LN(x)) with a GELU MLP of the given hidden width.
type Block struct {
	Norm1 *LayerNorm
	Attn  *Attention
	Norm2 *LayerNorm
	FC1   *Linear
	FC2   *Linear
}

// NewBlock returns a transformer block (LayerNorm eps 1e-6 as in timm/MAE).
func NewBlock(dim, heads, hidden int, r *rand.Rand) (*Block, error) {
	at, err := NewAttention(dim, heads, r)
	if err != nil {
		return nil, err
	}
	return &Block{
		Norm1: NewLayerNorm(dim, 1e-6), Attn: at, Norm2: NewLayerNorm(dim, 1e-6),
		FC1: NewLinear(dim, hidden, true, r), FC2: NewLinear(hidden, dim, true, r),
	}, nil
}

// Forward maps [B, T, D] to [B, T, D].
func (b *Block) Forward(x *autograd.Var) *autograd.Var {
	h := b.Norm1.Forward(x)
	a := b.Attn.Forward(h)
	h.Free()
	x1 := autograd.Add(x, a)
	a.Free()
	h = b.Norm2.Forward(x1)
	m1 := b.FC1.Forward(h)
	h.Free()
	g := autograd.GELU(m1)
	m1.Free()
	m2 := b.FC2.Forward(g)
	g.Free()
	out := autograd.Add(x1, m2)
	x1.Free()
	m2.Free()
	return out
}

// Collect implements Module (timm names: norm1, attn, norm2, mlp.fc1, mlp.fc2).
func (b *Block) Collect(prefix string, s *State) {
	b.Norm1.Collect(prefix+"norm1.", s)
	b.Attn.Collect(prefix+"attn.", s)
	b.Norm2.Collect(prefix+"norm2.", s)
	b.FC1.Collect(prefix+"mlp.fc1.", s)
	b.FC2.Collect(prefix+"mlp.fc2.", s)
}

// SetTraining implements Module (no mode).
func (b *Block) SetTraining(bool) {}

// InitViTWeights applies the MAE/timm initialisation to a transformer's
// Linear layers: Xavier-uniform weights and zero biases (LayerNorms stay
// gamma 1, beta 0).
func InitViTWeights(m Module, r *rand.Rand) {
	for _, p := range StateOf(m).Params {
		v := p.Var.Value
		if v.Dims() == 2 && hasSuffix(p.Name, "weight") {
			XavierUniform(v, r)
		} else if v.Dims() == 1 && hasSuffix(p.Name, "bias") && !isNormParam(p.Name) {
			v.Zero()
		}
	}
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

func isNormParam(name string) bool {
	for i := 0; i+4 <= len(name); i++ {
		if name[i:i+4] == "norm" {
			return true
		}
	}
	return false
}

// PatchEmbed cuts images [B, C, H, W] into non-overlapping p x p patches and
// projects each (flattened channel-major, as a stride-p convolution would
// see it) to dim features: [B, T, dim] with T = (H/p)*(W/p).
type PatchEmbed struct {
	Proj  *Linear
	Patch int
}

// NewPatchEmbed returns a patch embedding for c-channel images.
func NewPatchEmbed(c, patch, dim int, r *rand.Rand) *PatchEmbed {
	return &PatchEmbed{Proj: NewLinear(c*patch*patch, dim, true, r), Patch: patch}
}

// Forward implements Layer.
func (p *PatchEmbed) Forward(x *autograd.Var) *autograd.Var {
	patches := Patchify(x, p.Patch)
	out := p.Proj.Forward(patches)
	patches.Free()
	return out
}

// Collect implements Module (named "proj" like timm's conv projection,
// stored as a Linear weight [dim, C*p*p]).
func (p *PatchEmbed) Collect(prefix string, s *State) { p.Proj.Collect(prefix+"proj.", s) }

// SetTraining implements Module (no mode).
func (p *PatchEmbed) SetTraining(bool) {}

// Patchify rearranges images [B, C, H, W] into patch vectors [B, T, C*p*p]
// (patches in row-major order, each vector ordered channel, row, column).
func Patchify(x *autograd.Var, p int) *autograd.Var {
	s := x.Shape()
	if len(s) != 4 || s[2]%p != 0 || s[3]%p != 0 {
		panic(&autograd.OpError{Op: "Patchify", Msg: fmt.Sprintf("image shape %v is not [B, C, H, W] divisible by patch %d", s, p)})
	}
	b, c, h, w := s[0], s[1], s[2]/p, s[3]/p
	r := autograd.Reshape(x, b, c, h, p, w, p)
	return autograd.Reshape(autograd.Permute(r, 0, 2, 4, 1, 3, 5), b, h*w, c*p*p)
}

// Unpatchify is Patchify's inverse on plain tensors: [B, T, C*p*p] to
// [B, C, H, W] for an h x w grid of patches.
func Unpatchify(t *tensor.Tensor, c, p, h, w int) *tensor.Tensor {
	b := t.Dim(0)
	out := tensor.New(b, c, h*p, w*p)
	for bi := 0; bi < b; bi++ {
		for gy := 0; gy < h; gy++ {
			for gx := 0; gx < w; gx++ {
				vec := t.Data[((bi*h+gy)*w+gx)*c*p*p:]
				for ch := 0; ch < c; ch++ {
					for py := 0; py < p; py++ {
						for px := 0; px < p; px++ {
							out.Data[((bi*c+ch)*h*p+gy*p+py)*w*p+gx*p+px] = vec[(ch*p+py)*p+px]
						}
					}
				}
			}
		}
	}
	return out
}
