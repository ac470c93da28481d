// Package tsne embeds feature vectors in the plane with t-distributed
// stochastic neighbour embedding (van der Maaten and Hinton, 2008), the
// standard picture of what a representation has learned: images whose
// features are near stay near, so a good encoder shows one island per class.
//
// Embed follows the reference recipe (van der Maaten's bhtsne, scikit-learn,
// openTSNE):
//
//   - inputs wider than 50 dimensions are first reduced to their top 50
//     principal components (pca.go);
//   - each point's Gaussian bandwidth is found by binary search so that its
//     conditional distribution over the other points has the requested
//     perplexity (default 30), and the affinities are symmetrised
//     (affinity.go);
//   - the 2-D layout starts from a tiny random Gaussian (or the first two
//     principal components) and follows the gradient of the KL divergence
//     with momentum (0.5, then 0.8) and delta-bar-delta gains, with the
//     affinities exaggerated 12 times during the first 250 of 1000
//     iterations (tsne.go).
//
// Up to ExactMaxN points the affinities are dense and the gradient is exact,
// O(N^2) per iteration (exact.go). Above it, Barnes-Hut t-SNE (van der
// Maaten, 2014) keeps the affinities of each point's 3*perplexity nearest
// neighbours (found exactly with eval.Search) and approximates the repulsive
// forces with a quad-tree (quadtree.go, barneshut.go): cells seen under an
// angle below theta = 0.5 act as one point at their centre of mass, about
// O(N log N) per iteration.
//
// This is its own package rather than part of eval because it is a
// visualisation with its own optimiser and data structures, not a protocol
// that scores features; it uses eval only for the neighbour search, and its
// embeddings are scored with eval.KNN like any other features.
//
// Every run is deterministic: the same input and Config.Seed give the same
// embedding whatever the number of workers (the parallel loops write
// per-point results, and sums over points are taken in a fixed order).
package tsne
