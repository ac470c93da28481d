// Package nn holds selfsup's layers (Linear, Conv2d, BatchNorm, LayerNorm,
// MLP, multi-head self-attention, transformer blocks, patch embedding) and
// backbones (ResNet-18/34/50 in ImageNet and CIFAR variants, a small ResNet
// for quick runs, ViT-tiny/small).
//
// A Module reports its parameters and buffers under dotted names (the state
// dict, matching PyTorch's naming where the architectures match) and
// switches between training and evaluation mode. Layers are plain structs
// whose Forward methods compose autograd ops; they never loop over raw
// slices, so the kernels stay behind package tensor.
package nn
