package eval

import (
	"fmt"
	"math"

	"selfsup/tensor"
)

// Defaults of the kNN protocol of InstDisc (Wu et al. 2018), used by the
// solo-learn and lightly benchmarks.
const (
	DefaultK           = 200
	DefaultTemperature = 0.1
)

// Vote selects how the neighbours of a row combine into class scores.
type Vote int

const (
	// VoteWeighted gives each neighbour the weight exp(score/T), where score
	// is its cosine similarity (or minus its distance under Euclidean): the
	// InstDisc protocol. The zero value.
	VoteWeighted Vote = iota
	// VoteMajority gives every neighbour one vote: the classic kNN, usually
	// with Euclidean and a small K.
	VoteMajority
)

// String names the vote.
func (v Vote) String() string {
	switch v {
	case VoteWeighted:
		return "weighted"
	case VoteMajority:
		return "majority"
	}
	return fmt.Sprintf("Vote(%d)", int(v))
}

// KNNConfig sets up a kNN evaluation. The zero value is the InstDisc
// protocol: cosine similarity, K=200, votes weighted by exp(sim/0.1).
type KNNConfig struct {
	// K is the number of neighbours that vote (default DefaultK).
	K int
	// Temperature is T in the weight exp(score/T) of VoteWeighted (default
	// DefaultTemperature). Ignored by VoteMajority.
	Temperature float64
	// Metric is Cosine (the zero value) or Euclidean.
	Metric Metric
	// Vote is VoteWeighted (the zero value) or VoteMajority.
	Vote Vote
	// ExcludeSelf evaluates a set against itself leave-one-out: pass the
	// same features and labels as train and test, and row i never votes
	// for itself.
	ExcludeSelf bool
	// BlockRows and BlockCols size the similarity blocks (see SearchConfig).
	BlockRows, BlockCols int
}

// DefaultKNNConfig returns the InstDisc protocol with its values spelled
// out: cosine, K=200, weighted votes with T=0.1.
func DefaultKNNConfig() KNNConfig {
	return KNNConfig{K: DefaultK, Temperature: DefaultTemperature, Metric: Cosine, Vote: VoteWeighted}
}

// MajorityKNNConfig returns the classic kNN: Euclidean distance, k
// neighbours with one vote each.
func MajorityKNNConfig(k int) KNNConfig {
	return KNNConfig{K: k, Metric: Euclidean, Vote: VoteMajority}
}

func (c KNNConfig) withDefaults() KNNConfig {
	if c.K == 0 {
		c.K = DefaultK
	}
	if c.Temperature == 0 {
		c.Temperature = DefaultTemperature
	}
	return c
}

// KNN classifies each test row by the votes of its nearest training rows and
// returns top-1 and top-5 accuracy with the prediction of every row. train
// is [Ntr, D] with trainLabels; test is [Nt, D] with testLabels; labels lie
// in [0, numClasses).
//
// Classes are ranked by their vote total; ties go to the class whose first
// voter is nearest. Classes that received no vote never count as a top-5 hit,
// so with fewer than five voting classes Top5 is not inflated by unranked
// classes.
func KNN(train *tensor.Tensor, trainLabels []int, test *tensor.Tensor, testLabels []int, numClasses int, cfg KNNConfig) (*Evaluation, error) {
	const fn = "eval.KNN"
	cfg = cfg.withDefaults()
	if err := cfg.checkVote(fn); err != nil {
		return nil, err
	}
	ntr, d, err := checkFeatures(fn, "train features", train)
	if err != nil {
		return nil, err
	}
	nt, dt, err := checkFeatures(fn, "test features", test)
	if err != nil {
		return nil, err
	}
	if d != dt {
		return nil, fmt.Errorf("%s: train features have %d columns, test features %d", fn, d, dt)
	}
	if err := checkLabels(fn, "train labels", trainLabels, ntr, numClasses); err != nil {
		return nil, err
	}
	if err := checkLabels(fn, "test labels", testLabels, nt, numClasses); err != nil {
		return nil, err
	}
	nb, err := search(fn, test, train, nt, ntr, d, SearchConfig{
		K: cfg.K, Metric: cfg.Metric, ExcludeSelf: cfg.ExcludeSelf,
		BlockRows: cfg.BlockRows, BlockCols: cfg.BlockCols,
	})
	if err != nil {
		return nil, err
	}
	return vote(nb, trainLabels, testLabels, numClasses, cfg), nil
}

// KNNVote classifies from neighbours found earlier by Search, so that one
// search with the largest K serves a sweep over K, the temperature and the
// vote. It uses the first min(cfg.K, nb.K) neighbours of each row; cfg's
// Metric, ExcludeSelf and block sizes are ignored (the search fixed them).
// trainLabels label the search's base rows, testLabels its query rows.
func KNNVote(nb *Neighbors, trainLabels, testLabels []int, numClasses int, cfg KNNConfig) (*Evaluation, error) {
	const fn = "eval.KNNVote"
	cfg = cfg.withDefaults()
	if err := cfg.checkVote(fn); err != nil {
		return nil, err
	}
	if nb == nil || nb.K < 1 || len(nb.Index) != len(nb.Score) || len(nb.Index)%nb.K != 0 {
		return nil, fmt.Errorf("%s: neighbours are empty or malformed", fn)
	}
	if err := checkLabels(fn, "test labels", testLabels, nb.Len(), numClasses); err != nil {
		return nil, err
	}
	if err := checkLabels(fn, "train labels", trainLabels, len(trainLabels), numClasses); err != nil {
		return nil, err
	}
	for i, j := range nb.Index {
		if j < 0 || j >= len(trainLabels) {
			return nil, fmt.Errorf("%s: neighbour %d of row %d is base row %d, but there are %d train labels", fn, i%nb.K, i/nb.K, j, len(trainLabels))
		}
	}
	return vote(nb, trainLabels, testLabels, numClasses, cfg), nil
}

func (c KNNConfig) checkVote(fn string) error {
	if c.K < 0 {
		return fmt.Errorf("%s: K is %d, want a positive number of neighbours", fn, c.K)
	}
	if c.Vote != VoteWeighted && c.Vote != VoteMajority {
		return fmt.Errorf("%s: unknown vote %v", fn, c.Vote)
	}
	if c.Vote == VoteWeighted && (!(c.Temperature > 0) || math.IsInf(c.Temperature, 0)) {
		return fmt.Errorf("%s: temperature is %v, want a positive finite number", fn, c.Temperature)
	}
	return nil
}

// vote runs the votes of every row in parallel (inputs validated).
func vote(nb *Neighbors, trainLabels, testLabels []int, numClasses int, cfg KNNConfig) *Evaluation {
	nt := nb.Len()
	k := min(cfg.K, nb.K)
	e := &Evaluation{NumClasses: numClasses, Predictions: make([]int, nt), Labels: testLabels}
	workers := tensor.Workers()
	type acc struct {
		votes      []float64
		first      []int
		top1, top5 int
	}
	accs := make([]acc, workers)
	for w := range accs {
		accs[w] = acc{votes: make([]float64, numClasses), first: make([]int, numClasses)}
	}
	invT := 1 / cfg.Temperature
	tensor.ParallelFor(nt, 64, func(w, lo, hi int) {
		a := &accs[w]
		for i := lo; i < hi; i++ {
			idx, score := nb.Row(i)
			idx, score = idx[:k], score[:k]
			clear(a.votes)
			for c := range a.first {
				a.first[c] = k
			}
			for r, j := range idx {
				c := trainLabels[j]
				wgt := 1.0
				if cfg.Vote == VoteWeighted {
					// Relative to the nearest neighbour's weight: the same
					// ranking as exp(score/T), without overflow or underflow.
					wgt = math.Exp(float64(score[r]-score[0]) * invT)
				}
				a.votes[c] += wgt
				if r < a.first[c] {
					a.first[c] = r
				}
			}
			better := func(c, y int) bool {
				return a.votes[c] > a.votes[y] || (a.votes[c] == a.votes[y] && a.first[c] < a.first[y])
			}
			best := trainLabels[idx[0]]
			for c := range a.votes {
				if better(c, best) {
					best = c
				}
			}
			e.Predictions[i] = best
			y := testLabels[i]
			if a.first[y] == k {
				continue // no vote for the true class: not ranked
			}
			rank := 0
			for c := range a.votes {
				if c != y && better(c, y) {
					rank++
				}
			}
			if rank == 0 {
				a.top1++
			}
			if rank < 5 {
				a.top5++
			}
		}
	})
	top1, top5 := 0, 0
	for _, a := range accs {
		top1 += a.top1
		top5 += a.top5
	}
	e.Top1 = float64(top1) / float64(nt)
	e.Top5 = float64(top5) / float64(nt)
	return e
}
