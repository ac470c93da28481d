package nn

import (
	"fmt"
	"math/rand/v2"

	"selfsup/autograd"
)

// MLPConfig describes a projection or prediction head: Linear layers of the
// given widths with batch norm (optional) and ReLU between them.
type MLPConfig struct {
	// Dims lists input, hidden..., output widths (at least two).
	Dims []int
	// HiddenBN puts BatchNorm1d after every hidden Linear (SimCLR v2, MoCo
	// v2/v3, BYOL heads); the hidden Linears then have no bias.
	HiddenBN bool
	// LastBN adds a BatchNorm1d without affine parameters after the output
	// layer (SimCLR v2 / MoCo v3 projectors).
	LastBN bool
	// GELU uses GELU instead of ReLU between layers (DINO's head).
	GELU bool
}

// MLP is a stack of Linear layers with norms and activations between them.
type MLP struct {
	Layers []Layer
	names  []string
}

// NewMLP builds the head described by cfg.
func NewMLP(cfg MLPConfig, r *rand.Rand) (*MLP, error) {
	if len(cfg.Dims) < 2 {
		return nil, fmt.Errorf("nn.NewMLP: need at least input and output widths, got %v", cfg.Dims)
	}
	for _, d := range cfg.Dims {
		if d <= 0 {
			return nil, fmt.Errorf("nn.NewMLP: non-positive width in %v", cfg.Dims)
		}
	}
	m := &MLP{}
	idx := 0
	add := func(l Layer) {
		m.Layers = append(m.Layers, l)
		m.names = append(m.names, fmt.Sprintf("%d.", idx))
		idx++
	}
	last := len(cfg.Dims) - 2
	for i := 0; i <= last; i++ {
		hidden := i < last
		add(NewLinear(cfg.Dims[i], cfg.Dims[i+1], !(hidden && cfg.HiddenBN), r))
		if hidden {
			if cfg.HiddenBN {
				add(NewBatchNorm(cfg.Dims[i+1], true))
			}
			if cfg.GELU {
				add(GELU{})
			} else {
				add(ReLU{})
			}
		} else if cfg.LastBN {
			add(NewBatchNorm(cfg.Dims[i+1], false))
		}
	}
	return m, nil
}

// Forward implements Layer.
func (m *MLP) Forward(x *autograd.Var) *autograd.Var {
	for i, l := range m.Layers {
		y := l.Forward(x)
		if i > 0 {
			x.Free()
		}
		x = y
	}
	return x
}

// Collect implements Module; layers are named by position as in an
// nn.Sequential.
func (m *MLP) Collect(prefix string, s *State) {
	for i, l := range m.Layers {
		l.Collect(prefix+m.names[i], s)
	}
}

// SetTraining implements Module.
func (m *MLP) SetTraining(on bool) {
	for _, l := range m.Layers {
		l.SetTraining(on)
	}
}
