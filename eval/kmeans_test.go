package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/tensor"
)

// TestKMeansExact: three well separated groups of points must give their
// exact means as centroids and the exact inertia.
func TestKMeansExact(t *testing.T) {
	x := rows(
		[]float32{0, 0}, []float32{0, 2}, []float32{2, 0}, []float32{2, 2}, // mean (1, 1), 4 x 2
		[]float32{10, 10}, []float32{10, 12}, []float32{12, 10}, []float32{12, 12}, // mean (11, 11), 4 x 2
		[]float32{0, 20}, []float32{2, 20}, // mean (1, 20), 2 x 1
	)
	group := []int{0, 0, 0, 0, 1, 1, 1, 1, 2, 2}
	means := [][]float32{{1, 1}, {11, 11}, {1, 20}}
	for seed := uint64(0); seed < 5; seed++ {
		res, err := KMeans(x, KMeansConfig{K: 3, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if res.Inertia != 18 || !res.Converged {
			t.Errorf("seed %d: inertia %v (converged %v), want 18", seed, res.Inertia, res.Converged)
		}
		// The cluster of each group's first point names the group.
		for i, g := range group {
			c := res.Assign[i]
			if c != res.Assign[[]int{0, 4, 8}[g]] {
				t.Fatalf("seed %d: assignment %v splits group %d", seed, res.Assign, g)
			}
			got := res.Centroids.Data[2*c : 2*c+2]
			if got[0] != means[g][0] || got[1] != means[g][1] {
				t.Errorf("seed %d: centroid of group %d is %v, want %v", seed, g, got, means[g])
			}
		}
		if s, _ := ScoreClusters(group, res.Assign); s.Accuracy != 1 || s.NMI != 1 || s.ARI != 1 {
			t.Errorf("seed %d: scores %+v, want all 1", seed, s)
		}
	}
}

// TestKMeansBlobs clusters Gaussian blobs; more restarts never do worse,
// the same seed gives the same result, and the edge cases K = 1 and K = N
// are exact.
func TestKMeansBlobs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 1))
	x, y, _ := blobs(rng, 600, 8, 5, 10, 1, nil)
	one, err := KMeans(x, KMeansConfig{K: 5, Restarts: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	best, err := KMeans(x, KMeansConfig{K: 5, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if best.Inertia > one.Inertia {
		t.Errorf("10 restarts: inertia %v, worse than 1 restart's %v", best.Inertia, one.Inertia)
	}
	s, err := ScoreClusters(y, best.Assign)
	if err != nil {
		t.Fatal(err)
	}
	if s.Accuracy < 0.99 || s.NMI < 0.95 {
		t.Errorf("blobs: scores %+v, want accuracy >= 0.99, NMI >= 0.95", s)
	}
	again, _ := KMeans(x, KMeansConfig{K: 5, Seed: 3})
	for i := range again.Assign {
		if again.Assign[i] != best.Assign[i] {
			t.Fatal("the same seed gave another clustering")
		}
	}
	// The inertia is the sum of squared distances to the assigned
	// centroids, and each row's centroid is its nearest.
	d := 8
	sum := 0.0
	for i, a := range best.Assign {
		dist := func(c int) float64 {
			s := 0.0
			for j := 0; j < d; j++ {
				v := float64(x.Data[i*d+j]) - float64(best.Centroids.Data[c*d+j])
				s += v * v
			}
			return s
		}
		sum += dist(a)
		for c := 0; c < 5; c++ {
			if dist(c) < dist(a)-1e-3 {
				t.Fatalf("row %d is in cluster %d at %v but cluster %d is at %v", i, a, dist(a), c, dist(c))
			}
		}
	}
	if math.Abs(sum-best.Inertia) > 1e-9*sum {
		t.Errorf("inertia %v, recomputed %v", best.Inertia, sum)
	}

	// K = 1: the mean, and the total sum of squares.
	k1, err := KMeans(x, KMeansConfig{K: 1})
	if err != nil {
		t.Fatal(err)
	}
	tss := 0.0
	for j := 0; j < d; j++ {
		m := 0.0
		for i := 0; i < 600; i++ {
			m += float64(x.Data[i*d+j])
		}
		m /= 600
		if math.Abs(float64(k1.Centroids.Data[j])-m) > 1e-5 {
			t.Errorf("K=1: centroid[%d] = %v, want the mean %v", j, k1.Centroids.Data[j], m)
		}
		for i := 0; i < 600; i++ {
			v := float64(x.Data[i*d+j]) - m
			tss += v * v
		}
	}
	if math.Abs(k1.Inertia-tss) > 1e-6*tss {
		t.Errorf("K=1: inertia %v, want the total sum of squares %v", k1.Inertia, tss)
	}
	// K = N: every row its own cluster.
	small := tensor.FromData(x.Data[:20*d], 20, d)
	kn, err := KMeans(small, KMeansConfig{K: 20})
	if err != nil {
		t.Fatal(err)
	}
	if kn.Inertia != 0 {
		t.Errorf("K=N: inertia %v, want 0", kn.Inertia)
	}
}

// TestKMeansDuplicates: fewer distinct points than clusters must still
// return (with zero inertia), not loop or fail.
func TestKMeansDuplicates(t *testing.T) {
	x := rows([]float32{1, 1}, []float32{1, 1}, []float32{5, 5}, []float32{5, 5}, []float32{1, 1})
	res, err := KMeans(x, KMeansConfig{K: 3, MaxIter: 50})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inertia != 0 || res.Assign[0] != res.Assign[1] || res.Assign[0] == res.Assign[2] {
		t.Errorf("assignment %v with inertia %v: want the two distinct points apart, inertia 0", res.Assign, res.Inertia)
	}
}

func TestKMeansBadInput(t *testing.T) {
	x := rows([]float32{0, 0}, []float32{1, 1}, []float32{2, 2})
	nan := rows([]float32{0, 0}, []float32{float32(math.NaN()), 1})
	cases := []struct {
		name string
		x    *tensor.Tensor
		cfg  KMeansConfig
		want string
	}{
		{"K = 0", x, KMeansConfig{}, "K is 0"},
		{"K > N", x, KMeansConfig{K: 4}, "K is 4, want 1 to the number of rows (3)"},
		{"NaN", nan, KMeansConfig{K: 1}, "NaN at row 1, column 0"},
		{"negative restarts", x, KMeansConfig{K: 2, Restarts: -1}, "restarts -1"},
		{"nil", nil, KMeansConfig{K: 1}, "nil"},
	}
	for _, c := range cases {
		if _, err := KMeans(c.x, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
