package index_test

import (
	"fmt"
	"log"

	"selfsup/index"
)

// Build an exact index of a few embeddings and find the nearest neighbours
// of a query by cosine similarity.
func ExampleIndex_Search() {
	ix, err := index.New("encoder-id", 3)
	if err != nil {
		log.Fatal(err)
	}
	err = ix.Add(
		[]string{"cat.png", "dog.png", "car.png"},
		[]float32{
			0.9, 0.1, 0.0,
			0.7, 0.3, 0.1,
			0.0, 0.2, 1.0,
		})
	if err != nil {
		log.Fatal(err)
	}
	hits, err := ix.Search([]float32{1, 0.2, 0}, 2)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		fmt.Printf("%s %.3f\n", h.ID, h.Score)
	}
	// Output:
	// cat.png 0.996
	// dog.png 0.970
}

// An IVF index over many vectors, with its scan depth calibrated for a
// recall@10 of at least 0.95 against exact search.
func ExampleBuild() {
	ids, vecs := clustered(5000, 16, 20, 0.3, 1)
	ix, err := index.Build("encoder-id", 16, ids, vecs, index.Options{Kind: index.IVF, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ix.NList(), "lists")
	hits, _ := ix.SearchID(ids[0], index.SearchOptions{K: 3})
	fmt.Println(len(hits), "neighbours of", ids[0])
	// Output:
	// 71 lists
	// 3 neighbours of c0
}
