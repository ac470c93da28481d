package runlog_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"selfsup/runlog"
)

// A training loop shows its progress and appends its metrics to the run
// directory. Here the clock is fake so that the output is reproducible;
// real code leaves WithClock out and gets a redrawn bar on a terminal.
func ExampleNewProgress() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	p := runlog.NewProgress(os.Stdout, 50, "epoch 1", runlog.WithTerminal(false), runlog.WithClock(clock))
	for step := 1; step <= 50; step++ {
		now = now.Add(250 * time.Millisecond) // the work of one step
		loss := 2.0 / float64(step)
		p.SetFields(runlog.F("loss", loss), runlog.F("lr", 0.05))
		p.Add(1)
		if step == 20 {
			break // show only the first lines
		}
	}
	p.Finish()
	// Output:
	// epoch 1 10% 5/50 4.00 it/s elapsed 1s ETA 11s loss=0.4 lr=0.05
	// epoch 1 20% 10/50 4.00 it/s elapsed 3s ETA 10s loss=0.2 lr=0.05
	// epoch 1 30% 15/50 4.00 it/s elapsed 4s ETA 9s loss=0.1333 lr=0.05
	// epoch 1 40% 20/50 4.00 it/s elapsed 5s ETA 8s loss=0.1 lr=0.05
	// epoch 1 stopped at 20/50 (40%) in 5s (mean 4.00 it/s) loss=0.1 lr=0.05
}

// Metrics go to a JSON Lines file that a resumed run keeps appending to.
func ExampleOpenMetrics() {
	dir, _ := os.MkdirTemp("", "run")
	defer os.RemoveAll(dir)
	if _, err := runlog.PrepareRunDir(dir, runlog.NewRun); err != nil {
		fmt.Println(err)
		return
	}
	path := filepath.Join(dir, "metrics.jsonl")
	m, err := runlog.OpenMetrics(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	for step := int64(100); step <= 300; step += 100 {
		m.LogRecord(runlog.Record{Step: step, Epoch: 1, Fields: []runlog.Field{
			runlog.F("loss", 1/float64(step)), runlog.F("lr", 0.1),
		}})
	}
	if err := m.Close(); err != nil {
		fmt.Println(err)
		return
	}

	recs, err := runlog.ReadMetrics(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	steps, loss := runlog.Series(recs, "loss")
	fmt.Println(steps, loss)
	// Output: [100 200 300] [0.01 0.005 0.0033333333333333335]
}

// A second run in the same directory is refused unless it resumes or
// starts over.
func ExamplePrepareRunDir() {
	dir, _ := os.MkdirTemp("", "run")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte("{}\n"), 0o644)

	_, err := runlog.PrepareRunDir(dir, runlog.NewRun, runlog.WithDescribe(func(string) string {
		return "holds a checkpoint at step 1200"
	}))
	fmt.Println(err != nil)
	resumed, err := runlog.PrepareRunDir(dir, runlog.ResumeRun)
	fmt.Println(resumed, err)
	// Output:
	// true
	// true <nil>
}
