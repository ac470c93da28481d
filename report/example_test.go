package report_test

import (
	"fmt"
	"os"

	"selfsup/report"
)

// A run's evaluation results go to eval.json in its directory; LoadRun
// reads them back with what training left there, and a Page of runs saves
// as Markdown and HTML (page.Save("report.md", nil)).
func ExampleLoadRun() {
	dir, _ := os.MkdirTemp("", "run")
	defer os.RemoveAll(dir)
	rec := &report.Record{Name: "simclr", Kind: report.KindMethod, Method: "simclr", Backbone: "resnet-small",
		KNN: &report.Accuracy{Top1: 0.953}, Cluster: &report.Cluster{NMI: 0.72, ARI: 0.6, Accuracy: 0.8, K: 10}}
	if err := report.WriteRecord(dir, rec); err != nil {
		fmt.Println(err)
		return
	}
	run, err := report.LoadRun(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s (%s on %s): kNN %.1f%%, NMI %.2f, linear probe measured: %v\n",
		run.Name, run.Method, run.Backbone, 100*run.Record.KNN.Top1, run.Record.Cluster.NMI, run.Record.Linear != nil)
	// Output:
	// simclr (simclr on resnet-small): kNN 95.3%, NMI 0.72, linear probe measured: false
}
