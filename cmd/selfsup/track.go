package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"selfsup/data"
	"selfsup/internal/atomicfile"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/track"
)

func init() {
	register("track", "propagate first-frame masks through videos with a video-color model; J&F", runTrack)
}

const trackUsage = `
Usage: selfsup track --video PATH --masks DIR --out DIR [--ckpt DIR] [--baseline copy|pixels|random|all] [flags]

Propagates the first frame's object masks (and keypoints, when the masks
folder has a keypoints.json) to every later frame of each video with the
attention of a video-color checkpoint (selfsup pretrain --method
video-color): each frame copies soft labels from the first frame and the
previous one, as in "Tracking Emerges by Colorizing Videos". Writes, per
video, the propagated masks (OUT/VIDEO/masks/NAME.png, DAVIS palette), the
frames with the masks drawn over them (OUT/VIDEO/overlay/NAME.png) and an
animated GIF of those (OUT/VIDEO.gif), and prints the DAVIS region
similarity J (mask IoU), contour accuracy F (boundary F-measure) and J&F
per video and over all objects, and PCK@0.1 of the keypoints, wherever the
masks folder has ground truth after the first frame.

--video is one video (a folder of frame images in name order, or an
animated GIF) or a folder of videos (one sub-folder of frames per video);
--masks is then that video's mask folder (NAME.png for frame NAME: object
ids as palette indices or grey levels, 0 the background), or a folder of
mask folders named like the videos. The first frame needs a mask.

--baseline replaces the learned attention: copy keeps the first mask
unchanged, pixels attends on raw Lab colours (4x4-pixel cells, Euclidean
distance), random on a video-color network with untrained weights (the
checkpoint's architecture, or resnet-small without --ckpt; batch norm with
its initial running statistics). all runs the model (with --ckpt) and every
baseline and writes each under OUT/METHOD/.

Examples:
  selfsup data video-synth --out vs --videos 20 --split test
  selfsup track --ckpt runs/vc --video vs/frames --masks vs/masks --out tracked
  selfsup track --ckpt runs/vc --video vs/frames --masks vs/masks --out cmp --baseline all --json
  selfsup track --ckpt runs/vc --video clip.gif --masks clip-masks --out tracked
`

// trackMethod is one way of tracking: a name and an embedder (nil: copy)
// with its temperature.
type trackMethod struct {
	name        string
	emb         track.Embedder
	temperature float64
}

// trackVideoReport is one video's scores in the --json output.
type trackVideoReport struct {
	Name      string              `json:"name"`
	J         float64             `json:"j"`
	F         float64             `json:"f"`
	JF        float64             `json:"jf"`
	Objects   []track.ObjectScore `json:"objects"`
	PCK       *float64            `json:"pck,omitempty"`
	PCKPoints int                 `json:"pck_points,omitempty"`
}

// trackReport is one method's scores over all videos.
type trackReport struct {
	Method      string             `json:"method"`
	Temperature float64            `json:"temperature,omitempty"`
	J           float64            `json:"j"`
	F           float64            `json:"f"`
	JF          float64            `json:"jf"`
	Objects     int                `json:"objects"`
	PCK         *float64           `json:"pck,omitempty"`
	Videos      []trackVideoReport `json:"videos"`
}

func runTrack(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("track", trackUsage, stderr)
	ckpt := fs.String("ckpt", "", "video-color checkpoint (a run directory or one of its step directories)")
	videoPath := fs.String("video", "", "a video (frame folder or GIF) or a folder of videos (required)")
	masksPath := fs.String("masks", "", "the video's mask folder, or a folder of per-video mask folders (required)")
	out := fs.String("out", "", "output folder (required)")
	baseline := fs.String("baseline", "", "copy, pixels, random or all (default: the checkpoint's model)")
	temp := fs.Float64("temperature", 0, "attention temperature (0: the checkpoint's track_temperature; 1e-4 for the pixels and random baselines)")
	topk := fs.Int("topk", 0, "attend only to the K most similar reference cells (0: all)")
	context := fs.Int("context", 1, "previous frames attended to")
	noFirst := fs.Bool("no-first", false, "do not attend to the first frame (only the previous ones)")
	scale := fs.Int("scale", 0, "enlarge the overlays this many times (0: to at least 256 pixels)")
	seed := fs.Uint64("seed", 0, "seed of the random-init baseline's weights")
	jsonOut := fs.Bool("json", false, "print the scores as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	switch {
	case *videoPath == "":
		return usageError("--video is required")
	case *masksPath == "":
		return usageError("--masks is required")
	case *out == "":
		return usageError("--out is required")
	case *scale < 0:
		return usageError("--scale %d must not be negative", *scale)
	case *temp < 0:
		return usageError("--temperature %v must not be negative", *temp)
	}
	opts := track.Options{TopK: *topk, Context: *context, First: !*noFirst}
	ms, err := trackMethods(*ckpt, *baseline, *temp, *seed, stderr)
	if err != nil {
		return err
	}
	videos, err := loadTrackVideos(*videoPath, *masksPath)
	if err != nil {
		return err
	}
	var reports []trackReport
	for _, m := range ms {
		dir := *out
		if len(ms) > 1 {
			dir = filepath.Join(*out, m.name)
		}
		o := opts
		o.Temperature = m.temperature
		if m.emb == nil {
			o.Temperature = 1 // unused by the copy baseline
		}
		rep, err := trackAll(videos, m, o, dir, *scale)
		if err != nil {
			return err
		}
		reports = append(reports, rep)
	}
	if *jsonOut {
		var v any = reports[0]
		if len(reports) > 1 {
			v = map[string]any{"methods": reports}
		}
		return json.NewEncoder(stdout).Encode(v)
	}
	printTrackReports(stdout, reports, len(videos) > 1)
	fmt.Fprintf(stderr, "masks, overlays and GIFs written under %s\n", *out)
	return nil
}

// trackMethods builds the methods a --baseline value asks for.
func trackMethods(ckpt, baseline string, temp float64, seed uint64, stderr io.Writer) ([]trackMethod, error) {
	var model *methods.VideoColor
	var spec methods.Spec
	if ckpt != "" {
		m, ck, err := methods.Load(ckpt)
		if err != nil {
			return nil, err
		}
		vc, ok := m.(*methods.VideoColor)
		if !ok {
			return nil, fmt.Errorf("checkpoint %s is a %s checkpoint; track needs a video-color one (pretrain --method video-color)", ck.Dir, ck.Method)
		}
		model = vc
		if spec, err = methods.SpecOf(ck); err != nil {
			return nil, err
		}
	}
	pick := func(t, dflt float64) float64 {
		if t > 0 {
			return t
		}
		return dflt
	}
	pixels := trackMethod{name: "pixels", emb: track.Pixels{Stride: 4}, temperature: pick(temp, defaultPixelTemperature)}
	copyFirst := trackMethod{name: "copy"}
	random := func() (trackMethod, error) {
		s := spec
		if model == nil {
			s = methods.Spec{Method: "video-color", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 3 * data.DefaultClip, ImageSize: 64}}
		}
		m, err := methods.Build(s, rand.New(rand.NewPCG(seed, 0x7261)))
		if err != nil {
			return trackMethod{}, err
		}
		vc := m.(*methods.VideoColor)
		if model != nil {
			pixels.emb = track.Pixels{Stride: model.P.Stride}
		}
		return trackMethod{name: "random", emb: track.Model{M: vc}, temperature: pick(temp, defaultRandomTemperature)}, nil
	}
	if model != nil {
		pixels.emb = track.Pixels{Stride: model.P.Stride}
	}
	switch baseline {
	case "":
		if model == nil {
			return nil, usageError("--ckpt is required unless --baseline is copy, pixels, random or all")
		}
		return []trackMethod{{name: "model", emb: track.Model{M: model}, temperature: pick(temp, model.P.TrackTemperature)}}, nil
	case "copy":
		return []trackMethod{copyFirst}, nil
	case "pixels":
		return []trackMethod{pixels}, nil
	case "random":
		r, err := random()
		return []trackMethod{r}, err
	case "all":
		var ms []trackMethod
		if model != nil {
			ms = append(ms, trackMethod{name: "model", emb: track.Model{M: model}, temperature: pick(temp, model.P.TrackTemperature)})
		} else {
			fmt.Fprintln(stderr, "note: no --ckpt, so only the baselines run")
		}
		r, err := random()
		if err != nil {
			return nil, err
		}
		return append(ms, copyFirst, pixels, r), nil
	}
	return nil, usageError("--baseline %q: want copy, pixels, random or all", baseline)
}

// The baselines' temperatures: about the best of a scan on held-out
// synthetic videos (docs/results.md), both close to a nearest-neighbour
// copy. The raw-colour one divides squared Lab/100 distances; the
// random-init one cosine similarities, which an untrained network keeps
// within a few hundredths of each other.
const (
	defaultPixelTemperature  = 1e-4
	defaultRandomTemperature = 1e-4
)

// loadTrackVideos reads the videos of --video with their ground truth from
// --masks.
func loadTrackVideos(videoPath, masksPath string) ([]*data.Video, error) {
	paths, err := data.ListVideos(videoPath)
	if err != nil {
		return nil, err
	}
	collection := len(paths) > 1 || paths[0] != videoPath
	var videos []*data.Video
	for _, p := range paths {
		v, err := data.ReadVideo(p)
		if err != nil {
			return nil, err
		}
		md := masksPath
		if collection {
			md = filepath.Join(masksPath, v.Name)
		}
		if _, err := data.ReadGroundTruth(md, &v); err != nil {
			return nil, err
		}
		if v.Masks[0] == nil {
			return nil, fmt.Errorf("%s: no mask for the first frame %s of video %s (want %s)", md, v.FrameNames[0], v.Name, filepath.Join(md, v.FrameNames[0]+".png"))
		}
		videos = append(videos, &v)
	}
	return videos, nil
}

// trackAll tracks every video with one method, writes its outputs under
// dir and returns its scores.
func trackAll(videos []*data.Video, m trackMethod, o track.Options, dir string, scale int) (trackReport, error) {
	rep := trackReport{Method: m.name, Temperature: o.Temperature}
	if m.emb == nil {
		rep.Temperature = 0
	}
	var all []track.ObjectScore
	var pckHit float64
	pckN := 0
	for _, v := range videos {
		res, err := track.Track(v, m.emb, o)
		if err != nil {
			return rep, err
		}
		if err := writeTrackOutputs(filepath.Join(dir, v.Name), v, res, scale); err != nil {
			return rep, err
		}
		vr := trackVideoReport{Name: v.Name, Objects: res.Objects}
		vr.J, vr.F, vr.JF, _ = track.Mean(res.Objects)
		if res.PCKPoints > 0 {
			p := res.PCK
			vr.PCK, vr.PCKPoints = &p, res.PCKPoints
			pckHit += res.PCK * float64(res.PCKPoints)
			pckN += res.PCKPoints
		}
		all = append(all, res.Objects...)
		rep.Videos = append(rep.Videos, vr)
	}
	rep.J, rep.F, rep.JF, rep.Objects = track.Mean(all)
	if pckN > 0 {
		p := pckHit / float64(pckN)
		rep.PCK = &p
	}
	return rep, nil
}

// writeTrackOutputs writes a tracked video's masks, overlays and GIF.
func writeTrackOutputs(dir string, v *data.Video, res track.Result, scale int) error {
	h, w := v.Size()
	if scale == 0 {
		scale = max(1, (256+max(h, w)-1)/max(h, w))
	}
	for _, sub := range []string{"masks", "overlay"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	var frames []*image.NRGBA
	for t, f := range v.Frames {
		name := v.FrameNames[t]
		if err := data.WriteMask(filepath.Join(dir, "masks", name+".png"), res.Masks[t], h, w); err != nil {
			return err
		}
		var kps []data.Keypoint
		if res.Keypoints != nil {
			kps = res.Keypoints[t]
		}
		ov := track.Overlay(f, res.Masks[t], kps, scale)
		if err := writePNG(filepath.Join(dir, "overlay", name+".png"), ov); err != nil {
			return err
		}
		frames = append(frames, ov)
	}
	return track.WriteGIF(dir+".gif", frames, 12)
}

// writePNG writes an image as PNG atomically.
func writePNG(path string, img image.Image) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return png.Encode(w, img) })
}

// printTrackReports prints the per-video and overall scores.
func printTrackReports(w io.Writer, reps []trackReport, perVideo bool) {
	pct := func(v float64) string {
		if math.IsNaN(v) {
			return "    -"
		}
		return fmt.Sprintf("%5.1f", 100*v)
	}
	pckStr := func(p *float64) string {
		if p == nil {
			return "    -"
		}
		return pct(*p)
	}
	if perVideo {
		for _, r := range reps {
			fmt.Fprintf(w, "%s:\n  %-16s %5s %5s %5s %5s\n", r.Method, "video", "J", "F", "J&F", "PCK")
			for _, v := range r.Videos {
				fmt.Fprintf(w, "  %-16s %s %s %s %s\n", v.Name, pct(v.J), pct(v.F), pct(v.JF), pckStr(v.PCK))
			}
		}
	}
	fmt.Fprintf(w, "%-8s %5s %5s %5s %7s %5s %s\n", "method", "J", "F", "J&F", "objects", "PCK", "temperature")
	for _, r := range reps {
		t := "-"
		if r.Temperature > 0 {
			t = fmt.Sprintf("%g", r.Temperature)
		}
		fmt.Fprintf(w, "%-8s %s %s %s %7d %s %s\n", r.Method, pct(r.J), pct(r.F), pct(r.JF), r.Objects, pckStr(r.PCK), t)
	}
	if len(reps) > 0 && reps[0].Objects == 0 {
		fmt.Fprintln(w, "no ground-truth masks after the first frame: J and F not measured")
	}
}
