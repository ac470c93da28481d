package track

import (
	"image"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"selfsup/data"
)

// movingSquares is a video of a red and a blue square gliding right over a
// grey background, with the true masks and the squares' centres.
func movingSquares(frames, step int) *data.Video {
	const h, w = 32, 48
	v := &data.Video{Name: "squares"}
	for t := range frames {
		img := data.NewImage(3, h, w)
		mask := make([]uint8, h*w)
		for i := range h * w {
			img.Pix[i], img.Pix[h*w+i], img.Pix[2*h*w+i] = 0.5, 0.5, 0.5
		}
		var kps []data.Keypoint
		for k, sq := range [2]struct{ x, y int }{{4, 4}, {4, 18}} {
			x0 := sq.x + t*step*(k+1)
			for y := sq.y; y < sq.y+10; y++ {
				for x := x0; x < x0+10 && x < w; x++ {
					i := y*w + x
					mask[i] = uint8(k + 1)
					img.Pix[i], img.Pix[h*w+i], img.Pix[2*h*w+i] = float32(1-k), 0, float32(k)
				}
			}
			kps = append(kps, data.Keypoint{ID: k + 1, X: float64(x0) + 5, Y: float64(sq.y) + 5, Visible: x0+5 < w})
		}
		v.Frames = append(v.Frames, img)
		v.Masks = append(v.Masks, mask)
		v.Keypoints = append(v.Keypoints, kps)
		v.FrameNames = append(v.FrameNames, string(rune('a'+t)))
	}
	return v
}

func TestTrackFollowsMovingSquares(t *testing.T) {
	v := movingSquares(6, 2)
	copied, err := Track(v, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tracked, err := Track(v, Pixels{Stride: 2}, DefaultOptions(1e-3))
	if err != nil {
		t.Fatal(err)
	}
	jc, _, jfc, n := Mean(copied.Objects)
	jp, fp, jfp, _ := Mean(tracked.Objects)
	if n != 2 || len(tracked.Masks) != 6 || len(tracked.Keypoints) != 6 {
		t.Fatalf("%d objects scored, %d masks, %d keypoint frames", n, len(tracked.Masks), len(tracked.Keypoints))
	}
	if !(jp > 0.9 && fp > 0.9 && jfp > jfc+0.3) || jc > 0.6 {
		t.Fatalf("colour attention J %.3f F %.3f J&F %.3f, copying the first mask J %.3f J&F %.3f", jp, fp, jfp, jc, jfc)
	}
	if !(tracked.PCK > 0.9) || !(copied.PCK < 0.5) || tracked.PCKPoints != copied.PCKPoints || tracked.PCKPoints == 0 {
		t.Fatalf("PCK tracked %v, copied %v over %d points", tracked.PCK, copied.PCK, tracked.PCKPoints)
	}
	for i, id := range v.Masks[0] {
		if tracked.Masks[0][i] != id {
			t.Fatal("the first frame's mask is not the given one")
		}
	}
}

func TestTrackErrors(t *testing.T) {
	v := movingSquares(3, 1)
	noMask := *v
	noMask.Masks = [][]uint8{nil, v.Masks[1], nil}
	empty := *v
	empty.Masks = [][]uint8{make([]uint8, len(v.Masks[0])), nil, nil}
	cases := []struct {
		name string
		v    *data.Video
		emb  Embedder
		want string
	}{
		{"no first mask", &noMask, nil, "no mask for its first frame a"},
		{"no object", &empty, nil, "holds no object"},
		{"stride", v, Pixels{Stride: 5}, "pixel stride 5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Track(c.v, c.emb, DefaultOptions(1)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestOverlayAndGIF(t *testing.T) {
	v := movingSquares(2, 1)
	ov := Overlay(v.Frames[0], v.Masks[0], v.Keypoints[0], 3)
	if ov.Bounds() != image.Rect(0, 0, 48*3, 32*3) {
		t.Fatalf("overlay bounds %v", ov.Bounds())
	}
	// background untouched, an object's inside tinted, its boundary in the
	// palette colour
	if c := ov.NRGBAAt(3*40, 3*2); c.R != 128 || c.G != 128 || c.B != 128 {
		t.Fatalf("background pixel %v", c)
	}
	if c := ov.NRGBAAt(3*4, 3*4); c.R != 128 || c.G != 0 || c.B != 0 {
		t.Fatalf("object 1's corner %v, want the palette's (128, 0, 0)", c)
	}
	if c := ov.NRGBAAt(3*7+1, 3*7+1); c.R != 192 || c.G != 0 || c.B != 0 {
		t.Fatalf("object 1's inside %v, want red half-tinted with (128, 0, 0)", c)
	}
	path := filepath.Join(t.TempDir(), "v.gif")
	if err := WriteGIF(path, []*image.NRGBA{ov, Overlay(v.Frames[1], v.Masks[1], nil, 3)}, 10); err != nil {
		t.Fatal(err)
	}
	back, err := data.ReadVideo(path)
	if err != nil || len(back.Frames) != 2 || back.Frames[0].W != 144 {
		t.Fatalf("the GIF reads back as %d frames, %v", len(back.Frames), err)
	}
	if got := back.Frames[0].Pix[0]; math.Abs(float64(got)-0.5) > 0.1 {
		t.Fatalf("GIF pixel (0, 0) red %v, want about 0.5", got)
	}
}
