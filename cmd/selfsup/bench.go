package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"selfsup/bench"
)

func init() {
	register("bench", "measure engine speed on the DESIGN.md workloads (JSON lines)", runBench)
}

const benchUsage = `
Usage: selfsup bench [--workload NAME]... [--batch 128] [--warmup 2] [--iters 5]

Runs the engine workloads on random inputs and prints one JSON line each, in
the shape of shared/bench/torch_reference.py, so that the pair of commands
gives a throughput ratio measured side by side on one machine. Without
--workload every workload runs, each in its own process so that peak_rss_mib
is that workload's own.

Workloads: simclr-resnet-small, simclr-resnet18, mae-vit-tiny, embed-resnet18.
Threads: GOMAXPROCS (set it to compare with torch_reference.py --threads N).

Examples:
  selfsup bench
  selfsup bench --workload simclr-resnet-small --iters 10
  GOMAXPROCS=2 selfsup bench && /usr/bin/python3 shared/bench/torch_reference.py
`

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", benchUsage, stderr)
	var names multiFlag
	fs.Var(&names, "workload", "workload to run (repeatable; default: all, one process each)")
	o := bench.DefaultOptions
	fs.IntVar(&o.Batch, "batch", o.Batch, "images per step")
	fs.IntVar(&o.Warmup, "warmup", o.Warmup, "untimed steps first")
	fs.IntVar(&o.Iters, "iters", o.Iters, "timed steps (the median is reported)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	if len(names) == 1 {
		r, err := bench.Run(names[0], o)
		if err != nil {
			return err
		}
		return r.Print(stdout)
	}
	if len(names) == 0 {
		names = bench.Workloads()
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, n := range names {
		cmd := exec.Command(self, "bench", "--workload", n, "--batch", fmt.Sprint(o.Batch),
			"--warmup", fmt.Sprint(o.Warmup), "--iters", fmt.Sprint(o.Iters))
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("workload %s: %w", n, err)
		}
	}
	return nil
}
