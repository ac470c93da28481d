package eval

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"selfsup/data"
	"selfsup/plot"
	"selfsup/tensor"
)

// LabelBudget says how many labels a label-efficiency point may use: a
// Fraction of the labelled images of every class (data.ClassBalancedIndices)
// or PerClass images of every class (data.PerClassIndices). Exactly one is
// set.
type LabelBudget struct {
	Fraction float64 `json:"fraction,omitempty"`
	PerClass int     `json:"per_class,omitempty"`
}

// String writes the budget as "1%" or "10/class".
func (b LabelBudget) String() string {
	if b.PerClass > 0 {
		return fmt.Sprintf("%d/class", b.PerClass)
	}
	return strconv.FormatFloat(100*b.Fraction, 'g', 4, 64) + "%"
}

// ParseFractions reads a comma-separated list of label fractions in (0, 1]
// such as "0.01,0.1,1".
func ParseFractions(s string) ([]LabelBudget, error) {
	var out []LabelBudget
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v > 0 && v <= 1) {
			return nil, fmt.Errorf("label fraction %q: want a number in (0, 1]", f)
		}
		out = append(out, LabelBudget{Fraction: v})
	}
	return out, nil
}

// ParsePerClass reads a comma-separated list of positive labels-per-class
// counts such as "1,10,100".
func ParsePerClass(s string) ([]LabelBudget, error) {
	var out []LabelBudget
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("labels per class %q: want a positive integer", f)
		}
		out = append(out, LabelBudget{PerClass: v})
	}
	return out, nil
}

// LabelSubset returns the indices of the labelled images of ds that budget
// allows, class-balanced and reproducible from seed, in dataset order.
// Asking for more images per class than the smallest class holds is an
// error naming that class and the limit.
func LabelSubset(ds data.Dataset, budget LabelBudget, seed uint64) ([]int, error) {
	switch {
	case (budget.Fraction != 0) == (budget.PerClass != 0):
		return nil, fmt.Errorf("%s: a label budget needs exactly one of a fraction and a count per class, got %+v", ds.Name(), budget)
	case budget.Fraction != 0:
		return data.ClassBalancedIndices(ds, budget.Fraction, seed)
	}
	if budget.PerClass < 0 {
		return nil, fmt.Errorf("%s: %d labels per class: want a positive count", ds.Name(), budget.PerClass)
	}
	counts := map[int]int{}
	for i := range ds.Len() {
		if l := ds.Label(i); l >= 0 {
			counts[l]++
		}
	}
	if len(counts) == 0 {
		return nil, fmt.Errorf("%s: no labelled images to pick from", ds.Name())
	}
	smallest, limit := -1, math.MaxInt
	for _, c := range slices.Sorted(maps.Keys(counts)) {
		if counts[c] < limit {
			smallest, limit = c, counts[c]
		}
	}
	if budget.PerClass > limit {
		name := strconv.Itoa(smallest)
		if cl := ds.Classes(); smallest < len(cl) {
			name = fmt.Sprintf("%d (%q)", smallest, cl[smallest])
		}
		return nil, fmt.Errorf("%s: %d labels per class asked for, but class %s has only %d labelled images: at most %d per class",
			ds.Name(), budget.PerClass, name, limit, limit)
	}
	return data.PerClassIndices(ds, budget.PerClass, seed)
}

// LabelPoint is one point of a label-efficiency curve.
type LabelPoint struct {
	// Protocol is "linear" or "finetune".
	Protocol string `json:"protocol"`
	// Budget is the share of labels asked for; Images is the number of
	// labelled training images it gave.
	Budget LabelBudget `json:"budget"`
	Images int         `json:"images"`
	// Top1 and Top5 are test accuracies in [0, 1].
	Top1 float64 `json:"top1"`
	Top5 float64 `json:"top5"`
	// WeightDecay is the linear probe's weight decay (selected or fixed).
	WeightDecay float64 `json:"weight_decay,omitempty"`
}

// LabelProbeConfig sets up LabelEfficiency.
type LabelProbeConfig struct {
	// Linear is the probe (set SelectWeightDecay for eval linear's
	// protocol). Subsets of fewer than MinSelect images are probed with
	// SmallWeightDecay instead of a selection, since a held-out tenth of
	// them says nothing.
	Linear LinearConfig
	// MinSelect is that threshold (0: 100 images).
	MinSelect int
	// SmallWeightDecay is the fixed weight decay below it (0: 1e-4).
	SmallWeightDecay float64
	// Seed picks the subsets (data.ClassBalancedIndices /
	// data.PerClassIndices): the same seed gives the same images.
	Seed uint64
	// OnPoint, when set, is called after each point.
	OnPoint func(LabelPoint)
}

// LabelEfficiency probes frozen features with growing shares of the labels:
// for every budget it picks a class-balanced subset of the labelled images
// of ds (LabelSubset, from cfg.Seed), fits a linear probe on the matching
// rows of train (the features of ds, in dataset order) and evaluates it on
// test. The features are extracted once; only the probe is refitted.
func LabelEfficiency(ds data.Dataset, train, test *Features, classes int, budgets []LabelBudget, cfg LabelProbeConfig) ([]LabelPoint, error) {
	if train == nil || test == nil || train.X == nil || test.X == nil {
		return nil, fmt.Errorf("eval.LabelEfficiency: missing features")
	}
	if n := train.X.Dim(0); n != ds.Len() || len(train.Labels) != n {
		return nil, fmt.Errorf("eval.LabelEfficiency: %d rows of training features for the %d images of %s", n, ds.Len(), ds.Name())
	}
	if cfg.MinSelect == 0 {
		cfg.MinSelect = 100
	}
	if cfg.SmallWeightDecay == 0 {
		cfg.SmallWeightDecay = 1e-4
	}
	out := make([]LabelPoint, 0, len(budgets))
	for _, b := range budgets {
		idx, err := LabelSubset(ds, b, cfg.Seed)
		if err != nil {
			return out, err
		}
		x, y := GatherRows(train, idx)
		lc := cfg.Linear
		if lc.SelectWeightDecay && len(idx) < cfg.MinSelect {
			lc.SelectWeightDecay, lc.WeightDecay = false, cfg.SmallWeightDecay
		}
		pr, err := LinearProbe(x, y, test.X, test.Labels, classes, lc)
		if err != nil {
			return out, fmt.Errorf("probe with %s of the labels: %w", b, err)
		}
		p := LabelPoint{Protocol: "linear", Budget: b, Images: len(idx), Top1: pr.Test.Top1, Top5: pr.Test.Top5, WeightDecay: pr.Fit.WeightDecay}
		out = append(out, p)
		if cfg.OnPoint != nil {
			cfg.OnPoint(p)
		}
	}
	return out, nil
}

// GatherRows returns the rows idx of f's features and their labels.
func GatherRows(f *Features, idx []int) (*tensor.Tensor, []int) {
	d := f.X.Dim(1)
	x := tensor.New(len(idx), d)
	y := make([]int, len(idx))
	for r, i := range idx {
		copy(x.Data[r*d:(r+1)*d], f.X.Data[i*d:(i+1)*d])
		y[r] = f.Labels[i]
	}
	return x, y
}

// LabelCurvePlot draws label-efficiency curves: test top-1 (%) against the
// number of labelled training images on a logarithmic axis, one series per
// protocol present in points (linear probe, fine-tuning), with a dot at
// every point.
func LabelCurvePlot(title string, points []LabelPoint) *plot.LinePlot {
	lp := &plot.LinePlot{Title: title, XLabel: "labelled training images (log scale)", YLabel: "test top-1 (%)", LogX: true}
	var protocols []string
	for _, p := range points {
		if !slices.Contains(protocols, p.Protocol) {
			protocols = append(protocols, p.Protocol)
		}
	}
	for _, proto := range protocols {
		var ps []LabelPoint
		for _, p := range points {
			if p.Protocol == proto {
				ps = append(ps, p)
			}
		}
		slices.SortFunc(ps, func(a, b LabelPoint) int { return a.Images - b.Images })
		s := plot.Series{Name: proto, Points: true}
		for _, p := range ps {
			s.X = append(s.X, float64(p.Images))
			s.Y = append(s.Y, 100*p.Top1)
		}
		lp.Series = append(lp.Series, s)
	}
	return lp
}
