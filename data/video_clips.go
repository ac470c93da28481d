package data

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Clip datasets: the training images of the video methods. Image i of a
// clip dataset is a clip, Clip frames of one video Step frames apart,
// stacked along the channels: C = 3*Clip, frame k of the clip in channels
// 3k, 3k+1, 3k+2 (RGB). Every window of a video is a clip, so a video of F
// frames gives F - (Clip-1)*Step clips (none when it is shorter). Keeping a
// clip one "image" lets the loader, the augmentations (which treat all
// channels alike, so a crop or flip moves every frame the same way) and the
// trainer handle videos unchanged. Clips have no labels.

// DefaultClip and DefaultClipStep are the clip shape of a frames:DIR spec
// that gives none: three reference frames and a target, consecutive.
const (
	DefaultClip     = 4
	DefaultClipStep = 1
)

// clipSource is what a clip dataset reads frames from.
type clipSource interface {
	// numVideos is the number of videos.
	numVideos() int
	// numFrames is the number of frames of video v.
	numFrames(v int) int
	// frameSize is the height and width of video v's frames.
	frameSize(v int) (h, w int)
	// readClip writes frames ts of video v into consecutive 3-channel
	// groups of dst (sized by the caller).
	readClip(v int, ts []int, dst Image) error
}

// videoClips is a clip dataset over a clip source.
type videoClips struct {
	name       string
	src        clipSource
	clip, step int
	first      []int // first[v] is the index of video v's first clip; first[n] the total
	c, h, w    int   // the shape, or zeros when frame sizes vary
	ts         sync.Pool
}

// newVideoClips indexes the clips of src; an empty result is an error
// naming the dataset.
func newVideoClips(name string, src clipSource, clip, step int) (*videoClips, error) {
	if clip < 1 || step < 1 {
		return nil, fmt.Errorf("%s: clip %d and step %d must be at least 1", name, clip, step)
	}
	d := &videoClips{name: name, src: src, clip: clip, step: step, c: 3 * clip}
	span := (clip - 1) * step
	total := 0
	sameSize := true
	for v := range src.numVideos() {
		d.first = append(d.first, total)
		total += max(0, src.numFrames(v)-span)
		h, w := src.frameSize(v)
		if v == 0 {
			d.h, d.w = h, w
		} else if h != d.h || w != d.w {
			sameSize = false
		}
	}
	d.first = append(d.first, total)
	if total == 0 {
		return nil, fmt.Errorf("%s: no video has the %d frames a clip of %d frames %d apart spans", name, span+1, clip, step)
	}
	if !sameSize {
		d.c, d.h, d.w = 0, 0, 0
	}
	d.ts.New = func() any { s := make([]int, clip); return &s }
	return d, nil
}

// The Dataset methods of videoClips; see Dataset for their contracts.
func (d *videoClips) Name() string         { return d.name }
func (d *videoClips) Len() int             { return d.first[len(d.first)-1] }
func (d *videoClips) Label(int) int        { return -1 }
func (d *videoClips) Classes() []string    { return nil }
func (d *videoClips) Shape() (c, h, w int) { return d.c, d.h, d.w }

// Channels reports the channel count (3 per clip frame) even when frame
// sizes vary, so that Resized knows it.
func (d *videoClips) Channels() int { return 3 * d.clip }

// Clip returns the clip length and the frame step.
func (d *videoClips) Clip() (clip, step int) { return d.clip, d.step }

// locate returns the video and first frame of clip i.
func (d *videoClips) locate(i int) (v, t int) {
	v = sort.Search(len(d.first)-1, func(k int) bool { return d.first[k+1] > i })
	return v, i - d.first[v]
}

// Image reads clip i into dst (allocating only when dst is too small).
func (d *videoClips) Image(i int, dst Image) (Image, error) {
	if i < 0 || i >= d.Len() {
		return dst, fmt.Errorf("%s: clip index %d out of range [0, %d)", d.name, i, d.Len())
	}
	v, t0 := d.locate(i)
	h, w := d.src.frameSize(v)
	dst = ensureImage(dst, 3*d.clip, h, w)
	tsp := d.ts.Get().(*[]int)
	defer d.ts.Put(tsp)
	ts := *tsp
	for k := range ts {
		ts[k] = t0 + k*d.step
	}
	return dst, d.src.readClip(v, ts, dst)
}

// synthSource renders synthetic videos on demand.
type synthSource struct {
	cfg  SyntheticVideoConfig
	salt uint64
	n    int
}

func (s *synthSource) numVideos() int           { return s.n }
func (s *synthSource) numFrames(int) int        { return s.cfg.Frames }
func (s *synthSource) frameSize(int) (int, int) { return s.cfg.Size, s.cfg.Size }

func (s *synthSource) readClip(v int, ts []int, dst Image) error {
	sc := newSynthScene(s.cfg, s.salt, v)
	plane := s.cfg.Size * s.cfg.Size
	for k, t := range ts {
		sc.render(t, dst.Pix[3*k*plane:3*(k+1)*plane], nil)
	}
	return nil
}

// SyntheticVideoClips returns the clip dataset of a split ("train" or
// "test") of the synthetic videos (see SyntheticVideo): cfg.Videos videos
// for train, a fifth as many (at least one) for test.
func SyntheticVideoClips(cfg SyntheticVideoConfig, split string) (Dataset, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	salt, split, err := synthSalt(split)
	if err != nil {
		return nil, err
	}
	src := &synthSource{cfg: cfg, salt: salt, n: cfg.splitVideos(split)}
	return newVideoClips("synthetic-video/"+split, src, cfg.Clip, cfg.Step)
}

// folderSource reads frame files.
type folderSource struct {
	videos [][]string // frame files per video, in name order
	sizes  [][2]int
	frames sync.Pool // *Image scratch
}

func (s *folderSource) numVideos() int             { return len(s.videos) }
func (s *folderSource) numFrames(v int) int        { return len(s.videos[v]) }
func (s *folderSource) frameSize(v int) (int, int) { return s.sizes[v][0], s.sizes[v][1] }

func (s *folderSource) readClip(v int, ts []int, dst Image) error {
	scratch := s.frames.Get().(*Image)
	defer s.frames.Put(scratch)
	h, w := s.frameSize(v)
	plane := h * w
	for k, t := range ts {
		p := s.videos[v][t]
		img, err := readFrame(p, *scratch)
		if err != nil {
			return err
		}
		*scratch = img
		if img.H != h || img.W != w { // the file changed since the dataset was opened
			return &ImageError{Path: p, Err: fmt.Errorf("frame is %dx%d, the video's frames are %dx%d", img.W, img.H, w, h)}
		}
		copy(dst.Pix[3*k*plane:3*(k+1)*plane], img.Pix)
	}
	return nil
}

// FrameClips returns the clip dataset of the videos under dir (see
// ListVideos for the layout; animated GIFs are not read here, only frame
// folders). When dir has train, test or val sub-folders, those are the
// splits ("test" falls back to val); otherwise dir is the train split. Every
// frame's size is read from its header at open time: an empty video folder
// or a frame whose size differs from its video's first frame is an error
// naming the folder or file.
func FrameClips(dir, split string, clip, step int) (Dataset, error) {
	name := "frames:" + dir
	root, split, err := videoSplit(dir, split)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	paths, err := ListVideos(root)
	if err != nil {
		return nil, err
	}
	src := &folderSource{}
	src.frames.New = func() any { return new(Image) }
	for _, p := range paths {
		if isGIF(p) {
			continue
		}
		files, err := frameFiles(p)
		if err != nil {
			return nil, err
		}
		h, w, err := checkFrameSizes(files)
		if err != nil {
			return nil, err
		}
		src.videos = append(src.videos, files)
		src.sizes = append(src.sizes, [2]int{h, w})
	}
	if len(src.videos) == 0 {
		return nil, fmt.Errorf("%s: no frame folders under %s", name, root)
	}
	return newVideoClips(name+"/"+split, src, clip, step)
}

// videoSplit resolves a split of a video collection folder: its train,
// test or val sub-folder when it has any of them, otherwise the folder
// itself as the train split.
func videoSplit(dir, split string) (string, string, error) {
	if split == "" {
		split = "train"
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", "", unwrapPathError(err)
	}
	if !st.IsDir() {
		return "", "", fmt.Errorf("%s is not a folder", dir)
	}
	ents, err := listDir(dir)
	if err != nil {
		return "", "", unwrapPathError(err)
	}
	splits := map[string]string{}
	for _, e := range ents {
		if e.isDir && (e.name == "train" || e.name == "test" || e.name == "val") {
			splits[e.name] = filepath.Join(dir, e.name)
		}
	}
	if len(splits) == 0 {
		if split != "train" {
			return "", "", fmt.Errorf("no %s split: the folder has no train/test/val sub-folders, so it is one split (use split train)", split)
		}
		return dir, split, nil
	}
	d, ok := splits[split]
	if !ok && split == "test" {
		d, ok = splits["val"]
	}
	if !ok {
		return "", "", fmt.Errorf("no %s split (it has train/test/val sub-folders, but not this one)", split)
	}
	return d, split, nil
}

// parseKeyValues parses "k1=v1,k2=v2" into whole numbers for the known
// keys.
func parseKeyValues(s string, keys map[string]*int) error {
	if s == "" {
		return nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		dst, known := keys[k]
		if !ok || !known {
			names := make([]string, 0, len(keys))
			for n := range keys {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("option %q is not KEY=N with KEY one of %s", kv, strings.Join(names, ", "))
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("option %s=%q is not a whole number", k, v)
		}
		*dst = n
	}
	return nil
}

// ParseSyntheticVideo parses the options of a synthetic-video spec, the part
// after "synthetic-video:" ("" for the defaults), such as
// "videos=200,frames=16,size=48,objects=4,clip=3,step=1".
func ParseSyntheticVideo(opts string) (SyntheticVideoConfig, error) {
	c := DefaultSyntheticVideoConfig()
	err := parseKeyValues(opts, map[string]*int{"videos": &c.Videos, "frames": &c.Frames, "size": &c.Size,
		"objects": &c.Objects, "clip": &c.Clip, "step": &c.Step})
	if err != nil {
		return c, fmt.Errorf("synthetic-video: %w", err)
	}
	return c, c.check()
}

// parseFramesSpec splits the part of a frames spec after "frames:" into the
// folder and the clip options after '#' ("DIR#clip=3,step=2").
func parseFramesSpec(rest string) (dir string, clip, step int, err error) {
	dir, opts, _ := strings.Cut(rest, "#")
	clip, step = DefaultClip, DefaultClipStep
	if dir == "" {
		return "", 0, 0, fmt.Errorf("frames needs a folder, as in frames:DIR")
	}
	if err := parseKeyValues(opts, map[string]*int{"clip": &clip, "step": &step}); err != nil {
		return "", 0, 0, fmt.Errorf("frames: %w", err)
	}
	if clip < 1 || step < 1 {
		return "", 0, 0, fmt.Errorf("frames: clip=%d and step=%d must be at least 1", clip, step)
	}
	return dir, clip, step, nil
}

// openFrames opens a split of a frames spec.
func openFrames(rest, split string) (Dataset, error) {
	dir, clip, step, err := parseFramesSpec(rest)
	if err != nil {
		return nil, err
	}
	return FrameClips(dir, split, clip, step)
}

// openSyntheticVideo opens a split of a synthetic-video spec.
func openSyntheticVideo(rest, split string) (Dataset, error) {
	cfg, err := ParseSyntheticVideo(rest)
	if err != nil {
		return nil, err
	}
	return SyntheticVideoClips(cfg, split)
}
