// Package tensor holds selfsup's float32 n-dimensional arrays and the numeric
// kernels behind them: a blocked SGEMM with AVX-512 and AVX2 assembly
// micro-kernels (picked at run time) and a portable Go path, im2col-based
// convolution kernels, pooling, normalisation and elementwise kernels, a
// worker pool sized by GOMAXPROCS and a buffer pool that lets training steps
// reuse memory instead of allocating it.
//
// Tensors are dense and row-major (NCHW for images). A Tensor's Data slice may
// be shared with other tensors (Reshape and Slice return views); operations
// that change layout (Transpose, Permute) copy.
//
// Everything above this package (autograd, nn, methods, eval) calls these
// kernels rather than looping over raw slices, so that a future accelerator
// backend has one narrow surface to replace.
package tensor
