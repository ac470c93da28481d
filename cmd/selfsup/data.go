package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"math/rand/v2"
	"runtime"

	"selfsup/data"
	"selfsup/data/loader"
	"selfsup/methods"
	"selfsup/runlog"
)

func init() {
	register("data", "download datasets and inspect data specs", runData)
}

const dataUsage = `
Usage:
  selfsup data fetch NAME [--dir DIR] [--base-url URL]
  selfsup data info --data SPEC [--split train]
  selfsup data throughput --data SPEC [--method simclr] [--batch 256] [--batches 40]
  selfsup data video-synth --out DIR [--videos 20] [--split test]

fetch downloads one of ` + "cifar10, cifar100, stl10" + ` (the official archive),
checks its MD5, unpacks it under DIR (default ./datasets) and deletes the
archive; an interrupted download resumes, and data already in place is kept.
info opens a data spec and prints what it holds. throughput measures how
many augmented views per second the loader alone delivers with a method's
augmentations (compare it with the views/s that pretrain reports: when it is
higher, the trainer never waits for data). video-synth writes synthetic
videos with their masks and keypoints for selfsup track (see its --help).

Data specs: ` + data.SpecForms + `

Examples:
  selfsup data fetch cifar10 --dir ~/datasets
  selfsup pretrain --data cifar10:~/datasets/cifar-10-batches-bin --arch resnet18-cifar --out runs/c10
  selfsup data info --data mnist --split test
  selfsup data throughput --data mnist --method simclr
`

func runData(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, strings.TrimSpace(dataUsage))
		return usageError("a sub-command is needed: fetch, info, throughput or video-synth")
	}
	switch args[0] {
	case "fetch":
		return runDataFetch(args[1:], stdout, stderr)
	case "info":
		return runDataInfo(args[1:], stdout, stderr)
	case "throughput":
		return runDataThroughput(args[1:], stdout, stderr)
	case "video-synth":
		return runDataVideoSynth(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, strings.TrimSpace(dataUsage))
		return nil
	}
	return usageError("unknown sub-command %q (fetch, info, throughput or video-synth)", args[0])
}

func runDataFetch(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("data fetch", dataUsage, stderr)
	dir := fs.String("dir", "datasets", "folder to unpack into")
	base := fs.String("base-url", "", "download from this host instead of the official one (a mirror)")
	// flags may follow the name
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	if name == "" {
		return usageError("which dataset? one of %s", strings.Join(data.FetchNames(), ", "))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var bar *runlog.Progress
	opts := data.FetchOptions{BaseURL: *base, Progress: func(done, total int64) {
		if bar == nil && total > 0 {
			bar = runlog.NewProgress(stderr, total, "download "+name, runlog.WithUnit("B"))
		}
		if bar != nil {
			bar.Set(done)
		}
	}}
	err := data.Fetch(ctx, name, *dir, opts)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is ready under %s\n", name, *dir)
	return nil
}

func runDataInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("data info", dataUsage, stderr)
	var df dataFlags
	df.register(fs, "", "train")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ds, err := df.open(stderr, "")
	if err != nil {
		return err
	}
	c, h, w := ds.Shape()
	counts := map[int]int{}
	for i := 0; i < ds.Len(); i++ {
		counts[ds.Label(i)]++
	}
	info := map[string]any{"name": ds.Name(), "images": ds.Len(), "channels": c, "height": h, "width": w,
		"classes": ds.Classes(), "unlabeled": counts[-1]}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(info)
	}
	fmt.Fprintf(stdout, "%s: %d images", ds.Name(), ds.Len())
	if c > 0 {
		fmt.Fprintf(stdout, " of %dx%dx%d", c, h, w)
	} else {
		fmt.Fprint(stdout, " of varying sizes")
	}
	fmt.Fprintf(stdout, ", %d classes, %d unlabeled\n", len(ds.Classes()), counts[-1])
	for i, name := range ds.Classes() {
		fmt.Fprintf(stdout, "  %2d %-20s %d\n", i, name, counts[i])
	}
	return nil
}

func runDataThroughput(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("data throughput", dataUsage, stderr)
	var df dataFlags
	df.register(fs, "", "train")
	method := fs.String("method", "simclr", "method whose augmentations to run")
	batch := fs.Int("batch", 256, "images per batch")
	batches := fs.Int("batches", 40, "batches to time")
	workers := fs.Int("workers", 0, "loader goroutines (0: GOMAXPROCS)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ds, err := df.open(stderr, "")
	if err != nil {
		return err
	}
	spec, err := makeSpec(*method, "resnet-small", "", ds)
	if err != nil {
		return err
	}
	m, err := methods.Build(spec, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return err
	}
	vps, err := loader.Throughput(ds, loader.Config{BatchSize: *batch, Views: m.Views(), Shuffle: true, DropLast: true, Workers: *workers}, *batches)
	if err != nil {
		return err
	}
	w := *workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	fmt.Fprintf(stdout, "%s loader on %s: %.0f views/s (%d views per image, batch %d, %d workers)\n",
		*method, ds.Name(), vps, len(m.Views()), *batch, w)
	return nil
}
