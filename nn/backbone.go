package nn

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"selfsup/autograd"
)

// Backbone is an image encoder: Forward maps images [N, C, H, W] to
// features [N, OutDim]. Its stages (stem or embedding first) can be run one
// by one for per-layer probes and frozen for fine-tuning.
type Backbone interface {
	Layer
	OutDim() int
	NumStages() int
	// ForwardStages returns intermediate outputs; see ResNet.ForwardStages.
	ForwardStages(x *autograd.Var, upto int, keep bool) []*autograd.Var
	// StageModules returns the stem/embedding (0) and each stage (1..).
	StageModules() []Module
}

// BackboneConfig names a backbone and the input it is built for; it is
// stored in checkpoints so the encoder can be rebuilt.
type BackboneConfig struct {
	Arch       string `json:"arch"`
	InChannels int    `json:"in_channels"`
	ImageSize  int    `json:"image_size"`
	// PatchSize overrides the ViT patch size (default 4 for images up to
	// 64 pixels, 16 above).
	PatchSize int `json:"patch_size,omitempty"`
}

type archSpec struct {
	help  string
	build func(c BackboneConfig, r *rand.Rand) (Backbone, error)
}

func resnetArch(help string, cfg ResNetConfig) archSpec {
	return archSpec{help: help, build: func(c BackboneConfig, r *rand.Rand) (Backbone, error) {
		cfg := cfg
		cfg.InChannels = c.InChannels
		return NewResNet(cfg, r)
	}}
}

func vitArch(help string, dim, depth, heads int) archSpec {
	return archSpec{help: help, build: func(c BackboneConfig, r *rand.Rand) (Backbone, error) {
		p := c.PatchSize
		if p == 0 {
			p = 4
			if c.ImageSize > 64 {
				p = 16
			}
		}
		return NewViT(ViTConfig{ImageSize: c.ImageSize, PatchSize: p, InChannels: c.InChannels, Dim: dim, Depth: depth, Heads: heads, MLPRatio: 4}, r)
	}}
}

var archs = map[string]archSpec{
	"resnet18":       resnetArch("ResNet-18, ImageNet stem (7x7/2 conv + max-pool)", ResNetConfig{Blocks: []int{2, 2, 2, 2}, Widths: []int{64, 128, 256, 512}, StemWidth: 64, ImageNetStem: true}),
	"resnet34":       resnetArch("ResNet-34, ImageNet stem", ResNetConfig{Blocks: []int{3, 4, 6, 3}, Widths: []int{64, 128, 256, 512}, StemWidth: 64, ImageNetStem: true}),
	"resnet50":       resnetArch("ResNet-50 (bottleneck), ImageNet stem", ResNetConfig{Bottleneck: true, Blocks: []int{3, 4, 6, 3}, Widths: []int{64, 128, 256, 512}, StemWidth: 64, ImageNetStem: true}),
	"resnet18-cifar": resnetArch("ResNet-18, CIFAR stem (3x3/1 conv, no pooling)", ResNetConfig{Blocks: []int{2, 2, 2, 2}, Widths: []int{64, 128, 256, 512}, StemWidth: 64}),
	"resnet34-cifar": resnetArch("ResNet-34, CIFAR stem", ResNetConfig{Blocks: []int{3, 4, 6, 3}, Widths: []int{64, 128, 256, 512}, StemWidth: 64}),
	"resnet50-cifar": resnetArch("ResNet-50, CIFAR stem", ResNetConfig{Bottleneck: true, Blocks: []int{3, 4, 6, 3}, Widths: []int{64, 128, 256, 512}, StemWidth: 64}),
	"resnet-small":   resnetArch("small ResNet for quick runs: stem 32, one basic block per stage 64-128-256, each stride 2", ResNetConfig{Blocks: []int{1, 1, 1}, Widths: []int{64, 128, 256}, StemWidth: 32, FirstStride: 2}),
	"vit-tiny":       vitArch("ViT-Tiny: width 192, depth 12, 3 heads", 192, 12, 3),
	"vit-small":      vitArch("ViT-Small: width 384, depth 12, 6 heads", 384, 12, 6),
}

// Archs lists the backbone names NewBackbone accepts, with a description.
func Archs() map[string]string {
	out := map[string]string{}
	for k, v := range archs {
		out[k] = v.help
	}
	return out
}

// NewBackbone builds the named backbone for the given input.
func NewBackbone(c BackboneConfig, r *rand.Rand) (Backbone, error) {
	spec, ok := archs[c.Arch]
	if !ok {
		names := make([]string, 0, len(archs))
		for k := range archs {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown backbone %q (known: %s)", c.Arch, strings.Join(names, ", "))
	}
	if c.InChannels <= 0 || c.ImageSize <= 0 {
		return nil, fmt.Errorf("backbone %s: bad input %d channels, size %d", c.Arch, c.InChannels, c.ImageSize)
	}
	return spec.build(c, r)
}

// FreezeStages freezes the parameters of the first k stage modules of b
// (k = 1 freezes the stem, k = 3 the stem and two stages) and puts them in
// evaluation mode, so their batch-norm statistics stay fixed too.
func FreezeStages(b Backbone, k int) {
	for i, m := range b.StageModules() {
		frozen := i < k
		SetRequiresGrad(m, !frozen)
		if frozen {
			m.SetTraining(false)
		}
	}
}
