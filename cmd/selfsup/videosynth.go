package main

import (
	"fmt"
	"io"
	"path/filepath"

	"selfsup/data"
)

const videoSynthUsage = `
Usage: selfsup data video-synth --out DIR [--videos 20] [--split test] [--frames 24] [--size 64] [--objects 3]

Writes synthetic videos (moving textured shapes on textured backgrounds,
the ones the synthetic-video data spec trains on) as frame folders, with the
ground truth of every frame: DIR/frames/VIDEO/00000.png ... and
DIR/masks/VIDEO/00000.png ... (indexed PNGs, object ids in the DAVIS
palette) plus DIR/masks/VIDEO/keypoints.json (object centres). --split test
writes the held-out videos that training on synthetic-video never sees
(train writes the training ones). The result is a frames:DIR/frames
dataset and the input of selfsup track.

Examples:
  selfsup data video-synth --out vs-test --videos 20 --split test
  selfsup track --ckpt runs/vc --video vs-test/frames --masks vs-test/masks --out tracked
  selfsup pretrain --method video-color --data frames:vs-train/frames --out runs/vc-frames
`

// runDataVideoSynth writes synthetic videos with their ground truth.
func runDataVideoSynth(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("data video-synth", videoSynthUsage, stderr)
	def := data.DefaultSyntheticVideoConfig()
	out := fs.String("out", "", "folder to write frames/ and masks/ into (required)")
	videos := fs.Int("videos", 20, "number of videos (at most the split's size)")
	split := fs.String("split", "test", "train or test (held out from synthetic-video training)")
	frames := fs.Int("frames", def.Frames, "frames per video")
	size := fs.Int("size", def.Size, "frame side in pixels")
	objects := fs.Int("objects", def.Objects, "moving shapes per video")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	if *out == "" {
		return usageError("--out DIR is required")
	}
	if *videos < 1 {
		return usageError("--videos %d must be at least 1", *videos)
	}
	cfg := def
	cfg.Frames, cfg.Size, cfg.Objects, cfg.Clip, cfg.Step = *frames, *size, *objects, 1, 1
	// the split sizes follow the spec's: the test split holds videos/5
	cfg.Videos = *videos
	if *split == "test" {
		cfg.Videos = 5 * *videos
	}
	for i := range *videos {
		v, err := data.SyntheticVideo(cfg, *split, i)
		if err != nil {
			return usageError("%v", err)
		}
		if err := data.WriteFrames(filepath.Join(*out, "frames", v.Name), v); err != nil {
			return err
		}
		if err := data.WriteGroundTruth(filepath.Join(*out, "masks", v.Name), v); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %d %s videos of %d frames (%dx%d, %d objects) to %s/frames, masks to %s/masks\n",
		*videos, *split, *frames, *size, *size, *objects, *out, *out)
	return nil
}
