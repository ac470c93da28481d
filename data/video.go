package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Videos: frame folders (one image per frame, in name order), animated GIF
// files, and the synthetic videos of video_synth.go, with the ground truth
// tracking is scored against (instance masks and keypoints per frame). The
// clip datasets of video_clips.go turn them into training images for the
// video methods.

// Video is a sequence of RGB frames of one size with optional ground truth:
// instance masks and keypoints per frame.
type Video struct {
	// Name identifies the video (its folder or file name without extension).
	Name string
	// Frames are RGB images (C = 3) of one size, values in [0, 1].
	Frames []Image
	// FrameNames name the frames: the file names without extension for a
	// frame folder, "00000", "00001", ... for GIF and synthetic videos.
	// Mask files are matched to frames by these names.
	FrameNames []string
	// Masks[t] holds frame t's object ids row by row (0: background), H*W
	// values, or nil when frame t has no mask. Masks is nil when the video
	// has no masks at all.
	Masks [][]uint8
	// Keypoints[t] lists frame t's keypoints; nil when there are none.
	Keypoints [][]Keypoint
}

// Keypoint is a named point of a frame: for the synthetic videos, the centre
// of an object.
type Keypoint struct {
	// ID identifies the point across frames (the object id for synthetic
	// videos).
	ID int `json:"id"`
	// X and Y are pixel coordinates (x to the right, y down; the centre of
	// the top-left pixel is (0.5, 0.5)).
	X float64 `json:"x"`
	Y float64 `json:"y"`
	// Visible is false when the point lies outside the frame or under
	// another object.
	Visible bool `json:"visible"`
}

// Size returns the frame height and width (zeros for a video without
// frames).
func (v *Video) Size() (h, w int) {
	if len(v.Frames) == 0 {
		return 0, 0
	}
	return v.Frames[0].H, v.Frames[0].W
}

// VideoError reports a video file or folder that cannot be used.
type VideoError struct {
	Path string // the file or folder
	Err  error  // what is wrong with it
}

// Error returns "path: problem".
func (e *VideoError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *VideoError) Unwrap() error { return e.Err }

// isGIF reports whether path names a GIF file.
func isGIF(path string) bool { return strings.EqualFold(filepath.Ext(path), ".gif") }

// ListVideos returns the videos a folder holds, sorted by name: when dir has
// sub-folders, each sub-folder is a video (its image files are the frames)
// and each GIF file next to them is an animated video; otherwise dir itself
// is one video. Sub-folders without image files are an error naming them,
// since an empty video is almost always a mistake in the layout.
func ListVideos(dir string) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, &VideoError{Path: dir, Err: unwrapPathError(err)}
	}
	if !st.IsDir() {
		if isGIF(dir) {
			return []string{dir}, nil
		}
		return nil, &VideoError{Path: dir, Err: errors.New("neither a folder of frames nor an animated GIF file")}
	}
	ents, err := listDir(dir)
	if err != nil {
		return nil, &VideoError{Path: dir, Err: unwrapPathError(err)}
	}
	var subs, gifs []string
	for _, e := range ents {
		p := filepath.Join(dir, e.name)
		switch {
		case e.isDir:
			subs = append(subs, p)
		case isGIF(e.name):
			gifs = append(gifs, p)
		}
	}
	if len(subs) == 0 {
		return []string{dir}, nil
	}
	out := append(subs, gifs...)
	sort.Strings(out)
	return out, nil
}

// frameFiles lists the image files of a frame folder in name order; a
// folder without any is an error naming it.
func frameFiles(dir string) ([]string, error) {
	ents, err := listDir(dir)
	if err != nil {
		return nil, &VideoError{Path: dir, Err: unwrapPathError(err)}
	}
	var files []string
	for _, e := range ents {
		if !e.isDir && isImageFile(e.name) {
			files = append(files, filepath.Join(dir, e.name))
		}
	}
	if len(files) == 0 {
		return nil, &VideoError{Path: dir, Err: fmt.Errorf("empty video: no frames %s", imagesHint)}
	}
	return files, nil
}

// frameName is a frame file's name without folder and extension.
func frameName(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// videoName names the video at path (a folder, or a GIF file without its
// extension).
func videoName(path string) string {
	b := filepath.Base(filepath.Clean(path))
	if isGIF(b) {
		return strings.TrimSuffix(b, filepath.Ext(b))
	}
	return b
}

// frameConfig reads a frame file's size from its header, rejecting sizes
// no frame can have.
func frameConfig(path string) (h, w int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, &ImageError{Path: path, Err: unwrapPathError(err)}
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return 0, 0, &ImageError{Path: path, Err: err}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxFolderPixels {
		return 0, 0, &ImageError{Path: path, Err: fmt.Errorf("unsupported image size %dx%d", cfg.Width, cfg.Height)}
	}
	return cfg.Height, cfg.Width, nil
}

// checkFrameSizes reads the header of every frame file and returns their
// common size; a frame whose size differs from the first frame's is an
// error naming both files.
func checkFrameSizes(files []string) (h, w int, err error) {
	for i, p := range files {
		fh, fw, err := frameConfig(p)
		if err != nil {
			return 0, 0, err
		}
		if i == 0 {
			h, w = fh, fw
			continue
		}
		if fh != h || fw != w {
			return 0, 0, &VideoError{Path: p, Err: fmt.Errorf("frame is %dx%d (width x height), but the video's first frame %s is %dx%d: all frames of a video must have one size",
				fw, fh, filepath.Base(files[0]), w, h)}
		}
	}
	return h, w, nil
}

// readFrame decodes one frame file into dst as RGB.
func readFrame(path string, dst Image) (Image, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return dst, &ImageError{Path: path, Err: unwrapPathError(err)}
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return dst, &ImageError{Path: path, Err: err}
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > maxFolderPixels {
		return dst, &ImageError{Path: path, Err: fmt.Errorf("unsupported image size %dx%d", b.Dx(), b.Dy())}
	}
	dst = ensureImage(dst, 3, b.Dy(), b.Dx())
	toRGB(img, dst)
	return dst, nil
}

// ReadVideo reads a video: a folder of frame images (in name order; every
// frame must have the first frame's size) or an animated GIF file. It reads
// no ground truth; see ReadGroundTruth. Errors name the file and the
// problem: an empty folder, frames of different sizes, a file that does not
// decode.
func ReadVideo(path string) (Video, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Video{}, &VideoError{Path: path, Err: unwrapPathError(err)}
	}
	if !st.IsDir() {
		if !isGIF(path) {
			return Video{}, &VideoError{Path: path, Err: errors.New("neither a folder of frames nor an animated GIF file")}
		}
		f, err := os.Open(path)
		if err != nil {
			return Video{}, &VideoError{Path: path, Err: unwrapPathError(err)}
		}
		defer f.Close()
		frames, err := DecodeGIF(f)
		if err != nil {
			return Video{}, &VideoError{Path: path, Err: err}
		}
		v := Video{Name: videoName(path), Frames: frames}
		for t := range frames {
			v.FrameNames = append(v.FrameNames, fmt.Sprintf("%05d", t))
		}
		return v, nil
	}
	files, err := frameFiles(path)
	if err != nil {
		return Video{}, err
	}
	if _, _, err := checkFrameSizes(files); err != nil {
		return Video{}, err
	}
	v := Video{Name: videoName(path)}
	for _, p := range files {
		img, err := readFrame(p, Image{})
		if err != nil {
			return Video{}, err
		}
		v.Frames = append(v.Frames, img)
		v.FrameNames = append(v.FrameNames, frameName(p))
	}
	return v, nil
}

// unwrapPathError drops the *os.PathError wrapper whose path the caller
// already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
