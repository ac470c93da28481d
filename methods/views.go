package methods

import "selfsup/tensor"

// concatViews stacks view tensors [N, C, H, W] along the batch dimension
// into one tensor from the buffer pool (the autograd tape returns it there).
func concatViews(views ...*tensor.Tensor) *tensor.Tensor {
	s := views[0].Shape()
	n := 0
	for _, v := range views {
		n += v.Dim(0)
	}
	out := tensor.Buffers.Get(append([]int{n}, s[1:]...)...)
	off := 0
	for _, v := range views {
		copy(out.Data[off:], v.Data)
		off += len(v.Data)
	}
	return out
}
