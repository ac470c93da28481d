package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"selfsup/embed"
	"selfsup/index"
)

func init() {
	register("index", "build, update and measure a similarity-search index", runIndex)
}

const indexUsage = `
Usage:
  selfsup index build  --embeddings FILE --out INDEX [--kind flat|ivf] [--nlist N] [--nprobe N]
  selfsup index add    --index INDEX --embeddings FILE [--replace]
  selfsup index remove --index INDEX [--json] ID...  (flags before the IDs)
  selfsup index info   --index INDEX
  selfsup index eval   (--index INDEX --queries FILE | --random N [--dim 128] [--kind flat|ivf]) [--k 10]

build makes an index from an embeddings file written by 'selfsup embed'
(vectors are L2-normalised; search is by cosine similarity). A flat index
is exact; an IVF index scans the --nprobe lists nearest to the query out of
--nlist (default: the square root of the number of vectors), with nprobe
calibrated by default so that recall@10 against exact search is at least
--target-recall on the index's own vectors.

add and remove change an index in place without rebuilding it (IVF: new
vectors join their nearest list). The file is replaced atomically and the
read-modify-write holds a lock, so concurrent updates do not lose each
other's changes. An index only accepts embeddings of the encoder it was
built with.

eval measures search: recall@k against exact search (IVF) and the latency
of single queries and of batches, either on an index with a file of query
embeddings, or on N random unit vectors (built in memory).

Examples:
  selfsup embed --ckpt runs/simclr-mnist --data mnist --out train.bin
  selfsup index build --embeddings train.bin --kind ivf --out mnist.idx
  selfsup embed --ckpt runs/simclr-mnist --data mnist --split test --out test.bin
  selfsup index eval --index mnist.idx --queries test.bin --k 10
  selfsup index remove --index mnist.idx 17 18
  selfsup index eval --random 1000000 --dim 128 --kind flat
`

func runIndex(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, strings.TrimSpace(indexUsage))
		return usageError("a sub-command is needed: build, add, remove, info or eval")
	}
	switch args[0] {
	case "build":
		return runIndexBuild(args[1:], stdout, stderr)
	case "add":
		return runIndexAdd(args[1:], stdout, stderr)
	case "remove":
		return runIndexRemove(args[1:], stdout, stderr)
	case "info":
		return runIndexInfo(args[1:], stdout, stderr)
	case "eval":
		return runIndexEval(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, strings.TrimSpace(indexUsage))
		return nil
	}
	fmt.Fprintln(stderr, strings.TrimSpace(indexUsage))
	return usageError("unknown sub-command %q (build, add, remove, info or eval)", args[0])
}

// indexInfo is what the index commands print with --json.
func indexInfo(ix *index.Index, path string) map[string]any {
	return map[string]any{"index": path, "kind": ix.Kind().String(), "vectors": ix.Len(), "dim": ix.Dim(),
		"nlist": ix.NList(), "nprobe": ix.NProbe(), "calibrated_recall": ix.CalibratedRecall(), "encoder_id": ix.EncoderID()}
}

func printIndex(stdout io.Writer, jsonOut bool, v map[string]any, line string) error {
	if jsonOut {
		return json.NewEncoder(stdout).Encode(v)
	}
	fmt.Fprintln(stdout, line)
	return nil
}

func runIndexBuild(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index build", indexUsage, stderr)
	in := fs.String("embeddings", "", "embeddings file from 'selfsup embed' (.bin, or .npy with its .ids.json)")
	out := fs.String("out", "", "index file to write")
	kind := fs.String("kind", "flat", "flat (exact) or ivf (approximate)")
	nlist := fs.Int("nlist", 0, "IVF lists (0: sqrt of the number of vectors)")
	nprobe := fs.Int("nprobe", 0, "IVF lists scanned per query (0: calibrated to --target-recall)")
	target := fs.Float64("target-recall", index.DefaultTargetRecall, "IVF: recall@10 the calibration aims for")
	seed := fs.Uint64("seed", 0, "seed of k-means and of the calibration sample")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" || fs.NArg() > 0 {
		return usageError("index build needs --embeddings FILE and --out INDEX and no other arguments")
	}
	k, err := index.ParseKind(*kind)
	if err != nil {
		return usageError("%v", err)
	}
	if *nlist < 0 || *nprobe < 0 || !(*target > 0 && *target <= 1) {
		return usageError("--nlist and --nprobe must not be negative and --target-recall must lie in (0, 1]")
	}
	emb, err := embed.ReadFile(*in)
	if err != nil {
		return err
	}
	start := time.Now()
	ix, err := index.Build(emb.EncoderID, emb.Dim, emb.IDs, emb.Vectors, index.Options{Kind: k, NList: *nlist, NProbe: *nprobe, TargetRecall: *target, Seed: *seed})
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if err := ix.Save(*out); err != nil {
		return err
	}
	v := indexInfo(ix, *out)
	v["seconds"] = time.Since(start).Seconds()
	return printIndex(stdout, *jsonOut, v, fmt.Sprintf("wrote %s: %v, built in %.1fs", *out, ix, time.Since(start).Seconds()))
}

func runIndexAdd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index add", indexUsage, stderr)
	path := fs.String("index", "", "index file to update")
	in := fs.String("embeddings", "", "embeddings file from 'selfsup embed'")
	replace := fs.Bool("replace", false, "replace vectors whose IDs are already in the index (default: refuse)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" || *in == "" || fs.NArg() > 0 {
		return usageError("index add needs --index INDEX and --embeddings FILE and no other arguments")
	}
	emb, err := embed.ReadFile(*in)
	if err != nil {
		return err
	}
	var info map[string]any
	replaced := 0
	err = index.Update(*path, func(ix *index.Index) error {
		if err := ix.Compatible(emb.EncoderID, emb.Dim); err != nil {
			return fmt.Errorf("%s and %s: %w", *in, *path, err)
		}
		if *replace {
			replaced, _ = ix.Remove(emb.IDs...)
		}
		if err := ix.Add(emb.IDs, emb.Vectors); err != nil {
			return fmt.Errorf("%s: %w", *in, err)
		}
		info = indexInfo(ix, *path)
		return nil
	})
	if err != nil {
		return err
	}
	info["added"], info["replaced"] = len(emb.IDs), replaced
	return printIndex(stdout, *jsonOut, info, fmt.Sprintf("added %d vectors (%d replaced) to %s: now %d", len(emb.IDs), replaced, *path, info["vectors"]))
}

func runIndexRemove(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index remove", indexUsage, stderr)
	path := fs.String("index", "", "index file to update")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" || fs.NArg() == 0 {
		return usageError("index remove needs --index INDEX and at least one ID")
	}
	var removed int
	var missing []string
	var info map[string]any
	err := index.Update(*path, func(ix *index.Index) error {
		removed, missing = ix.Remove(fs.Args()...)
		info = indexInfo(ix, *path)
		return nil
	})
	if err != nil {
		return err
	}
	info["removed"], info["missing"] = removed, missing
	line := fmt.Sprintf("removed %d vectors from %s: now %d", removed, *path, info["vectors"])
	if len(missing) > 0 {
		line += fmt.Sprintf("; not in the index: %s", strings.Join(missing, ", "))
	}
	return printIndex(stdout, *jsonOut, info, line)
}

func runIndexInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index info", indexUsage, stderr)
	path := fs.String("index", "", "index file")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" || fs.NArg() > 0 {
		return usageError("index info needs --index INDEX")
	}
	ix, err := index.Load(*path)
	if err != nil {
		return err
	}
	return printIndex(stdout, *jsonOut, indexInfo(ix, *path), fmt.Sprintf("%s: %v", *path, ix))
}

func runIndexEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index eval", indexUsage, stderr)
	path := fs.String("index", "", "index file")
	queries := fs.String("queries", "", "embeddings file of queries (with --index)")
	random := fs.Int("random", 0, "measure on this many random unit vectors instead of an index")
	dim := fs.Int("dim", 128, "--random: dimension")
	kind := fs.String("kind", "flat", "--random: flat or ivf")
	nq := fs.Int("n-queries", 200, "queries to time one by one (and, --random, to generate)")
	k := fs.Int("k", 10, "neighbours per query")
	batch := fs.Int("batch", 64, "queries per batch in the batched timing")
	seed := fs.Uint64("seed", 1, "--random: seed")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || (*random > 0) == (*path != "") || (*path != "" && *queries == "") {
		return usageError("index eval needs either --index INDEX --queries FILE, or --random N")
	}
	if *k <= 0 || *nq <= 0 || *batch <= 0 || *dim <= 0 {
		return usageError("--k, --n-queries, --batch and --dim must be positive")
	}
	res := map[string]any{"k": *k}
	var ix *index.Index
	var q []float32
	var d int
	if *random > 0 {
		kd, err := index.ParseKind(*kind)
		if err != nil {
			return usageError("%v", err)
		}
		d = *dim
		ids, vecs := randomUnit(*random, d, *seed)
		_, q = randomUnit(*nq, d, *seed+1)
		start := time.Now()
		if ix, err = index.Build("random", d, ids, vecs, index.Options{Kind: kd, Seed: *seed}); err != nil {
			return err
		}
		res["build_seconds"] = time.Since(start).Seconds()
		res["data"] = fmt.Sprintf("%d random unit vectors", *random)
	} else {
		emb, err := embed.ReadFile(*queries)
		if err != nil {
			return err
		}
		if ix, err = index.LoadFor(*path, emb.EncoderID, emb.Dim); err != nil {
			return err
		}
		d = emb.Dim
		q = emb.Vectors
		res["data"] = *path
		res["queries_file"] = *queries
	}
	for key, v := range indexInfo(ix, *path) {
		res[key] = v
	}
	total := len(q) / d
	if total == 0 {
		return errors.New("no queries")
	}
	// recall against exact search, over every query, in batches
	if ix.Kind() == index.IVF {
		var approx, exact [][]index.Hit
		start := time.Now()
		for lo := 0; lo < total; lo += *batch {
			hi := min(lo+*batch, total)
			a, err := ix.SearchBatch(q[lo*d:hi*d], index.SearchOptions{K: *k})
			if err != nil {
				return err
			}
			approx = append(approx, a...)
		}
		res["batched_queries_per_second"] = float64(total) / time.Since(start).Seconds()
		start = time.Now()
		for lo := 0; lo < total; lo += *batch {
			hi := min(lo+*batch, total)
			e, err := ix.SearchBatch(q[lo*d:hi*d], index.SearchOptions{K: *k, Exact: true})
			if err != nil {
				return err
			}
			exact = append(exact, e...)
		}
		res["exact_batched_queries_per_second"] = float64(total) / time.Since(start).Seconds()
		res["recall"] = index.Recall(approx, exact)
		res["recall_queries"] = total
	} else {
		start := time.Now()
		n := min(total, 4**batch)
		for lo := 0; lo < n; lo += *batch {
			hi := min(lo+*batch, n)
			if _, err := ix.SearchBatch(q[lo*d:hi*d], index.SearchOptions{K: *k}); err != nil {
				return err
			}
		}
		res["batched_queries_per_second"] = float64(n) / time.Since(start).Seconds()
	}
	// one query at a time
	lat := make([]float64, 0, *nq)
	for i := 0; i < min(*nq, total); i++ {
		start := time.Now()
		if _, err := ix.Search(q[i*d:(i+1)*d], *k); err != nil {
			return err
		}
		lat = append(lat, time.Since(start).Seconds()*1000)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return lat[min(len(lat)-1, int(math.Ceil(p*float64(len(lat))))-1)] }
	mean := 0.0
	for _, v := range lat {
		mean += v
	}
	res["single_query_ms_p50"], res["single_query_ms_p99"], res["single_query_ms_mean"] = pct(0.5), pct(0.99), mean/float64(len(lat))
	res["single_queries"] = len(lat)
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%v\n", ix)
	if r, ok := res["recall"]; ok {
		fmt.Fprintf(stdout, "recall@%d vs exact: %.4f over %d queries\n", *k, r, total)
	}
	fmt.Fprintf(stdout, "single query: p50 %.2f ms, p99 %.2f ms, mean %.2f ms (%d queries)\n", pct(0.5), pct(0.99), mean/float64(len(lat)), len(lat))
	fmt.Fprintf(stdout, "batches of %d: %.0f queries/s\n", *batch, res["batched_queries_per_second"])
	return nil
}

// randomUnit returns n Gaussian vectors of dimension d (uniform directions;
// the index normalises them) with IDs "r0", "r1", ...
func randomUnit(n, d int, seed uint64) ([]string, []float32) {
	r := rand.New(rand.NewPCG(seed, 0xabc))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d", i)
	}
	v := make([]float32, n*d)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return ids, v
}
