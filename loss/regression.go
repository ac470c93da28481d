package loss

import (
	"fmt"

	"selfsup/autograd"
	"selfsup/tensor"
)

// NegativeCosine is the mean over rows of -cos(p_i, z_i): SimSiam's loss
// (pass z detached: the stop-gradient is the method's point).
func NegativeCosine(p, z *autograd.Var) *autograd.Var {
	checkPair("NegativeCosine", p, z)
	cos := autograd.SumAxis(autograd.Mul(autograd.L2Normalize(p, 1e-12), autograd.L2Normalize(z, 1e-12)), 1, false)
	return autograd.Neg(autograd.Mean(cos))
}

// BYOL is the mean over rows of the normalised squared error
// ||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z) between the online prediction p and
// the target projection z (detached: the target network gets no gradient).
func BYOL(p, z *autograd.Var) *autograd.Var {
	checkPair("BYOL", p, z)
	return autograd.AddScalar(autograd.Scale(NegativeCosine(p, z), 2), 2)
}

// BarlowTwins drives the cross-correlation matrix of the two views'
// batch-normalised embeddings [N, D] to the identity: the on-diagonal
// terms (1 - C_ii)^2 make the embedding invariant to the augmentations, the
// off-diagonal terms lambda * C_ij^2 decorrelate its dimensions (Zbontar et
// al. 2021: lambda 0.0051).
func BarlowTwins(z1, z2 *autograd.Var, lambda float32) *autograd.Var {
	checkPair("BarlowTwins", z1, z2)
	n, d := z1.Shape()[0], z1.Shape()[1]
	if n < 2 {
		panic(&autograd.OpError{Op: "BarlowTwins", Msg: fmt.Sprintf("batch of %d: the cross-correlation needs at least 2", n)})
	}
	a := autograd.BatchNorm(z1, nil, nil, nil, true)
	b := autograd.BatchNorm(z2, nil, nil, nil, true)
	c := autograd.Scale(autograd.MatMul(a, b, true, false), 1/float32(n)) // [D, D]
	eye, off := diagMasks(d, 1, lambda)
	// sum_i (1 - C_ii)^2 + lambda sum_{i!=j} C_ij^2
	onDiag := autograd.Sum(autograd.Mul(autograd.Square(autograd.Sub(c, autograd.Const(eye))), autograd.Const(maskOf(d, 1, 0))))
	offDiag := autograd.Sum(autograd.Mul(autograd.Square(c), autograd.Const(off)))
	return autograd.Add(onDiag, offDiag)
}

// VICRegWeights are VICReg's coefficients (Bardes et al. 2022: 25, 25, 1).
type VICRegWeights struct {
	Invariance float32 `json:"invariance"`
	Variance   float32 `json:"variance"`
	Covariance float32 `json:"covariance"`
}

// VICReg is the variance-invariance-covariance loss of two views' embeddings
// [N, D]: Invariance * MSE(z1, z2) + Variance * (v(z1) + v(z2))/2 +
// Covariance * (c(z1) + c(z2)), where v is the mean over dimensions of
// max(0, 1 - sqrt(var + 1e-4)) (keeps every dimension's spread up, against
// collapse) and c the sum of squared off-diagonal covariances divided by D
// (decorrelates the dimensions), as facebookresearch/vicreg computes them.
func VICReg(z1, z2 *autograd.Var, w VICRegWeights) *autograd.Var {
	checkPair("VICReg", z1, z2)
	n := z1.Shape()[0]
	if n < 2 {
		panic(&autograd.OpError{Op: "VICReg", Msg: fmt.Sprintf("batch of %d: variances need at least 2", n)})
	}
	inv := autograd.MSE(z1, z2)
	v := autograd.Scale(autograd.Add(vicVariance(z1), vicVariance(z2)), 0.5)
	c := autograd.Add(vicCovariance(z1), vicCovariance(z2))
	return autograd.Add(autograd.Add(autograd.Scale(inv, w.Invariance), autograd.Scale(v, w.Variance)), autograd.Scale(c, w.Covariance))
}

// centered returns z minus its column means.
func centered(z *autograd.Var) *autograd.Var {
	return autograd.Sub(z, autograd.MeanAxis(z, 0, true))
}

func vicVariance(z *autograd.Var) *autograd.Var {
	n := z.Shape()[0]
	zc := centered(z)
	// unbiased variance per dimension, as torch.var
	variance := autograd.Scale(autograd.SumAxis(autograd.Square(zc), 0, false), 1/float32(n-1))
	std := autograd.Sqrt(autograd.AddScalar(variance, 1e-4))
	return autograd.Mean(autograd.ReLU(autograd.AddScalar(autograd.Neg(std), 1)))
}

func vicCovariance(z *autograd.Var) *autograd.Var {
	n, d := z.Shape()[0], z.Shape()[1]
	zc := centered(z)
	cov := autograd.Scale(autograd.MatMul(zc, zc, true, false), 1/float32(n-1))
	_, off := diagMasks(d, 0, 1)
	return autograd.Scale(autograd.Sum(autograd.Mul(autograd.Square(cov), autograd.Const(off))), 1/float32(d))
}

// diagMasks returns a d x d matrix with diag on the diagonal (and 0 off
// it), and one with off off the diagonal (and 0 on it).
func diagMasks(d int, diag, off float32) (*tensor.Tensor, *tensor.Tensor) {
	return maskOf(d, diag, 0), maskOf(d, 0, off)
}

func maskOf(d int, diag, off float32) *tensor.Tensor {
	t := tensor.New(d, d)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			if i == j {
				t.Data[i*d+j] = diag
			} else {
				t.Data[i*d+j] = off
			}
		}
	}
	return t
}

func checkPair(op string, a, b *autograd.Var) {
	as, bs := a.Shape(), b.Shape()
	if len(as) != 2 || !tensor.SameShape(as, bs) {
		panic(&autograd.OpError{Op: op, Msg: fmt.Sprintf("embeddings %v and %v must both be [N, D]", as, bs)})
	}
}
