package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"selfsup/report"
)

func init() {
	register("report", "one page (Markdown + HTML with inlined plots) comparing runs and their evaluations", runReport)
}

const reportUsage = `
Usage: selfsup report --runs DIR [DIR...] --out report.md [--title TITLE]

Writes one page comparing run directories: for each run its method,
backbone, epochs, training wall clock and last held-out pretext metric
(from metrics.jsonl and its newest checkpoint), and the evaluation results
its eval.json holds (written by selfsup compare): kNN, linear probe, linear
probe per stage, fine-tuning, label efficiency, NMI of k-means, t-SNE map.
What a run lacks is shown as "-". The loss curves of all runs share one
plot.

Writes report.md with its plots as PNG files next to it (report_loss.png,
...) and report.html, a single file with the plots inlined, to open in a
browser. Run directories may also follow --runs as plain arguments.

eval.json format (` + report.RecordFormat + `): one JSON object with name,
kind (method or baseline), method, backbone, data, encoder, epochs, steps,
batch_size, pretrain_seconds, eval_seconds, train_images, test_images,
knn / linear / finetune {top1, top5, protocol}, stages [{stage, name, dim,
top1, top5, ...}], labels [{protocol, budget {fraction | per_class},
images, top1, top5}], cluster {nmi, ari, accuracy, k}, tsne {png, svg,
images, knn5}, pretext {name: value}, created. Accuracies are fractions.

Examples:
  selfsup report --runs runs/cmp/simclr runs/cmp/rotation runs/cmp/pixels --out runs/cmp/report.md
  selfsup report --runs runs/cmp/* --out report.md --title "MNIST, 10 epochs"
`

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", reportUsage, stderr)
	var runs runList
	fs.Var(&runs, "runs", "run directories, one or more (comma-separated, or several after --runs)")
	args = spreadList(args, "runs")
	out := fs.String("out", "", "Markdown file to write; the .html and the plots go next to it (required)")
	title := fs.String("title", "selfsup: comparison of runs", "title of the page")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dirs := append([]string(runs), fs.Args()...)
	switch {
	case len(dirs) == 0:
		return usageError("no runs: give --runs DIR [DIR...]")
	case *out == "":
		return usageError("--out report.md is required")
	case !strings.EqualFold(filepath.Ext(*out), ".md"):
		return usageError("--out %s: want a .md file (the .html goes next to it)", *out)
	}
	page, err := report.LoadPage(*title, dirs)
	if err != nil {
		return err
	}
	files, err := page.Save(*out, func(msg string) { fmt.Fprintf(stderr, "warning: %s\n", msg) })
	if err != nil {
		return err
	}
	evaluated := 0
	for _, r := range page.Runs {
		if r.Record != nil {
			evaluated++
		}
	}
	fmt.Fprintf(stdout, "report on %d runs (%d with evaluation results) -> %s\n", len(page.Runs), evaluated, strings.Join(files, ", "))
	return nil
}

// runList collects a flag given several times; a comma-separated value
// is split, so --runs a,b works too.
type runList []string

func (m *runList) String() string { return strings.Join(*m, ",") }

func (m *runList) Set(v string) error {
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' }) {
		if f = strings.TrimSpace(f); f != "" {
			*m = append(*m, f)
		}
	}
	return nil
}

var _ flag.Value = (*runList)(nil)

// spreadList rewrites "--name A B C --other" as "--name A --name B --name
// C --other", so that a flag can take several values the way a shell glob
// gives them (the flag package stops at the first non-flag argument).
func spreadList(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a != "-"+name && a != "--"+name {
			out = append(out, a)
			continue
		}
		n := 0
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			out = append(out, a, args[i])
			n++
		}
		if n == 0 {
			out = append(out, a) // no value: let the flag package complain
		}
	}
	return out
}
