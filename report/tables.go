package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"selfsup/eval"
)

// missing is what a table shows for a result that was not measured.
const missing = "-"

// table is a titled grid of text cells, rendered as Markdown or HTML.
type table struct {
	title string
	// note is a sentence under the title (optional).
	note string
	head []string
	rows [][]string
}

// pct writes a fraction as a percentage with two decimals.
func pct(v float64) string { return fmt.Sprintf("%.2f", 100*v) }

// accCell writes an accuracy's top-1 in percent ("-" when absent).
func accCell(a *Accuracy) string {
	if a == nil {
		return missing
	}
	return pct(a.Top1)
}

// wallCell writes a wall clock ("~" when estimated, "-" when unknown).
func wallCell(r *Run) string {
	if r.Wall <= 0 {
		return missing
	}
	d := r.Wall.Round(time.Second)
	s := d.String()
	if d >= 10*time.Minute {
		s = strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	if r.WallApprox {
		s = "~" + s
	}
	return s
}

// pretextCell lists the held-out pretext metrics as name=value.
func pretextCell(r *Run) string {
	names := r.pretextNames()
	if len(names) == 0 {
		return missing
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%.4g", n, r.Pretext[n])
	}
	return strings.Join(parts, ", ")
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return missing
	}
	return s
}

// budgets returns the label budgets any run measured with protocol, in
// increasing order of their share.
func budgets(runs []*Run, protocol string) []eval.LabelBudget {
	var out []eval.LabelBudget
	for _, r := range runs {
		if r.Record == nil {
			continue
		}
		for _, p := range r.Record.Labels {
			if p.Protocol == protocol && !slices.Contains(out, p.Budget) {
				out = append(out, p.Budget)
			}
		}
	}
	sortBudgets(out)
	return out
}

// sortBudgets orders budgets by their share: fractions first, smallest
// first, then counts per class.
func sortBudgets(bs []eval.LabelBudget) {
	slices.SortFunc(bs, func(a, b eval.LabelBudget) int {
		if (a.PerClass > 0) != (b.PerClass > 0) {
			if a.PerClass > 0 {
				return 1
			}
			return -1
		}
		ka, kb := a.Fraction+float64(a.PerClass), b.Fraction+float64(b.PerClass)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
}

// labelPoint finds a run's label-efficiency point.
func labelPoint(r *Run, protocol string, b eval.LabelBudget) (eval.LabelPoint, bool) {
	if r.Record == nil {
		return eval.LabelPoint{}, false
	}
	for _, p := range r.Record.Labels {
		if p.Protocol == protocol && p.Budget == b {
			return p, true
		}
	}
	return eval.LabelPoint{}, false
}

// summaryTable is the page's main table: one row per run.
func (p *Page) summaryTable() table {
	lin := budgets(p.Runs, "linear")
	t := table{title: "Results", note: "Test top-1 accuracy in %. kNN: cosine similarity, k=200, votes weighted by exp(sim/0.1). " +
		"Linear: softmax regression on the frozen, standardised pooled features. Fine-tune: the encoder trained end to end with all labels " +
		"(the supervised baseline: its own classifier). Labels: linear probe with that share of the training labels (class-balanced). " +
		"NMI: k-means on the L2-normalised test features. Wall clock: training only (~: estimated from metrics.jsonl)."}
	t.head = []string{"run", "method", "backbone", "epochs", "wall clock", "pretext (held out)", "kNN", "linear", "fine-tune"}
	for _, b := range lin {
		t.head = append(t.head, "labels "+b.String())
	}
	t.head = append(t.head, "NMI")
	for _, r := range p.Runs {
		row := []string{r.Name, orDash(r.Method), orDash(r.Backbone), epochsCell(r), wallCell(r), pretextCell(r)}
		rec := r.Record
		if rec == nil {
			rec = &Record{}
		}
		row = append(row, accCell(rec.KNN), accCell(rec.Linear), accCell(rec.Finetune))
		for _, b := range lin {
			if pt, ok := labelPoint(r, "linear", b); ok {
				row = append(row, pct(pt.Top1))
			} else {
				row = append(row, missing)
			}
		}
		if rec.Cluster != nil {
			row = append(row, fmt.Sprintf("%.3f", rec.Cluster.NMI))
		} else {
			row = append(row, missing)
		}
		t.rows = append(t.rows, row)
	}
	return t
}

func epochsCell(r *Run) string {
	switch {
	case r.Epochs > 0:
		return fmt.Sprint(r.Epochs)
	case r.Steps > 0:
		return fmt.Sprintf("%d steps", r.Steps)
	}
	return missing
}

// stageTable is the linear probe per stage (nil rows when no run has one).
func (p *Page) stageTable() table {
	n := 0
	for _, r := range p.Runs {
		if r.Record != nil {
			for _, s := range r.Record.Stages {
				n = max(n, s.Stage+1)
			}
		}
	}
	t := table{title: "Linear probe per stage", note: "Test top-1 in % of a linear probe on the globally pooled output of each stage " +
		"(the per-layer tables of the RotNet and split-brain papers); the feature width in parentheses."}
	if n == 0 {
		return t
	}
	t.head = []string{"run"}
	for k := 0; k < n; k++ {
		t.head = append(t.head, eval.StageName(k))
	}
	for _, r := range p.Runs {
		row := []string{r.Name}
		for k := 0; k < n; k++ {
			cell := missing
			if r.Record != nil {
				for _, s := range r.Record.Stages {
					if s.Stage == k {
						cell = fmt.Sprintf("%s (%d)", pct(s.Top1), s.Dim)
					}
				}
			}
			row = append(row, cell)
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// labelTable is the label-efficiency curve of every run and protocol.
func (p *Page) labelTable() table {
	t := table{title: "Label efficiency", note: "Test top-1 in % with a class-balanced share of the training labels " +
		"(the number of labelled images in parentheses); linear probe on frozen features, and fine-tuning where measured."}
	all := map[string][]eval.LabelBudget{}
	var protocols []string
	for _, proto := range []string{"linear", "finetune"} {
		if b := budgets(p.Runs, proto); len(b) > 0 {
			all[proto] = b
			protocols = append(protocols, proto)
		}
	}
	if len(protocols) == 0 {
		return t
	}
	var union []eval.LabelBudget
	for _, proto := range protocols {
		for _, b := range all[proto] {
			if !slices.Contains(union, b) {
				union = append(union, b)
			}
		}
	}
	sortBudgets(union)
	t.head = []string{"run", "protocol"}
	for _, b := range union {
		t.head = append(t.head, b.String())
	}
	for _, r := range p.Runs {
		for _, proto := range protocols {
			row := []string{r.Name, proto}
			seen := false
			for _, b := range union {
				if pt, ok := labelPoint(r, proto, b); ok {
					row = append(row, fmt.Sprintf("%s (%d)", pct(pt.Top1), pt.Images))
					seen = true
				} else {
					row = append(row, missing)
				}
			}
			if seen || proto == "linear" {
				t.rows = append(t.rows, row)
			}
		}
	}
	return t
}

// clusterTable is k-means on the test features.
func (p *Page) clusterTable() table {
	t := table{title: "Clustering", note: "k-means (k-means++ seeds, best of 10 restarts) on the L2-normalised test features, " +
		"scored against the classes: normalised mutual information, adjusted Rand index, and the accuracy of the best " +
		"one-to-one matching of clusters to classes (Hungarian)."}
	t.head = []string{"run", "k", "NMI", "ARI", "accuracy"}
	seen := false
	for _, r := range p.Runs {
		if r.Record == nil || r.Record.Cluster == nil {
			t.rows = append(t.rows, []string{r.Name, missing, missing, missing, missing})
			continue
		}
		c := r.Record.Cluster
		seen = true
		t.rows = append(t.rows, []string{r.Name, fmt.Sprint(c.K), fmt.Sprintf("%.3f", c.NMI), fmt.Sprintf("%.3f", c.ARI), pct(c.Accuracy)})
	}
	if !seen {
		t.rows = nil
	}
	return t
}

// detailTable says what every run is and where it lives.
func (p *Page) detailTable() table {
	t := table{title: "Runs", head: []string{"run", "kind", "directory", "encoder evaluated", "data", "train / test images", "steps", "evaluation time"}}
	for _, r := range p.Runs {
		rec := r.Record
		if rec == nil {
			rec = &Record{}
		}
		images := missing
		if rec.TrainImages > 0 {
			images = fmt.Sprintf("%d / %d", rec.TrainImages, rec.TestImages)
		}
		steps := missing
		if r.Steps > 0 {
			steps = fmt.Sprint(r.Steps)
		}
		evalTime := missing
		if rec.EvalSeconds > 0 {
			evalTime = (time.Duration(rec.EvalSeconds) * time.Second).String()
		}
		t.rows = append(t.rows, []string{r.Name, orDash(r.Kind), r.Dir, orDash(rec.Encoder), orDash(r.Data), images, steps, evalTime})
	}
	return t
}

// finite reports whether v is a number that can be drawn.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
