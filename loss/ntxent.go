// Package loss holds the self-supervised objectives as functions of
// embeddings, usable in any training loop: NT-Xent (SimCLR) and, built on
// the same pieces, the InfoNCE family.
package loss

import (
	"fmt"
	"math"
	"sync"

	"selfsup/autograd"
	"selfsup/tensor"
)

// NTXent is SimCLR's normalised temperature-scaled cross-entropy over 2N
// embeddings z [2N, D] where rows i and i+N are two views of one image: each
// row's positive is its partner, its negatives the other 2N-2 rows. The
// embeddings are L2-normalised here; tau is the temperature (0.5 for
// CIFAR-sized data in the SimCLR paper). It returns the mean over all 2N
// rows, as PyTorch's F.cross_entropy on the masked similarity matrix does.
func NTXent(z *autograd.Var, tau float32) *autograd.Var {
	s := z.Shape()
	if len(s) != 2 || s[0]%2 != 0 || s[0] < 4 {
		panic(&autograd.OpError{Op: "NTXent", Msg: fmt.Sprintf("embeddings must be [2N, D] with N >= 2, got %v", s)})
	}
	if tau <= 0 {
		panic(&autograd.OpError{Op: "NTXent", Msg: fmt.Sprintf("temperature %v must be positive", tau)})
	}
	m := s[0]
	n := m / 2
	zn := autograd.L2Normalize(z, 1e-12)
	sim := autograd.MatMul(zn, zn, false, true)
	logits := autograd.Add(autograd.Scale(sim, 1/tau), autograd.Const(selfMask(m)))
	targets := make([]int, m)
	for i := range targets {
		targets[i] = (i + n) % m
	}
	return autograd.CrossEntropy(logits, targets, 0)
}

var (
	maskMu    sync.Mutex
	maskCache = map[int]*tensor.Tensor{}
)

// selfMask returns the m x m matrix with -Inf on the diagonal and 0
// elsewhere, which removes each row's similarity to itself from the softmax.
func selfMask(m int) *tensor.Tensor {
	maskMu.Lock()
	defer maskMu.Unlock()
	if t, ok := maskCache[m]; ok {
		return t
	}
	t := tensor.New(m, m)
	for i := 0; i < m; i++ {
		t.Data[i*m+i] = float32(math.Inf(-1))
	}
	maskCache[m] = t
	return t
}
