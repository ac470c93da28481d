package eval

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"selfsup/tensor"
)

// bruteScores returns the float64 nearness of every base row to query row i
// (cosine similarity, or minus the Euclidean distance).
func bruteScores(q, b *tensor.Tensor, i int, metric Metric) []float64 {
	d := q.Dim(1)
	qi := q.Data[i*d : (i+1)*d]
	out := make([]float64, b.Dim(0))
	for j := range out {
		bj := b.Data[j*d : (j+1)*d]
		var dotp, nq, nb, dist float64
		for t := 0; t < d; t++ {
			x, y := float64(qi[t]), float64(bj[t])
			dotp += x * y
			nq += x * x
			nb += y * y
			dist += (x - y) * (x - y)
		}
		if metric == Cosine {
			if nq > 0 && nb > 0 {
				out[j] = dotp / math.Sqrt(nq*nb)
			}
		} else {
			out[j] = -math.Sqrt(dist)
		}
	}
	return out
}

// bruteNeighbours sorts every base row by (score desc, index asc).
func bruteNeighbours(scores []float64, self int) []int {
	idx := make([]int, 0, len(scores))
	for j := range scores {
		if j != self {
			idx = append(idx, j)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	return idx
}

func TestSearchMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tests := []struct {
		name        string
		nq, nb, d   int
		k           int
		metric      Metric
		excludeSelf bool
	}{
		{"cosine", 301, 997, 33, 20, Cosine, false},
		{"euclidean", 301, 997, 33, 5, Euclidean, false},
		{"cosine deep", 37, 211, 600, 200, Cosine, false},
		{"k above base", 10, 7, 4, 200, Cosine, false},
		{"exclude self", 250, 250, 16, 9, Cosine, true},
		{"exclude self euclidean", 250, 250, 16, 1, Euclidean, true},
		{"single query", 1, 5000, 8, 50, Euclidean, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := randMatrix(rng, tc.nq, tc.d)
			b := q
			if !tc.excludeSelf {
				b = randMatrix(rng, tc.nb, tc.d)
			}
			var ref *Neighbors
			for _, blk := range [][2]int{{tc.nq, tc.nb}, {0, 0}, {7, 13}, {64, 100}, {1, 0}, {0, 1}} {
				nb, err := Search(q, b, SearchConfig{K: tc.k, Metric: tc.metric, ExcludeSelf: tc.excludeSelf, BlockRows: blk[0], BlockCols: blk[1]})
				if err != nil {
					t.Fatal(err)
				}
				if ref == nil {
					ref = nb
					continue
				}
				// Blocking must not change a single bit.
				for i := range ref.Index {
					if nb.Index[i] != ref.Index[i] || nb.Score[i] != ref.Score[i] {
						t.Fatalf("blocks %v: entry %d is (%d, %v), unblocked (%d, %v)", blk, i, nb.Index[i], nb.Score[i], ref.Index[i], ref.Score[i])
					}
				}
			}
			wantK := min(tc.k, tc.nb)
			if tc.excludeSelf {
				wantK = min(tc.k, tc.nb-1)
			}
			if ref.K != wantK || ref.Len() != tc.nq {
				t.Fatalf("K %d, Len %d; want %d, %d", ref.K, ref.Len(), wantK, tc.nq)
			}
			for i := 0; i < tc.nq; i++ {
				scores := bruteScores(q, b, i, tc.metric)
				self := -1
				if tc.excludeSelf {
					self = i
				}
				want := bruteNeighbours(scores, self)
				idx, sc := ref.Row(i)
				for r := range idx {
					if idx[r] == self {
						t.Fatalf("row %d: found itself with ExcludeSelf", i)
					}
					tol := 2e-5 * math.Max(1, math.Abs(scores[want[r]]))
					// The score at each rank matches the brute force, and
					// each reported score is the true score of its index.
					if math.Abs(float64(sc[r])-scores[want[r]]) > tol || math.Abs(float64(sc[r])-scores[idx[r]]) > tol {
						t.Fatalf("row %d rank %d: got (%d, %v), brute force (%d, %v), true score of %d is %v",
							i, r, idx[r], sc[r], want[r], scores[want[r]], idx[r], scores[idx[r]])
					}
					if r > 0 && sc[r] > sc[r-1] {
						t.Fatalf("row %d: scores not sorted nearest first: %v", i, sc)
					}
				}
			}
		})
	}
}

// Equal scores keep the lower base index first, whatever the blocking.
func TestSearchTiesPreferLowerIndex(t *testing.T) {
	base := rows(unit(50), unit(10), unit(10), unit(30), unit(10), unit(-10))
	q := rows(unit(10))
	for _, cols := range []int{1, 2, 4, 6} {
		nb, err := Search(q, base, SearchConfig{K: 4, BlockCols: cols})
		if err != nil {
			t.Fatal(err)
		}
		idx, _ := nb.Row(0)
		// 10 degrees at 1, 2, 4; then 30 (3) and -10 (5) tie at cos 20: 3 first.
		want := []int{1, 2, 4, 3}
		for r := range want {
			if idx[r] != want[r] {
				t.Fatalf("BlockCols %d: neighbours %v, want %v", cols, idx, want)
			}
		}
	}
}

func TestSearchZeroRowsAndErrors(t *testing.T) {
	// A zero query row has cosine similarity 0 with every base row.
	nb, err := Search(rows([]float32{0, 0}), rows([]float32{1, 0}, []float32{0, 0}), SearchConfig{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if nb.Score[0] != 0 || nb.Score[1] != 0 || nb.Index[0] != 0 {
		t.Fatalf("zero row: %v %v", nb.Index, nb.Score)
	}
	a, b := tensor.New(3, 2), tensor.New(4, 3)
	nan := tensor.New(2, 2)
	nan.Data[3] = float32(math.Inf(1))
	tests := []struct {
		name string
		q, b *tensor.Tensor
		cfg  SearchConfig
		want string
	}{
		{"columns", a, b, SearchConfig{}, "2 columns, base features 3"},
		{"inf", nan, a, SearchConfig{}, "+Inf at row 1, column 1"},
		{"exclude self sizes", a, tensor.New(4, 2), SearchConfig{ExcludeSelf: true}, "3 and 4 rows"},
		{"exclude self single", tensor.New(1, 2), tensor.New(1, 2), SearchConfig{ExcludeSelf: true}, "no rows left"},
		{"negative k", a, a, SearchConfig{K: -1}, "K is -1"},
		{"metric", a, a, SearchConfig{Metric: 9}, "unknown metric"},
		{"3-D", tensor.New(2, 2, 2), a, SearchConfig{}, "want a 2-D"},
		{"nil", nil, a, SearchConfig{}, "nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Search(tc.q, tc.b, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
