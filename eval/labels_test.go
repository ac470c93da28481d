package eval

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// countLabels returns the number of indices of each label.
func countLabels(ds interface{ Label(int) int }, idx []int) map[int]int {
	out := map[int]int{}
	for _, i := range idx {
		out[ds.Label(i)]++
	}
	return out
}

// Label subsets are class-balanced, sorted, reproducible from the seed and
// different for another seed.
func TestLabelSubset(t *testing.T) {
	ds := bars{n: 1000, size: 4, classes: 10}
	cases := []struct {
		budget   LabelBudget
		perClass int
	}{
		{LabelBudget{Fraction: 0.01}, 1},
		{LabelBudget{Fraction: 0.1}, 10},
		{LabelBudget{Fraction: 1}, 100},
		{LabelBudget{PerClass: 7}, 7},
		{LabelBudget{PerClass: 100}, 100},
	}
	for _, c := range cases {
		t.Run(c.budget.String(), func(t *testing.T) {
			a, err := LabelSubset(ds, c.budget, 42)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != 10*c.perClass || !slices.IsSorted(a) {
				t.Fatalf("%d indices (sorted %v), want %d sorted", len(a), slices.IsSorted(a), 10*c.perClass)
			}
			for class, n := range countLabels(ds, a) {
				if n != c.perClass {
					t.Errorf("class %d has %d images, want %d", class, n, c.perClass)
				}
			}
			b, _ := LabelSubset(ds, c.budget, 42)
			if !slices.Equal(a, b) {
				t.Error("the same seed gave another subset")
			}
			other, _ := LabelSubset(ds, c.budget, 43)
			if c.perClass < 100 && slices.Equal(a, other) {
				t.Error("another seed gave the same subset")
			}
		})
	}
}

func TestLabelSubsetErrors(t *testing.T) {
	ds := bars{n: 10, size: 4, classes: 3} // classes of 4, 3 and 3 images
	cases := []struct {
		budget LabelBudget
		want   []string
	}{
		{LabelBudget{PerClass: 4}, []string{"4 labels per class", `class 1 ("texture1")`, "only 3", "at most 3 per class"}},
		{LabelBudget{Fraction: 1.5}, []string{"1.5", "(0, 1]"}},
		{LabelBudget{}, []string{"exactly one"}},
		{LabelBudget{Fraction: 0.5, PerClass: 2}, []string{"exactly one"}},
	}
	for _, c := range cases {
		_, err := LabelSubset(ds, c.budget, 1)
		if err == nil {
			t.Fatalf("%+v accepted", c.budget)
		}
		for _, w := range append(c.want, ds.Name()) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q lacks %q", c.budget, err, w)
			}
		}
	}
}

func TestParseBudgets(t *testing.T) {
	cases := []struct {
		in       string
		perClass bool
		want     []LabelBudget
		err      bool
	}{
		{"0.01,0.1,1", false, []LabelBudget{{Fraction: 0.01}, {Fraction: 0.1}, {Fraction: 1}}, false},
		{" 0.5 ", false, []LabelBudget{{Fraction: 0.5}}, false},
		{"0.1,2", false, nil, true},
		{"0,0.1", false, nil, true},
		{"ten", false, nil, true},
		{"1,10,100", true, []LabelBudget{{PerClass: 1}, {PerClass: 10}, {PerClass: 100}}, false},
		{"1,0", true, nil, true},
		{"1.5", true, nil, true},
	}
	for _, c := range cases {
		parse := ParseFractions
		if c.perClass {
			parse = ParsePerClass
		}
		got, err := parse(c.in)
		if (err != nil) != c.err || !slices.Equal(got, c.want) {
			t.Errorf("parse %q: %v, %v; want %v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
	if s := (LabelBudget{Fraction: 0.01}).String(); s != "1%" {
		t.Errorf("budget string %q, want 1%%", s)
	}
	if s := (LabelBudget{PerClass: 10}).String(); s != "10/class" {
		t.Errorf("budget string %q, want 10/class", s)
	}
}

// LabelEfficiency probes the rows of each class-balanced subset: the point
// reports how many images it used, and with separable features every
// point is far better than chance.
func TestLabelEfficiency(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	ds := bars{n: 2000, size: 4, classes: 5}
	x, y, centres := blobs(rng, 2000, 16, 5, 4, 1, nil)
	xt, yt, _ := blobs(rng, 500, 16, 5, 4, 1, centres)
	budgets := []LabelBudget{{Fraction: 0.01}, {Fraction: 0.1}, {Fraction: 1}, {PerClass: 3}}
	var calls int
	pts, err := LabelEfficiency(ds, &Features{X: x, Labels: y}, &Features{X: xt, Labels: yt}, 5, budgets,
		LabelProbeConfig{Linear: LinearConfig{SelectWeightDecay: true, MaxIterations: 100}, Seed: 1, OnPoint: func(LabelPoint) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	wantImages := []int{20, 200, 2000, 15}
	if len(pts) != len(budgets) || calls != len(budgets) {
		t.Fatalf("%d points, %d callbacks, want %d", len(pts), calls, len(budgets))
	}
	for i, p := range pts {
		if p.Images != wantImages[i] || p.Budget != budgets[i] || p.Protocol != "linear" {
			t.Errorf("point %d: %+v, want %d images for %v", i, p, wantImages[i], budgets[i])
		}
		if p.Top1 < 0.6 {
			t.Errorf("%v: top-1 %v, want far above chance (0.2)", p.Budget, p.Top1)
		}
	}
	// subsets below MinSelect take the fixed weight decay
	if pts[0].WeightDecay != 1e-4 || pts[3].WeightDecay != 1e-4 {
		t.Errorf("small subsets used weight decay %v and %v, want the fixed 1e-4", pts[0].WeightDecay, pts[3].WeightDecay)
	}
	if _, err := LabelEfficiency(bars{n: 10, size: 4, classes: 5}, &Features{X: x, Labels: y}, &Features{X: xt, Labels: yt}, 5, budgets, LabelProbeConfig{}); err == nil {
		t.Error("features of another dataset accepted")
	}
}

func TestLabelCurvePlot(t *testing.T) {
	pts := []LabelPoint{
		{Protocol: "linear", Images: 6000, Top1: 0.98},
		{Protocol: "linear", Images: 60, Top1: 0.7},
		{Protocol: "finetune", Images: 60, Top1: 0.8},
		{Protocol: "linear", Images: 600, Top1: 0.9},
	}
	lp := LabelCurvePlot("labels", pts)
	if !lp.LogX || len(lp.Series) != 2 || lp.Series[0].Name != "linear" || lp.Series[1].Name != "finetune" {
		t.Fatalf("plot %+v, want a log-x plot of two series, linear first", lp)
	}
	if !slices.Equal(lp.Series[0].X, []float64{60, 600, 6000}) || !slices.Equal(lp.Series[0].Y, []float64{70, 90, 98}) {
		t.Errorf("linear series %v / %v, want sorted by images, in percent", lp.Series[0].X, lp.Series[0].Y)
	}
	var buf bytes.Buffer
	if err := lp.WritePNG(&buf, 400, 300); err != nil || buf.Len() == 0 {
		t.Fatalf("PNG: %v (%d bytes)", err, buf.Len())
	}
}
