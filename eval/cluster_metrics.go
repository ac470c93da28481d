package eval

import (
	"fmt"
	"math"
)

// ClusterScores compares a clustering with the true classes.
type ClusterScores struct {
	// NMI is the normalised mutual information with the arithmetic mean
	// of the two entropies as normaliser (scikit-learn's default): 1 for
	// the same partition, about 0 for an unrelated one.
	NMI float64
	// ARI is the adjusted Rand index (Hubert and Arabie 1985): 1 for the
	// same partition, 0 in expectation for a random one, negative for
	// worse than random.
	ARI float64
	// Accuracy is the fraction of points whose cluster, mapped to a class
	// by the one-to-one matching that maximises the agreement (Hungarian
	// algorithm), is their class; clusters left unmatched count as wrong.
	Accuracy float64
	// Classes and Clusters are the numbers of distinct values of each.
	Classes, Clusters int
}

// ScoreClusters computes NMI, ARI and cluster accuracy of the cluster
// assignment clusters against the true labels (one per point, both
// non-negative; the values are only names, so clusters need not use the
// label numbering).
func ScoreClusters(labels, clusters []int) (*ClusterScores, error) {
	ct, err := newContingency("eval.ScoreClusters", labels, clusters)
	if err != nil {
		return nil, err
	}
	return &ClusterScores{NMI: ct.nmi(), ARI: ct.ari(), Accuracy: ct.accuracy(),
		Classes: ct.rows, Clusters: ct.cols}, nil
}

// NMI returns the normalised mutual information of two partitions, with the
// arithmetic mean of their entropies as normaliser (see ClusterScores).
func NMI(labels, clusters []int) (float64, error) {
	ct, err := newContingency("eval.NMI", labels, clusters)
	if err != nil {
		return 0, err
	}
	return ct.nmi(), nil
}

// ARI returns the adjusted Rand index of two partitions (see ClusterScores).
func ARI(labels, clusters []int) (float64, error) {
	ct, err := newContingency("eval.ARI", labels, clusters)
	if err != nil {
		return 0, err
	}
	return ct.ari(), nil
}

// ClusterAccuracy returns the accuracy of the best one-to-one matching of
// clusters to classes (see ClusterScores).
func ClusterAccuracy(labels, clusters []int) (float64, error) {
	ct, err := newContingency("eval.ClusterAccuracy", labels, clusters)
	if err != nil {
		return 0, err
	}
	return ct.accuracy(), nil
}

// contingency counts the points of every (class, cluster) pair, with the
// classes and clusters renumbered densely in order of first appearance.
type contingency struct {
	n          int
	rows, cols int
	count      []int64 // rows x cols
	rowSum     []int64
	colSum     []int64
}

func newContingency(fn string, labels, clusters []int) (*contingency, error) {
	if len(labels) != len(clusters) {
		return nil, fmt.Errorf("%s: %d labels but %d cluster assignments", fn, len(labels), len(clusters))
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("%s: no points to score", fn)
	}
	rowOf, colOf := map[int]int{}, map[int]int{}
	r := make([]int, len(labels))
	c := make([]int, len(labels))
	for i := range labels {
		if labels[i] < 0 {
			return nil, fmt.Errorf("%s: labels[%d] is %d; unlabeled points cannot be scored", fn, i, labels[i])
		}
		if clusters[i] < 0 {
			return nil, fmt.Errorf("%s: clusters[%d] is %d, want a non-negative cluster id", fn, i, clusters[i])
		}
		if _, ok := rowOf[labels[i]]; !ok {
			rowOf[labels[i]] = len(rowOf)
		}
		if _, ok := colOf[clusters[i]]; !ok {
			colOf[clusters[i]] = len(colOf)
		}
		r[i], c[i] = rowOf[labels[i]], colOf[clusters[i]]
	}
	ct := &contingency{n: len(labels), rows: len(rowOf), cols: len(colOf)}
	ct.count = make([]int64, ct.rows*ct.cols)
	ct.rowSum = make([]int64, ct.rows)
	ct.colSum = make([]int64, ct.cols)
	for i := range r {
		ct.count[r[i]*ct.cols+c[i]]++
		ct.rowSum[r[i]]++
		ct.colSum[c[i]]++
	}
	return ct, nil
}

// entropy returns the entropy (nats) of a partition with these part sizes.
func entropy(sizes []int64, n int) float64 {
	h := 0.0
	for _, s := range sizes {
		if s > 0 {
			p := float64(s) / float64(n)
			h -= p * math.Log(p)
		}
	}
	return h
}

// nmi follows scikit-learn's normalized_mutual_info_score with
// average_method="arithmetic": 1 when both partitions are a single part, 0
// when the mutual information is 0, else MI / ((H(U) + H(V)) / 2).
func (ct *contingency) nmi() float64 {
	if ct.rows == 1 && ct.cols == 1 {
		return 1
	}
	n := float64(ct.n)
	mi := 0.0
	for i := 0; i < ct.rows; i++ {
		for j := 0; j < ct.cols; j++ {
			if c := ct.count[i*ct.cols+j]; c > 0 {
				nij := float64(c)
				mi += nij / n * math.Log(n*nij/(float64(ct.rowSum[i])*float64(ct.colSum[j])))
			}
		}
	}
	if mi <= 0 {
		return 0
	}
	norm := (entropy(ct.rowSum, ct.n) + entropy(ct.colSum, ct.n)) / 2
	return math.Min(mi/norm, 1)
}

// ari follows scikit-learn's adjusted_rand_score, written with the pair
// confusion matrix: of the ordered pairs of distinct points, tp are together
// in both partitions, fp only in the clustering, fn only in the classes, tn
// in neither. Identical partitions (fp = fn = 0) score 1.
func (ct *contingency) ari() float64 {
	var sumSq, rowSq, colSq int64
	for _, c := range ct.count {
		sumSq += c * c
	}
	for _, s := range ct.rowSum {
		rowSq += s * s
	}
	for _, s := range ct.colSum {
		colSq += s * s
	}
	n := int64(ct.n)
	tp := float64(sumSq - n)
	fp := float64(colSq - sumSq)
	fn := float64(rowSq - sumSq)
	tn := float64(n*n - rowSq - colSq + sumSq) // n^2 - fp - fn - sumSq
	if fp == 0 && fn == 0 {
		return 1
	}
	return 2 * (tp*tn - fn*fp) / ((tp+fn)*(fn+tn) + (tp+fp)*(fp+tn))
}

// accuracy matches clusters to classes one to one so that the most points
// agree (Hungarian algorithm on the negated counts) and returns the fraction
// that do.
func (ct *contingency) accuracy() float64 {
	at := func(i, j int) float64 { return -float64(ct.count[i*ct.cols+j]) }
	var matched int64
	if ct.rows <= ct.cols {
		for j, i := range solveAssignment(at, ct.rows, ct.cols) {
			if i >= 0 {
				matched += ct.count[i*ct.cols+j]
			}
		}
	} else {
		for i, j := range solveAssignment(func(j, i int) float64 { return at(i, j) }, ct.cols, ct.rows) {
			if j >= 0 {
				matched += ct.count[i*ct.cols+j]
			}
		}
	}
	return float64(matched) / float64(ct.n)
}
