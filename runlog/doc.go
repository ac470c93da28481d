// Package runlog records what a long training or evaluation run is doing,
// for the person watching it and for the tools that read it afterwards.
//
// It has three small parts, each usable on its own:
//
//   - Progress draws a progress bar with a smoothed rate, an ETA and live
//     fields (loss=0.523 lr=0.1). On a terminal it redraws one line in place
//     at most ten times a second; written to a file or a CI log it prints a
//     plain line every ten seconds or at each tenth of the work instead, so
//     logs stay readable.
//   - Metrics appends one JSON object per line to a metrics.jsonl file that
//     survives crashes and resumed runs, and ReadMetrics reads it back for
//     plots and reports.
//   - PrepareRunDir creates a run directory and refuses to clobber an
//     earlier run unless the user asked to resume or to start over.
package runlog
