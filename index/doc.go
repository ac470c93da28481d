// Package index finds the stored embeddings most similar to a query: the
// "nearest neighbours in feature space" of the lecture, as a component a
// service can hold in memory, update and persist.
//
// Vectors are L2-normalised on the way in and compared by inner product,
// which is cosine similarity. Two kinds share one type:
//
//   - Flat compares a query with every vector, exactly. Queries are
//     scored in blocks: a batch of queries against chunks of 2048 stored
//     vectors is one matrix product (tensor.GemmSerial), chunks spread over
//     the worker pool, each query keeping its best k in a small heap; one
//     to three queries use unrolled dot products instead, since a matrix
//     product would spend its time packing the vectors. (eval.Search does
//     the same for the evaluation's many-queries case; for one query
//     against a million vectors its per-call norm pass and GEMM packing
//     made it about 20x slower than this path, hence the separate scan.)
//   - IVF partitions the vectors into NList inverted lists around
//     spherical k-means centroids (the square root of the number of
//     vectors by default) and scans only the NProbe lists whose centroids
//     are most similar to the query. Build calibrates NProbe: on stored
//     vectors used as queries it finds the smallest NProbe whose recall@10
//     against exact search reaches 0.95 (plus a margin), so the default is
//     as fast as the data allows and no less accurate than that. On data
//     with cluster structure (real embeddings) that is a few percent of
//     the lists; on uniformly random vectors, which have none, a large
//     share.
//
// Add puts new vectors in place (IVF: into the list of the nearest
// centroid) and Remove deletes them by moving the last vector of the list
// into the hole, so lists stay compact and nothing is ever rebuilt. After
// the data drifts far from the centroids, Build a new index.
//
// An Index is safe for concurrent use: searches share a read lock, writes
// take the write lock and are serialised. Save writes atomically
// (temporary file and rename) a versioned file with the encoder's ID and
// the dimension (see Index.Save for the layout and its CRC-32C), and
// LoadFor refuses an index made by another encoder or for another
// dimension, saying which. Update serialises read-modify-write cycles on
// one file across processes with a lock file.
package index
