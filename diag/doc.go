// Package diag measures representation collapse, the failure mode of
// self-supervised methods without negatives (SimSiam, BYOL, DINO, ...): the
// encoder maps every image to the same point, or to a low-dimensional
// subspace, and the loss still goes down. The loss curve alone cannot tell,
// so the methods log two cheap numbers per step:
//
//   - NormalizedStd, the SimSiam paper's indicator: the per-dimension
//     standard deviation over the batch of the L2-normalised embeddings,
//     about 1/sqrt(D) when the embeddings spread over the sphere and 0 when
//     they collapse to one point;
//   - EffectiveRank, RankMe (Garrido et al., 2023): the exponential of the
//     entropy of the normalised singular values of the batch of embeddings,
//     close to min(N, D) when every direction is used and 1 when the
//     embeddings lie on one line.
//
// Collapse returns both as a map ready for a method's Output.Metrics.
//
// The singular values come from the eigenvalues of the Gram matrix of the
// batch, computed in float64 with a symmetric eigenvalue solver written
// here (SymEigen: Householder tridiagonalisation and the implicit QL
// algorithm), so the package needs nothing beyond the standard library and
// selfsup/tensor.
package diag
