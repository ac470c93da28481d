package loss

import (
	"fmt"

	"selfsup/autograd"
	"selfsup/tensor"
)

// InfoNCE is the contrastive loss of CPC and MoCo: each query q_i [N, D]
// must pick out its positive key k_i [N, D] among the negatives, by a
// softmax over similarities divided by tau:
//
//	l_i = -log exp(q_i.k_i/tau) / (exp(q_i.k_i/tau) + sum_j exp(q_i.n_j/tau))
//
// Its negative is a lower bound on the mutual information between the
// views (more negatives, tighter bound). The vectors are used as given (the
// methods L2-normalise them first). With negatives [K, D] (MoCo's queue)
// every query shares them; with negatives nil the other keys of the batch
// are the negatives (k_j, j != i), which for normalised inputs is the loss
// MoCo v3 uses. NTXent is InfoNCE where each of 2N views is a query, its
// partner the positive and the other 2N-2 views of the batch the negatives.
func InfoNCE(q, k, negatives *autograd.Var, tau float32) *autograd.Var {
	qs, ks := q.Shape(), k.Shape()
	if len(qs) != 2 || !tensor.SameShape(qs, ks) {
		panic(&autograd.OpError{Op: "InfoNCE", Msg: fmt.Sprintf("queries %v and keys %v must both be [N, D]", qs, ks)})
	}
	if tau <= 0 {
		panic(&autograd.OpError{Op: "InfoNCE", Msg: fmt.Sprintf("temperature %v must be positive", tau)})
	}
	n := qs[0]
	targets := make([]int, n)
	if negatives == nil {
		if n < 2 {
			panic(&autograd.OpError{Op: "InfoNCE", Msg: fmt.Sprintf("in-batch negatives need a batch of at least 2, got %d", n)})
		}
		// logits[i][j] = q_i.k_j / tau; the positive is on the diagonal
		for i := range targets {
			targets[i] = i
		}
		return autograd.CrossEntropy(autograd.Scale(autograd.MatMul(q, k, false, true), 1/tau), targets, 0)
	}
	ns := negatives.Shape()
	if len(ns) != 2 || ns[1] != qs[1] {
		panic(&autograd.OpError{Op: "InfoNCE", Msg: fmt.Sprintf("negatives %v do not match queries %v", ns, qs)})
	}
	// logits = [q.k+ | q.negatives^T] / tau, the positive in column 0
	pos := autograd.SumAxis(autograd.Mul(q, k), 1, true) // [N, 1]
	neg := autograd.MatMul(q, negatives, false, true)    // [N, K]
	return autograd.CrossEntropy(autograd.Scale(autograd.Concat(1, pos, neg), 1/tau), targets, 0)
}
