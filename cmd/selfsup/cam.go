package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"selfsup/cam"
	"selfsup/data"
	"selfsup/methods"
)

func init() {
	register("cam", "show where encoders look: Grad-CAM of a probe's class or feature-norm maps over images", runCAM)
}

const camUsage = `
Usage:
  selfsup cam --ckpt DIR [--compare DIR2] --data SPEC --out FILE.png
              [--mode gradcam|norm] [--n 16] [--split test] [--target label|pred]
              [--probe-images 10000] [--paste SIZE [--clutter K] [--measure N]]

Draws a grid of --n images of a split (a seeded random choice), each next to
a heat-map overlay of where the encoder of --ckpt looks, and of where the
encoder of --compare looks when given (two checkpoints side by side, e.g. a
supervised and a self-supervised one).

--mode gradcam (the default) is Grad-CAM for a class of a linear probe:
the probe is fitted on the spatially pooled last feature map of the frozen
encoder over --probe-images labelled training images, applied to the
feature map with autograd, and its class score's gradient weights the
feature map's channels; the map explains the image's label (--target
label) or the probe's prediction (--target pred). --mode norm is the L2
norm over channels of the last feature map: where the bare encoder
responds, no labels needed. Maps are upsampled bilinearly to the image and
normalised to [0, 1].

--paste SIZE puts every image at a random place on a SIZE x SIZE black
canvas (with --clutter K fragments of other images around it) and reports
the share of the maps' mass inside the pasted image's box over --measure
test images: a check that the model looks at the object (chance: the box's
share of the canvas). The encoder sees the larger canvas as it is (a
ResNet takes any size).

Examples:
  selfsup cam --ckpt runs/simclr-mnist --compare runs/sup-mnist --data mnist --out cam.png
  selfsup cam --ckpt runs/simclr-mnist --data mnist --mode norm --n 32 --out norm.png
  selfsup cam --ckpt runs/sup-mnist --data mnist --paste 56 --clutter 4 --out pasted.png
`

func runCAM(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cam", camUsage, stderr)
	var df dataFlags
	df.register(fs, "", "test")
	ckpt := fs.String("ckpt", "", "checkpoint whose encoder is shown (a run directory or one of its step directories)")
	compare := fs.String("compare", "", "a second checkpoint shown beside the first")
	out := fs.String("out", "", "PNG file to draw the grid to (required)")
	modeName := fs.String("mode", "gradcam", "gradcam (a probe's class) or norm (feature norm of the bare encoder)")
	targetName := fs.String("target", "label", "Grad-CAM class: label (the image's) or pred (the probe's prediction)")
	n := fs.Int("n", 16, "images in the grid")
	probeImages := fs.Int("probe-images", 10000, "labelled training images the Grad-CAM probe is fitted on")
	paste := fs.Int("paste", 0, "paste the images on a canvas of this size and measure the map mass inside their box (0: off)")
	clutter := fs.Int("clutter", 0, "with --paste: fragments of other images scattered on the canvas")
	measure := fs.Int("measure", 500, "with --paste: test images the mass inside the box is averaged over")
	perRow := fs.Int("per-row", 0, "images per row of the grid (0: about the square root of --n)")
	seed := fs.Uint64("seed", 0, "random seed (the images shown, the probe's images, pasted positions)")
	quiet := fs.Bool("quiet", false, "no progress output")
	jsonOut := fs.Bool("json", false, "print one JSON object with the results")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	mode, err := cam.ParseMode(*modeName)
	if err != nil {
		return usageError("--mode: %v", err)
	}
	target, err := cam.ParseTarget(*targetName)
	if err != nil {
		return usageError("--target: %v", err)
	}
	switch {
	case *ckpt == "":
		return usageError("--ckpt DIR is required")
	case *out == "":
		return usageError("--out FILE.png is required")
	case !strings.EqualFold(filepath.Ext(*out), ".png"):
		return usageError("--out %s: want a .png file", *out)
	case *n < 1:
		return usageError("--n %d: want at least one image", *n)
	case *probeImages < 1 || *measure < 1:
		return usageError("--probe-images %d and --measure %d must be positive", *probeImages, *measure)
	case *paste < 0 || *clutter < 0:
		return usageError("--paste %d and --clutter %d must not be negative", *paste, *clutter)
	case *clutter > 0 && *paste == 0:
		return usageError("--clutter needs --paste SIZE")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	progress := stderr
	if *quiet {
		progress = io.Discard
	}

	df.seed = *seed
	shown, err := df.open(stderr, "")
	if err != nil {
		return err
	}
	var train data.Dataset
	if mode == cam.GradCAM {
		if train, err = df.open(stderr, "train"); err != nil {
			return fmt.Errorf("the Grad-CAM probe needs the training split: %w", err)
		}
	}
	var pasted *cam.Pasted
	if *paste > 0 {
		pc := cam.PasteConfig{Size: *paste, Clutter: *clutter, Seed: *seed}
		if pasted, err = cam.Paste(shown, pc); err != nil {
			return usageError("--paste: %v", err)
		}
		shown = pasted
		if train != nil {
			pc.Seed ^= 0x7a11
			if train, err = cam.Paste(train, pc); err != nil {
				return usageError("--paste: %v", err)
			}
		}
	}
	models := []string{*ckpt}
	if *compare != "" {
		models = append(models, *compare)
	}
	type model struct {
		title, dir string
		ex         *cam.Explainer
	}
	var ms []model
	for _, dir := range models {
		m, ck, err := methods.Load(dir)
		if err != nil {
			return err
		}
		ms = append(ms, model{title: ck.Method, dir: ck.Dir, ex: &cam.Explainer{Encoder: m.Encoder()}})
	}
	if len(ms) == 2 && ms[0].title == ms[1].title {
		// one method twice: name the runs
		for i := range ms {
			ms[i].title += " (" + filepath.Base(filepath.Dir(ms[i].dir)) + ")"
		}
	}
	if mode == cam.GradCAM {
		for _, m := range ms {
			fmt.Fprintf(progress, "fitting the Grad-CAM probe of %s on up to %d images of %s\n", m.title, *probeImages, train.Name())
			m.ex.Probe, err = cam.TrainProbe(ctx, m.ex.Encoder, train, cam.ProbeConfig{Images: *probeImages, Seed: *seed})
			if err != nil {
				return fmt.Errorf("%s: %w", m.dir, err)
			}
		}
	}

	idx, err := data.RandomIndices(shown.Len(), min(*n, shown.Len()), *seed)
	if err != nil {
		return err
	}
	grid := &cam.Grid{PerRow: *perRow, ClassNames: shown.Classes()}
	for _, i := range idx {
		img, err := shown.Image(i, data.Image{})
		if err != nil {
			return err
		}
		grid.Images = append(grid.Images, img)
		caption := ""
		if l := shown.Label(i); l >= 0 {
			caption = "label " + className(shown.Classes(), l)
		}
		grid.Captions = append(grid.Captions, caption)
		if pasted != nil {
			grid.Boxes = append(grid.Boxes, pasted.Box(i))
		}
	}
	what := map[cam.Mode]string{cam.GradCAM: "Grad-CAM", cam.FeatureNorm: "feature norm"}[mode]
	grid.Title = fmt.Sprintf("%s on %s", what, shown.Name())
	result := map[string]any{"mode": mode.String(), "data": df.spec, "split": df.split, "images": len(idx), "png": *out}
	var runs []map[string]any
	for _, m := range ms {
		maps, err := m.ex.ExplainDataset(ctx, shown, idx, mode, target, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", m.dir, err)
		}
		grid.Columns = append(grid.Columns, cam.Column{Title: m.title, Maps: maps})
		r := map[string]any{"title": m.title, "checkpoint": m.dir}
		if pasted != nil {
			frac, used, err := massInBox(ctx, m.ex, pasted, mode, target, *measure, *seed)
			if err != nil {
				return fmt.Errorf("%s: %w", m.dir, err)
			}
			r["mass_in_box"], r["maps_measured"] = frac, used
		}
		runs = append(runs, r)
	}
	if err := grid.SavePNG(*out); err != nil {
		return err
	}
	result["models"], result["seconds"] = runs, time.Since(start).Seconds()
	if pasted != nil {
		box := pasted.Box(0)
		result["chance"] = float64(box.Dx()*box.Dy()) / float64(*paste**paste)
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(result)
	}
	fmt.Fprintf(stdout, "%s maps of %d images of %s (%s) -> %s\n", what, len(idx), shown.Name(), modelList(ms[0].title, runs), *out)
	if pasted != nil {
		fmt.Fprintf(stdout, "share of the map mass inside the pasted image's box (chance %.3f):", result["chance"])
		for _, r := range runs {
			fmt.Fprintf(stdout, " %s %.3f (%d maps)", r["title"], r["mass_in_box"], r["maps_measured"])
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "(%s)\n", time.Since(start).Round(time.Second))
	return nil
}

// massInBox averages the share of the maps' mass inside the pasted box
// over up to n images of ds.
func massInBox(ctx context.Context, ex *cam.Explainer, ds *cam.Pasted, mode cam.Mode, target cam.Target, n int, seed uint64) (float64, int, error) {
	idx, err := data.RandomIndices(ds.Len(), min(n, ds.Len()), seed^0x3a55)
	if err != nil {
		return 0, 0, err
	}
	maps, err := ex.ExplainDataset(ctx, ds, idx, mode, target, 0)
	if err != nil {
		return 0, 0, err
	}
	boxes := make([]image.Rectangle, len(idx))
	for k, i := range idx {
		boxes[k] = ds.Box(i)
	}
	frac, used := cam.MeanMassInside(maps, boxes)
	if used == 0 {
		return math.NaN(), 0, fmt.Errorf("all %d maps are zero", len(maps))
	}
	return frac, used, nil
}

// className names class c (its number when the dataset has no names).
func className(names []string, c int) string {
	if c >= 0 && c < len(names) && names[c] != "" {
		return names[c]
	}
	return fmt.Sprint(c)
}

// modelList writes the models' titles for the summary line.
func modelList(first string, runs []map[string]any) string {
	if len(runs) == 1 {
		return first
	}
	return fmt.Sprintf("%s beside %s", runs[0]["title"], runs[1]["title"])
}
