// Package eval measures what a representation has learned by training cheap
// classifiers on frozen features: the two protocols every self-supervised
// paper reports.
//
//   - kNN (knn.go, search.go): the InstDisc / solo-learn / lightly protocol.
//     Features are L2-normalised, each test row votes with its k=200 most
//     cosine-similar training rows weighted by exp(sim/0.1); the plain
//     majority vote over Euclidean distance with a small k is an option.
//     Similarities are computed in blocks with tensor.Gemm and a partial
//     top-k selection per row, so 10000 x 60000 comparisons never
//     materialise the full similarity matrix.
//
//   - Linear probe (linear.go, linear_train.go, softmax.go, lbfgs.go):
//     multinomial logistic regression on standardised features, trained by
//     full-batch L-BFGS (the default) or mini-batch SGD with momentum and a
//     cosine schedule, with optional weight-decay selection on a held-out
//     split of the training features.
//
//   - Per-stage probes (stages.go): the globally pooled output of the stem
//     and of every stage, extracted in one pass (ExtractStages), one linear
//     probe each: the per-layer tables of the RotNet and split-brain
//     papers.
//
//   - Label efficiency (labels.go): class-balanced shares of the training
//     labels (a fraction of every class, or N images of every class,
//     reproducible from a seed), a probe per share on features extracted
//     once, and the curve of accuracy against labelled images. Fine-tuning
//     itself lives in package finetune.
//
// Supporting pieces: per-feature standardisation fitted on training data
// only (standardize.go), top-k accuracy and confusion matrices (metrics.go).
//
// Features are *tensor.Tensor values of shape [N, D] (float32, row-major);
// labels are []int in [0, numClasses). Bad input (wrong shapes, labels out of
// range, NaN or Inf features) is reported as an error naming the argument and
// the problem.
package eval
