package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/tensor"
)

func TestKNNHandMade(t *testing.T) {
	// Cosine, 2-D: class 0 at 0 degrees; class 1 at 30 and 35 degrees.
	// A query at 10 degrees sees cos 10 (class 0), cos 20 and cos 25
	// (class 1). With K=3: majority says 1; exp(sim/0.1) says 1 too
	// (e^9.85 < e^9.40 + e^9.06); exp(sim/0.05) says 0
	// (e^19.70 > e^18.79 + e^18.13). Class 2 sits at 180 degrees.
	cosTrain := rows(unit(0), unit(30), unit(35), unit(180))
	cosLabels := []int{0, 1, 1, 2}
	// Euclidean: class 0 around the origin, class 1 around (5, 5).
	l2Train := rows([]float32{0, 0}, []float32{1, 0}, []float32{0, 1}, []float32{5, 5}, []float32{4, 5}, []float32{5, 4})
	l2Labels := []int{0, 0, 0, 1, 1, 1}
	tests := []struct {
		name   string
		train  *tensor.Tensor
		labels []int
		query  [][]float32
		cfg    KNNConfig
		want   []int
	}{
		{"weighted T=0.1", cosTrain, cosLabels, [][]float32{unit(10), unit(170)}, KNNConfig{K: 3}, []int{1, 2}},
		{"weighted T=0.05", cosTrain, cosLabels, [][]float32{unit(10), unit(170)}, KNNConfig{K: 3, Temperature: 0.05}, []int{0, 2}},
		{"majority cosine", cosTrain, cosLabels, [][]float32{unit(10)}, KNNConfig{K: 3, Vote: VoteMajority}, []int{1}},
		{"nearest only", cosTrain, cosLabels, [][]float32{unit(10), unit(33)}, KNNConfig{K: 1}, []int{0, 1}},
		{"majority L2 k=3", l2Train, l2Labels, [][]float32{{1, 1}, {4, 4}, {2, 2}, {3, 3}}, MajorityKNNConfig(3), []int{0, 1, 0, 1}},
		// (2.4, 2.4) with k=5: the five nearest are (1,0), (0,1) at 2.78,
		// (4,5), (5,4) at 3.05 and (0,0) at 3.39: 3 votes to 2 for class 0.
		{"majority L2 k=5", l2Train, l2Labels, [][]float32{{2.4, 2.4}}, MajorityKNNConfig(5), []int{0}},
		// A 3-3 tie under majority goes to the class of the nearest voter.
		{"majority tie", l2Train, l2Labels, [][]float32{{2.4, 2.4}, {2.6, 2.6}}, KNNConfig{K: 6, Metric: Euclidean, Vote: VoteMajority}, []int{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := rows(tc.query...)
			ev, err := KNN(tc.train, tc.labels, q, tc.want, 3, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range ev.Predictions {
				if p != tc.want[i] {
					t.Fatalf("predictions %v, want %v", ev.Predictions, tc.want)
				}
			}
			if ev.Top1 != 1 || ev.Top5 != 1 {
				t.Fatalf("Top1 %v Top5 %v with every label predicted", ev.Top1, ev.Top5)
			}
		})
	}
}

// Top-5 counts the true class when at most four classes outvote it, and
// never a class that got no vote.
func TestKNNTop5Semantics(t *testing.T) {
	// Classes 0..5 at 0, 10, ..., 50 degrees, class 6 at 180. A query at
	// -5 degrees ranks the classes 0, 1, 2, 3, 4, 5 (then 6).
	var train [][]float32
	var labels []int
	for c := 0; c < 6; c++ {
		train = append(train, unit(float64(10*c)))
		labels = append(labels, c)
	}
	train = append(train, unit(180))
	labels = append(labels, 6)
	tests := []struct {
		label    int
		k        int
		top1, t5 float64
	}{
		{0, 6, 1, 1}, {1, 6, 0, 1}, {4, 6, 0, 1}, {5, 6, 0, 0},
		{6, 6, 0, 0}, // no vote for class 6
		{6, 7, 0, 0}, // a vote, but ranked seventh
		{4, 3, 0, 0}, // class 4 outside the 3 neighbours: unranked
	}
	for _, vote := range []Vote{VoteWeighted, VoteMajority} {
		for _, tc := range tests {
			ev, err := KNN(rows(train...), labels, rows(unit(-5)), []int{tc.label}, 7, KNNConfig{K: tc.k, Vote: vote})
			if err != nil {
				t.Fatal(err)
			}
			if ev.Top1 != tc.top1 || ev.Top5 != tc.t5 || ev.Predictions[0] != 0 {
				t.Errorf("%v label %d K %d: top1 %v top5 %v pred %d, want %v %v 0", vote, tc.label, tc.k, ev.Top1, ev.Top5, ev.Predictions[0], tc.top1, tc.t5)
			}
		}
	}
}

func TestKNNLeaveOneOut(t *testing.T) {
	// Pairs of near-identical points with opposite labels: each point's
	// nearest other point has the other label.
	x := rows([]float32{1, 0}, []float32{1, 0.01}, []float32{0, 1}, []float32{0.01, 1})
	y := []int{0, 1, 1, 0}
	with, err := KNN(x, y, x, y, 2, KNNConfig{K: 1})
	if err != nil {
		t.Fatal(err)
	}
	loo, err := KNN(x, y, x, y, 2, KNNConfig{K: 1, ExcludeSelf: true})
	if err != nil {
		t.Fatal(err)
	}
	if with.Top1 != 1 || loo.Top1 != 0 {
		t.Fatalf("top-1 with self %v (want 1), leave-one-out %v (want 0)", with.Top1, loo.Top1)
	}
}

// One search with a large K serves votes with any smaller K, and the result
// equals a fresh KNN with that K.
func TestKNNVoteSweepMatchesKNN(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	train, ytr, centres := blobs(rng, 900, 12, 6, 2, 1, nil)
	test, yte, _ := blobs(rng, 300, 12, 6, 2, 1, centres)
	nb, err := Search(test, train, SearchConfig{K: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []KNNConfig{{K: 50}, {K: 10, Temperature: 0.5}, {K: 7, Vote: VoteMajority}, {K: 200}} {
		swept, err := KNNVote(nb, ytr, yte, 6, cfg)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := KNN(train, ytr, test, yte, 6, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.K == 200 {
			// The search kept 50: KNNVote uses those; KNN keeps 200.
			if swept.Top1 < 0.5 {
				t.Errorf("K capped at 50: top1 %v", swept.Top1)
			}
			continue
		}
		if swept.Top1 != direct.Top1 || swept.Top5 != direct.Top5 {
			t.Errorf("%+v: sweep %v/%v, direct %v/%v", cfg, swept.Top1, swept.Top5, direct.Top1, direct.Top5)
		}
		for i := range swept.Predictions {
			if swept.Predictions[i] != direct.Predictions[i] {
				t.Fatalf("%+v: prediction %d differs", cfg, i)
			}
		}
		if direct.Top1 < 0.6 || direct.Top5 < direct.Top1 {
			t.Errorf("%+v: implausible accuracy %v/%v on separated blobs", cfg, direct.Top1, direct.Top5)
		}
	}
}

// The weighted vote equals a float64 brute force of the InstDisc formula.
func TestKNNWeightedVoteMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const c = 5
	train, ytr, centres := blobs(rng, 700, 8, c, 1.5, 1, nil)
	test, yte, _ := blobs(rng, 200, 8, c, 1.5, 1, centres)
	ev, err := KNN(train, ytr, test, yte, c, KNNConfig{K: 30, Temperature: 0.07})
	if err != nil {
		t.Fatal(err)
	}
	disagree := 0
	for i := 0; i < test.Dim(0); i++ {
		scores := bruteScores(test, train, i, Cosine)
		nbrs := bruteNeighbours(scores, -1)[:30]
		votes := make([]float64, c)
		for _, j := range nbrs {
			votes[ytr[j]] += math.Exp(scores[j] / 0.07)
		}
		best := 0
		for k := range votes {
			if votes[k] > votes[best] {
				best = k
			}
		}
		if best != ev.Predictions[i] {
			// Only a near tie of the two leading classes may flip.
			if math.Abs(votes[best]-votes[ev.Predictions[i]]) > 1e-3*votes[best] {
				t.Fatalf("row %d: predicted %d, brute force %d (votes %v)", i, ev.Predictions[i], best, votes)
			}
			disagree++
		}
	}
	if disagree > 1 {
		t.Fatalf("%d near-tie disagreements", disagree)
	}
}

func TestKNNErrors(t *testing.T) {
	x := tensor.New(3, 2)
	y := []int{0, 1, 0}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"temperature", func() error { _, err := KNN(x, y, x, y, 2, KNNConfig{Temperature: -1}); return err }, "temperature is -1"},
		{"vote", func() error { _, err := KNN(x, y, x, y, 2, KNNConfig{Vote: 5}); return err }, "unknown vote"},
		{"train labels", func() error { _, err := KNN(x, []int{0, 2, 0}, x, y, 2, KNNConfig{}); return err }, "train labels[1] is 2"},
		{"test labels count", func() error { _, err := KNN(x, y, x, y[:2], 2, KNNConfig{}); return err }, "test labels have 2 entries for 3"},
		{"columns", func() error { _, err := KNN(x, y, tensor.New(3, 4), y, 2, KNNConfig{}); return err }, "2 columns, test features 4"},
		{"classes", func() error { _, err := KNN(x, y, x, y, 0, KNNConfig{}); return err }, "numClasses is 0"},
		{"vote malformed", func() error { _, err := KNNVote(&Neighbors{}, y, y, 2, KNNConfig{}); return err }, "malformed"},
		{"vote index", func() error {
			_, err := KNNVote(&Neighbors{K: 1, Index: []int{5}, Score: []float32{1}}, y, []int{0}, 2, KNNConfig{})
			return err
		}, "base row 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
