// Package report compares training runs on one page: what each run is
// (method, backbone, epochs, wall clock, its pretext metric on held-out
// data) and what its representation lets you do downstream (kNN and linear
// probes, a linear probe per stage, fine-tuning, label efficiency,
// clustering NMI, a t-SNE map), next to the baselines measured in the same
// harness.
//
// The evaluation results of a run live in its directory as eval.json (a
// Record: see record.go for the format; `selfsup compare` writes it). The
// rest comes from what training leaves there: metrics.jsonl (loss curve,
// held-out pretext metrics, timestamps), config.json and the newest
// checkpoint's meta.json. LoadRun gathers all of it and tolerates any part
// being absent: the page shows "-" for what is missing.
//
// A Page renders as Markdown (with the figures as PNG files next to it) and
// as one self-contained HTML file (the figures inlined as base64 PNG data
// URIs), so it opens in a browser from anywhere: Page.Save writes both.
package report
