package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestClusterScoresReference checks NMI, ARI and cluster accuracy against
// values from testdata/cluster_ref.py, which implements scikit-learn's
// formulas in plain Python (cross-checking ARI with the Hubert-Arabie
// formula in exact fractions, and the accuracy by brute force over all
// matchings). By hand, for "split class": the contingency table is
// [[2 1 0] [0 1 2]], MI = (2/3) ln 2, H(classes) = ln 2, H(clusters) = ln 3,
// so NMI = (2/3) ln 2 / ((ln 2 + ln 3) / 2) = 0.5158; the sklearn docs give
// ARI([0 0 1 2], [0 0 1 1]) = 0.57 and ARI([0 0 1 1], [0 1 0 1]) = -0.5.
func TestClusterScoresReference(t *testing.T) {
	cases := []struct {
		name               string
		labels, clusters   []int
		nmi, ari, accuracy float64
	}{
		// Output of python3 eval/testdata/cluster_ref.py:
		{"identical", []int{0, 0, 1, 1, 2, 2}, []int{0, 0, 1, 1, 2, 2}, 1, 1, 1},
		{"renamed", []int{0, 0, 1, 1}, []int{1, 1, 0, 0}, 1, 1, 1},
		{"split class", []int{0, 0, 0, 1, 1, 1}, []int{0, 0, 1, 1, 2, 2}, 0.515803742979389, 0.242424242424242, 0.666666666666667},
		{"sklearn doc 0.57", []int{0, 0, 1, 2}, []int{0, 0, 1, 1}, 0.8, 0.571428571428571, 0.75},
		{"all singletons", []int{0, 0, 0, 0}, []int{0, 1, 2, 3}, 0, 0, 0.25},
		{"one cluster", []int{0, 0, 1, 1, 2, 2}, []int{5, 5, 5, 5, 5, 5}, 0, 0, 0.333333333333333},
		{"mixed", []int{0, 0, 1, 1, 2, 2, 2, 2}, []int{1, 1, 0, 0, 0, 2, 2, 2}, 0.755004292485672, 0.545454545454545, 0.875},
		{"worse than random", []int{0, 0, 1, 1}, []int{0, 1, 0, 1}, 0, -0.5, 0.5},
		{"random 30 points, 3 classes, 4 clusters", []int{0, 2, 2, 0, 1, 2, 1, 2, 2, 0, 2, 0, 1, 1, 2, 0, 0, 2, 1, 2, 2, 1, 1, 2, 0, 0, 2, 0, 2, 1}, []int{0, 0, 1, 0, 2, 0, 2, 3, 3, 3, 3, 3, 1, 2, 0, 0, 1, 3, 1, 2, 3, 2, 3, 3, 2, 3, 1, 2, 0, 2}, 0.165633954612359, 0.0679453752226553, 0.466666666666667},
		{"random 25 points, 5 classes, 3 clusters", []int{4, 1, 2, 4, 4, 4, 0, 1, 4, 2, 2, 0, 0, 3, 3, 0, 2, 0, 3, 1, 0, 2, 3, 3, 0}, []int{0, 2, 2, 0, 1, 2, 2, 1, 2, 1, 2, 0, 0, 1, 0, 0, 0, 2, 2, 0, 0, 1, 1, 2, 1}, 0.0446968394928124, -0.0658914728682171, 0.32},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ScoreClusters(c.labels, c.clusters)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got, want float64) {
				if math.Abs(got-want) > 1e-12 {
					t.Errorf("%s = %.15g, want %.15g", what, got, want)
				}
			}
			check("NMI", s.NMI, c.nmi)
			check("ARI", s.ARI, c.ari)
			check("accuracy", s.Accuracy, c.accuracy)
			// The single-metric functions agree, and NMI and ARI are
			// symmetric in their arguments.
			nmi, _ := NMI(c.clusters, c.labels)
			ari, _ := ARI(c.clusters, c.labels)
			acc, _ := ClusterAccuracy(c.labels, c.clusters)
			check("NMI (swapped)", nmi, c.nmi)
			check("ARI (swapped)", ari, c.ari)
			check("ClusterAccuracy", acc, c.accuracy)
		})
	}
}

// TestClusterScoresInvariance: renaming the clusters changes nothing.
func TestClusterScoresInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 5))
	labels := make([]int, 500)
	clusters := make([]int, 500)
	for i := range labels {
		labels[i] = rng.IntN(6)
		clusters[i] = labels[i]
		if rng.Float64() < 0.3 {
			clusters[i] = rng.IntN(8)
		}
	}
	a, err := ScoreClusters(labels, clusters)
	if err != nil {
		t.Fatal(err)
	}
	perm := rng.Perm(8)
	renamed := make([]int, len(clusters))
	for i, c := range clusters {
		renamed[i] = 100 + 7*perm[c]
	}
	b, err := ScoreClusters(labels, renamed)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(a.NMI-b.NMI) > 1e-12 || math.Abs(a.ARI-b.ARI) > 1e-12 || a.Accuracy != b.Accuracy {
		t.Errorf("scores %+v change to %+v when the clusters are renamed", a, b)
	}
	if a.Classes != 6 || a.Clusters != 8 || !(a.Accuracy > 0.7 && a.NMI > 0.5 && a.ARI > 0.5) {
		t.Errorf("scores %+v: want 6 classes, 8 clusters and a clear agreement", a)
	}
}

func TestClusterScoresBadInput(t *testing.T) {
	cases := []struct {
		name             string
		labels, clusters []int
		want             string
	}{
		{"lengths differ", []int{0, 1}, []int{0}, "2 labels but 1 cluster"},
		{"empty", nil, nil, "no points"},
		{"unlabeled", []int{0, -1}, []int{0, 0}, "labels[1] is -1"},
		{"negative cluster", []int{0, 1}, []int{0, -2}, "clusters[1] is -2"},
	}
	for _, c := range cases {
		if _, err := ScoreClusters(c.labels, c.clusters); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
