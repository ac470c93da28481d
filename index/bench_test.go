package index_test

import (
	"fmt"
	"testing"

	"selfsup/index"
)

// BenchmarkSearchFlat times exact search over 100k 128-d vectors for one
// query and for batches (ns/op is per batch).
func BenchmarkSearchFlat(b *testing.B) {
	const n, d = 100_000, 128
	ids, vecs := randomVectors(n, d, 1)
	ix, err := index.Build("e", d, ids, vecs, index.Options{})
	if err != nil {
		b.Fatal(err)
	}
	_, qs := randomVectors(64, d, 2)
	for _, nq := range []int{1, 2, 4, 8, 16, 64} {
		b.Run(fmt.Sprintf("queries=%d", nq), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := ix.SearchBatch(qs[:nq*d], index.SearchOptions{K: 10}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
