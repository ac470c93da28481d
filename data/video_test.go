package data

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smallVideoConfig is a synthetic video configuration small enough for
// tests.
func smallVideoConfig() SyntheticVideoConfig {
	return SyntheticVideoConfig{Videos: 10, Frames: 8, Size: 32, Objects: 3, Clip: 3, Step: 2}
}

func TestSyntheticVideoIsDeterministic(t *testing.T) {
	cfg := smallVideoConfig()
	a, err := SyntheticVideo(cfg, "train", 3)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SyntheticVideo(cfg, "train", 3)
	other, _ := SyntheticVideo(cfg, "train", 4)
	test, _ := SyntheticVideo(cfg, "test", 1)
	if a.Name != "train00003" || test.Name != "test00001" || len(a.Frames) != 8 || len(a.FrameNames) != 8 || a.FrameNames[7] != "00007" {
		t.Fatalf("names %s %s, %d frames %v", a.Name, test.Name, len(a.Frames), a.FrameNames)
	}
	for f := range a.Frames {
		for i, v := range a.Frames[f].Pix {
			if b.Frames[f].Pix[i] != v {
				t.Fatalf("frame %d pixel %d differs between two renderings: %v vs %v", f, i, v, b.Frames[f].Pix[i])
			}
			if v < 0 || v > 1 {
				t.Fatalf("pixel value %v outside [0, 1]", v)
			}
		}
		if !bytes.Equal(a.Masks[f], b.Masks[f]) {
			t.Fatalf("frame %d: masks differ between two renderings", f)
		}
		for k := range a.Keypoints[f] {
			if a.Keypoints[f][k] != b.Keypoints[f][k] {
				t.Fatalf("frame %d keypoint %d differs: %+v vs %+v", f, k, a.Keypoints[f][k], b.Keypoints[f][k])
			}
		}
	}
	if same(a.Frames[0].Pix, other.Frames[0].Pix) || same(a.Frames[0].Pix, test.Frames[0].Pix) {
		t.Fatal("different videos (or splits) render the same first frame")
	}
}

func same(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The ground truth agrees with the pictures: object ids stay in range,
// keypoints are the objects' centres and move, objects differ from the
// background where the mask says they are.
func TestSyntheticVideoGroundTruth(t *testing.T) {
	cfg := smallVideoConfig()
	cfg.Frames = 12
	occluded := false
	for i := range 6 {
		v, err := SyntheticVideo(cfg, "train", i)
		if err != nil {
			t.Fatal(err)
		}
		area0 := map[uint8]int{}
		for f, m := range v.Masks {
			area := map[uint8]int{}
			for _, id := range m {
				if int(id) > cfg.Objects {
					t.Fatalf("video %d frame %d: object id %d with %d objects", i, f, id, cfg.Objects)
				}
				area[id]++
			}
			if f == 0 {
				area0 = area
			}
			if len(v.Keypoints[f]) != cfg.Objects {
				t.Fatalf("video %d frame %d: %d keypoints for %d objects", i, f, len(v.Keypoints[f]), cfg.Objects)
			}
			for _, kp := range v.Keypoints[f] {
				if !kp.Visible {
					occluded = true
				}
			}
			for id := uint8(1); int(id) <= cfg.Objects; id++ {
				if area[id] < area0[id]/2 {
					occluded = true
				}
			}
		}
		first, last := v.Keypoints[0][0], v.Keypoints[len(v.Keypoints)-1][0]
		if math.Hypot(first.X-last.X, first.Y-last.Y) < 1 {
			t.Fatalf("video %d: object 1 did not move (%+v -> %+v)", i, first, last)
		}
		if len(objectIDsOf(v.Masks[0])) == 0 {
			t.Fatalf("video %d: the first frame shows no object", i)
		}
	}
	if !occluded {
		t.Fatal("no object was ever occluded or half hidden in six videos")
	}
}

// objectIDsOf lists the non-zero ids of a mask.
func objectIDsOf(m []uint8) []uint8 {
	var seen [256]bool
	var out []uint8
	for _, v := range m {
		if v != 0 && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// A clip is its video's frames, Step apart, stacked along the channels.
func TestSyntheticVideoClips(t *testing.T) {
	cfg := smallVideoConfig()
	ds, err := SyntheticVideoClips(cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	span := (cfg.Clip - 1) * cfg.Step
	if want := cfg.Videos * (cfg.Frames - span); ds.Len() != want {
		t.Fatalf("%d clips, want %d", ds.Len(), want)
	}
	if c, h, w := ds.Shape(); c != 3*cfg.Clip || h != cfg.Size || w != cfg.Size {
		t.Fatalf("shape %d %d %d", c, h, w)
	}
	test, _ := SyntheticVideoClips(cfg, "test")
	if want := (cfg.Videos / 5) * (cfg.Frames - span); test.Len() != want {
		t.Fatalf("test split: %d clips, want %d", test.Len(), want)
	}
	// clip 1*(F-span)+2 is video 1, first frame 2
	img, err := ds.Image(cfg.Frames-span+2, Image{})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := SyntheticVideo(cfg, "train", 1)
	plane := 3 * cfg.Size * cfg.Size
	for k := range cfg.Clip {
		if !same(img.Pix[k*plane:(k+1)*plane], v.Frames[2+k*cfg.Step].Pix) {
			t.Fatalf("clip frame %d is not video frame %d", k, 2+k*cfg.Step)
		}
	}
	if _, err := ds.Image(ds.Len(), Image{}); err == nil {
		t.Fatal("clip index past the end accepted")
	}
}

func TestVideoSpecs(t *testing.T) {
	cases := []struct {
		spec string
		want string // error substring, "" for success
	}{
		{"synthetic-video", ""},
		{"synthetic-video:videos=20,frames=10,size=32,objects=2,clip=2,step=3", ""},
		{"synthetic-video:videos=0", "videos=0 must lie in"},
		{"synthetic-video:size=8", "size=8 must lie in"},
		{"synthetic-video:clip=5,step=6,frames=24", "spans 25 frames, more than the 24"},
		{"synthetic-video:colour=3", `option "colour=3" is not KEY=N`},
		{"synthetic-video:videos=x", `videos="x" is not a whole number`},
		{"frames:/data/videos", ""},
		{"frames:/data/videos#clip=2,step=3", ""},
		{"frames:", "frames needs a folder"},
		{"frames:/d#clip=0", "clip=0 and step=1 must be at least 1"},
		{"frames:/d#size=3", `option "size=3" is not KEY=N`},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			s, err := ParseSpec(c.spec)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.String() != c.spec {
					t.Fatalf("round trip %q -> %q", c.spec, s.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "synthetic-video[") {
				t.Fatalf("error %v, want it to contain %q and list the spec forms", err, c.want)
			}
		})
	}
}

// writeFrames writes n frames of w x h (testRGB shifted per frame) as PNGs
// into dir and returns their paths.
func writeFrames(t *testing.T, dir string, n, w, h int) []string {
	t.Helper()
	var paths []string
	for i := range n {
		m := testRGB(w, h)
		m.SetNRGBA(0, 0, color.NRGBA{uint8(40 * i), 0, 0, 255}) // tells the frames apart
		paths = append(paths, writeFile(t, dir, "f"+string(rune('a'+i))+".png", encodePNG(t, m)))
	}
	return paths
}

func TestFrameFoldersReadInNameOrder(t *testing.T) {
	root := t.TempDir()
	writeFrames(t, filepath.Join(root, "vid1"), 5, 8, 6)
	writeFrames(t, filepath.Join(root, "vid2"), 3, 8, 6)
	v, err := ReadVideo(filepath.Join(root, "vid1"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "vid1" || len(v.Frames) != 5 || v.FrameNames[0] != "fa" || v.FrameNames[4] != "fe" {
		t.Fatalf("video %s with frames %v", v.Name, v.FrameNames)
	}
	if h, w := v.Size(); h != 6 || w != 8 {
		t.Fatalf("size %dx%d", w, h)
	}
	if got := v.Frames[3].Pix[0]; got != byteToUnit[120] {
		t.Fatalf("frame 3 pixel (0, 0) red %v, want %v (frames out of order?)", got, byteToUnit[120])
	}
	paths, err := ListVideos(root)
	if err != nil || len(paths) != 2 || filepath.Base(paths[1]) != "vid2" {
		t.Fatalf("ListVideos: %v, %v", paths, err)
	}
	if one, _ := ListVideos(filepath.Join(root, "vid2")); len(one) != 1 || one[0] != filepath.Join(root, "vid2") {
		t.Fatalf("a frame folder is one video: %v", one)
	}
	ds, err := Open("frames:"+root+"#clip=2,step=2", OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 3+1 { // vid1: windows starting at 0, 1, 2; vid2: at 0
		t.Fatalf("%d clips, want 4", ds.Len())
	}
	if c, h, w := ds.Shape(); c != 6 || h != 6 || w != 8 {
		t.Fatalf("clip shape %d %d %d", c, h, w)
	}
	clip, err := ds.Image(1, Image{}) // vid1 frames 1 and 3
	if err != nil {
		t.Fatal(err)
	}
	if clip.Pix[0] != byteToUnit[40] || clip.Pix[3*48] != byteToUnit[120] {
		t.Fatalf("clip 1 reads frames with red %v and %v, want frames 1 and 3", clip.Pix[0], clip.Pix[3*48])
	}
	if _, err := Open("frames:"+root, OpenOptions{Split: "test"}); err == nil || !strings.Contains(err.Error(), "no test split") {
		t.Fatalf("test split of a folder without splits: %v", err)
	}
}

func TestVideoReadErrorsNameTheFile(t *testing.T) {
	root := t.TempDir()
	// frames of two sizes
	mixed := filepath.Join(root, "mixed")
	writeFrames(t, mixed, 2, 8, 6)
	writeFile(t, mixed, "fc.png", encodePNG(t, testRGB(9, 6)))
	// an empty video folder next to a good one
	coll := filepath.Join(root, "coll")
	writeFrames(t, filepath.Join(coll, "good"), 2, 8, 6)
	if err := os.MkdirAll(filepath.Join(coll, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	notVideo := writeFile(t, root, "notes.txt", []byte("hi"))
	cases := []struct {
		name string
		read func() error
		want []string // substrings of the error
	}{
		{"sizes differ", func() error { _, err := ReadVideo(mixed); return err },
			[]string{filepath.Join(mixed, "fc.png"), "9x6", "fa.png", "8x6", "one size"}},
		{"sizes differ in a clip dataset", func() error { _, err := Open("frames:"+root+"/mixed", OpenOptions{}); return err },
			[]string{filepath.Join(mixed, "fc.png"), "9x6"}},
		{"empty folder", func() error { _, err := ReadVideo(filepath.Join(coll, "empty")); return err },
			[]string{filepath.Join(coll, "empty"), "empty video"}},
		{"empty folder in a collection", func() error { _, err := Open("frames:"+coll, OpenOptions{}); return err },
			[]string{filepath.Join(coll, "empty"), "empty video"}},
		{"missing", func() error { _, err := ReadVideo(filepath.Join(root, "nope")); return err },
			[]string{filepath.Join(root, "nope"), "no such file"}},
		{"not a video", func() error { _, err := ReadVideo(notVideo); return err },
			[]string{notVideo, "neither a folder of frames nor an animated GIF"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.read()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestGroundTruthReadAndErrors(t *testing.T) {
	cfg := smallVideoConfig()
	v, _ := SyntheticVideo(cfg, "test", 0)
	dir := t.TempDir()
	frames, masks := filepath.Join(dir, "frames"), filepath.Join(dir, "masks")
	if err := WriteFrames(frames, v); err != nil {
		t.Fatal(err)
	}
	if err := WriteGroundTruth(masks, v); err != nil {
		t.Fatal(err)
	}
	got, err := ReadVideo(frames)
	if err != nil {
		t.Fatal(err)
	}
	n, err := ReadGroundTruth(masks, &got)
	if err != nil || n != cfg.Frames {
		t.Fatalf("%d masks read, %v", n, err)
	}
	for f := range v.Frames {
		if !bytes.Equal(got.Masks[f], v.Masks[f]) {
			t.Fatalf("frame %d: mask changed in the round trip", f)
		}
		for i, p := range v.Frames[f].Pix {
			if math.Abs(float64(got.Frames[f].Pix[i]-p)) > 0.5/255+1e-6 {
				t.Fatalf("frame %d pixel %d: %v written, %v read", f, i, p, got.Frames[f].Pix[i])
			}
		}
		for k, kp := range v.Keypoints[f] {
			if got.Keypoints[f][k] != kp {
				t.Fatalf("frame %d keypoint %d: %+v written, %+v read", f, k, kp, got.Keypoints[f][k])
			}
		}
	}
	// a mask of the wrong size
	bad := filepath.Join(dir, "bad")
	writeFile(t, bad, "00000.png", encodePNG(t, image.NewGray(image.Rect(0, 0, 31, 32))))
	_, err = ReadGroundTruth(bad, &got)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(bad, "00000.png")) || !strings.Contains(err.Error(), "31x32") {
		t.Fatalf("mask size mismatch: %v", err)
	}
	// no mask matches a frame
	none := filepath.Join(dir, "none")
	writeFile(t, none, "frame-a.png", encodePNG(t, image.NewGray(image.Rect(0, 0, 32, 32))))
	_, err = ReadGroundTruth(none, &got)
	if err == nil || !strings.Contains(err.Error(), "no mask matches") || !strings.Contains(err.Error(), "00000.png") {
		t.Fatalf("unmatched masks: %v", err)
	}
}

func TestDecodeMaskFormats(t *testing.T) {
	pal := MaskPalette()
	if pal[1] != (color.NRGBA{128, 0, 0, 255}) || pal[2] != (color.NRGBA{0, 128, 0, 255}) || pal[3] != (color.NRGBA{128, 128, 0, 255}) || pal[8] != (color.NRGBA{64, 0, 0, 255}) {
		t.Fatalf("palette starts %v, not the DAVIS one", pal[:9])
	}
	ids := []uint8{0, 1, 2, 3, 2, 1}
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	copy(gray.Pix, ids)
	rgb := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	for i, id := range ids {
		rgb.SetNRGBA(i%3, i/3, pal[id].(color.NRGBA))
	}
	odd := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	odd.SetNRGBA(1, 1, color.NRGBA{1, 2, 3, 255})
	cases := []struct {
		name string
		img  image.Image
		want string // error substring
	}{
		{"indexed", MaskImage(ids, 2, 3), ""},
		{"grey", gray, ""},
		{"palette colours", rgb, ""},
		{"other colours", odd, "colour (1, 2, 3) at (1, 1) is no object id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, h, w, err := DecodeMask(bytes.NewReader(encodePNG(t, c.img)))
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want %q", err, c.want)
				}
				return
			}
			if err != nil || h != 2 || w != 3 || !bytes.Equal(got, ids) {
				t.Fatalf("ids %v (%dx%d), %v; want %v", got, w, h, err, ids)
			}
		})
	}
}

// An animated GIF is composited as a browser shows it: a frame with
// transparent pixels lets the previous picture through, and
// DisposalPrevious restores what was there before the frame.
func TestDecodeGIFComposites(t *testing.T) {
	pal := color.Palette{color.NRGBA{0, 0, 0, 0}, color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 255}}
	full := image.NewPaletted(image.Rect(0, 0, 4, 2), pal)
	for i := range full.Pix {
		full.Pix[i] = 1 // red everywhere
	}
	patch := image.NewPaletted(image.Rect(1, 0, 3, 1), pal)
	patch.Pix[0], patch.Pix[1] = 2, 0 // blue at (1, 0), transparent at (2, 0)
	last := image.NewPaletted(image.Rect(0, 1, 1, 2), pal)
	last.Pix[0] = 2 // blue at (0, 1)
	g := &gif.GIF{Image: []*image.Paletted{full, patch, last}, Delay: []int{0, 0, 0},
		Disposal: []byte{gif.DisposalNone, gif.DisposalPrevious, gif.DisposalNone},
		Config:   image.Config{Width: 4, Height: 2, ColorModel: pal}}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	frames, err := DecodeGIF(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 3 {
		t.Fatalf("%d frames, want 3", len(frames))
	}
	red, blue := [3]float32{1, 0, 0}, [3]float32{0, 0, 1}
	at := func(f, x, y int) [3]float32 {
		p := frames[f].Pix
		i := y*4 + x
		return [3]float32{p[i], p[8+i], p[16+i]}
	}
	checks := []struct {
		f, x, y int
		want    [3]float32
	}{
		{0, 1, 0, red},
		{1, 1, 0, blue}, // the patch
		{1, 2, 0, red},  // its transparent pixel
		{2, 1, 0, red},  // restored after frame 1 (DisposalPrevious)
		{2, 0, 1, blue},
	}
	for _, c := range checks {
		if got := at(c.f, c.x, c.y); got != c.want {
			t.Errorf("frame %d pixel (%d, %d) = %v, want %v", c.f, c.x, c.y, got, c.want)
		}
	}
	gifPath := writeFile(t, t.TempDir(), "anim.gif", raw)
	v, err := ReadVideo(gifPath)
	if err != nil || v.Name != "anim" || len(v.Frames) != 3 || v.FrameNames[2] != "00002" {
		t.Fatalf("ReadVideo of a GIF: %s %v, %v", v.Name, v.FrameNames, err)
	}
	if _, err := DecodeGIF(strings.NewReader("GIF89a")); err == nil {
		t.Fatal("a truncated GIF decoded")
	}
	var ve *VideoError
	if _, err := ReadVideo(writeFile(t, t.TempDir(), "bad.gif", []byte("GIF89a"))); !errors.As(err, &ve) || !strings.HasSuffix(ve.Path, "bad.gif") {
		t.Fatalf("a broken GIF file: %v", err)
	}
}
