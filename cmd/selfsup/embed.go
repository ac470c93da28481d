package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"selfsup/data"
	"selfsup/embed"
	"selfsup/runlog"
)

func init() {
	register("embed", "write the embeddings of a dataset's images to a file", runEmbed)
}

const embedUsage = `
Usage: selfsup embed --ckpt DIR --data SPEC --out FILE [--normalize] [--format bin|npy]

Runs every image of SPEC through the frozen encoder of a checkpoint and
writes one record per image: its ID (the image's path for image folders, its
dataset index otherwise) and its embedding. Images are resized (shorter
side) and centre-cropped to the encoder's input size and converted to its
channel count. Output is streamed batch by batch, so datasets larger than
memory work, and appears atomically when complete.

Formats (the embed package documentation has the byte layout):
  bin  selfsup's binary format: header (magic, version, dim, count, encoder
       ID), then per record the ID and the float32 vector; what
       'selfsup index build' reads.
  npy  a float32 (N, dim) numpy array, plus FILE.ids.json with the IDs,
       the encoder ID and the flags (numpy.load reads the array).
Parquet is not implemented. The default is npy for a .npy file name, bin
otherwise.

Data specs: ` + data.SpecForms + `

Examples:
  selfsup embed --ckpt runs/simclr-mnist --data mnist --out mnist-train.bin
  selfsup embed --ckpt runs/simclr-mnist --data mnist --split test --normalize --out mnist-test.npy
  selfsup embed --ckpt runs/photos --data folder:/photos --out photos.bin --json
`

func runEmbed(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("embed", embedUsage, stderr)
	var df dataFlags
	df.register(fs, "", "train")
	ckpt := fs.String("ckpt", "", "checkpoint (a run directory or one of its step directories)")
	out := fs.String("out", "", "output file (required)")
	format := fs.String("format", "", "bin or npy (default: from the file name)")
	normalize := fs.Bool("normalize", false, "L2-normalise every embedding")
	batch := fs.Int("batch", embed.DefaultBatchSize, "images per forward pass")
	quiet := fs.Bool("quiet", false, "no progress bar")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	if *ckpt == "" || *out == "" {
		return usageError("--ckpt and --out are required")
	}
	if *batch <= 0 {
		return usageError("--batch %d must be positive", *batch)
	}
	f := *format
	if f == "" {
		f = embed.FormatOf(*out)
	}
	if f != "bin" && f != "npy" {
		if f == "parquet" {
			return usageError("--format parquet is not implemented; use bin or npy")
		}
		return usageError("unknown --format %q (bin or npy)", f)
	}
	ds, err := df.open(stderr, "")
	if err != nil {
		return err
	}
	enc, err := embed.Load(*ckpt)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !*quiet {
		fmt.Fprintf(stderr, "embed %s (%d images) with %s -> %s\n", ds.Name(), ds.Len(), enc, *out)
	}
	var bar *runlog.Progress
	if !*quiet {
		bar = runlog.NewProgress(stderr, int64(ds.Len()), "embed", runlog.WithUnit("img"))
	}
	start := time.Now()
	var count int64
	err = embed.WriteFile(*out, f, enc.Dim(), enc.ID(), *normalize, func(w embed.RecordWriter) error {
		err := enc.EmbedDataset(ctx, ds, embed.DatasetConfig{BatchSize: *batch}, func(b embed.Batch) error {
			d := enc.Dim()
			for k, i := range b.Indices {
				id := data.ImagePath(ds, i)
				if id == "" {
					id = strconv.Itoa(i)
				}
				vec := b.Vectors.Data[k*d : (k+1)*d]
				if *normalize && !embed.Normalize(vec) {
					return fmt.Errorf("%s: the embedding is zero and cannot be normalised", id)
				}
				if err := w.Write(id, vec); err != nil {
					return err
				}
			}
			if bar != nil {
				bar.Add(int64(len(b.Indices)))
			}
			return nil
		})
		count = w.Count()
		return err
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	res := map[string]any{"out": *out, "format": f, "count": count, "dim": enc.Dim(), "encoder_id": enc.ID(),
		"normalized": *normalize, "data": ds.Name(), "seconds": secs, "images_per_second": float64(count) / secs}
	if f == "npy" {
		res["ids"] = embed.IDsPath(*out)
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "wrote %d %d-d embeddings of %s to %s (%s, encoder %s) in %.1fs, %.0f images/s\n",
		count, enc.Dim(), ds.Name(), *out, f, enc.ID(), secs, float64(count)/secs)
	return nil
}
