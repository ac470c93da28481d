package data

import (
	"fmt"
	"math"
)

// Synthetic videos: coloured, textured shapes moving over a textured
// background, with the instance masks and keypoints (object centres) of
// every frame, so that tracking can be trained and scored without any
// download. A video is a pure function of its split and index.
//
// What makes them a test of tracking rather than of colour matching:
//   - colour does not identify an object: the background is a patchwork of
//     soft blobs drawn from the same few-colour palette as the objects, and
//     two objects may share a colour;
//   - objects carry grey-level textures (stripes, checks, dots, rings) and
//     have distinct outlines, so that the lightness alone can tell them
//     apart and from the background;
//   - objects move with changing speed and direction, rotate, bounce off the
//     borders and pass in front of each other (a fixed depth order), so
//     that they occlude one another;
//   - the background pans slowly (camera motion) and the illumination
//     drifts (global gain and white balance), so raw colours change over
//     time.

// SyntheticVideoConfig sizes the synthetic videos.
type SyntheticVideoConfig struct {
	// Videos is the train split's size; the test split has a fifth as many
	// (at least one), drawn from a different stream.
	Videos int
	// Frames per video, Size the frame side in pixels, Objects the moving
	// shapes per video.
	Frames, Size, Objects int
	// Clip and Step shape the training images of the clip dataset: Clip
	// frames Step frames apart, stacked along the channels (see
	// VideoClips).
	Clip, Step int
}

// DefaultSyntheticVideoConfig returns the sizes that spec
// "synthetic-video" means: 400 train videos of 24 frames of 64x64 pixels with
// 3 objects, clips of 4 frames 2 apart.
func DefaultSyntheticVideoConfig() SyntheticVideoConfig {
	return SyntheticVideoConfig{Videos: 400, Frames: 24, Size: 64, Objects: 3, Clip: 4, Step: 2}
}

// Limits of the synthetic video sizes.
const (
	maxSynthVideos  = 10_000_000
	maxSynthFrames  = 10_000
	maxSynthSize    = 1024
	maxSynthObjects = 12
)

// check validates the sizes.
func (c SyntheticVideoConfig) check() error {
	switch {
	case c.Videos < 1 || c.Videos > maxSynthVideos:
		return fmt.Errorf("synthetic-video: videos=%d must lie in [1, %d]", c.Videos, maxSynthVideos)
	case c.Frames < 1 || c.Frames > maxSynthFrames:
		return fmt.Errorf("synthetic-video: frames=%d must lie in [1, %d]", c.Frames, maxSynthFrames)
	case c.Size < 16 || c.Size > maxSynthSize:
		return fmt.Errorf("synthetic-video: size=%d must lie in [16, %d]", c.Size, maxSynthSize)
	case c.Objects < 1 || c.Objects > maxSynthObjects:
		return fmt.Errorf("synthetic-video: objects=%d must lie in [1, %d]", c.Objects, maxSynthObjects)
	case c.Clip < 1:
		return fmt.Errorf("synthetic-video: clip=%d must be at least 1", c.Clip)
	case c.Step < 1:
		return fmt.Errorf("synthetic-video: step=%d must be at least 1", c.Step)
	case (c.Clip-1)*c.Step >= c.Frames:
		return fmt.Errorf("synthetic-video: a clip of %d frames %d apart spans %d frames, more than the %d of a video", c.Clip, c.Step, (c.Clip-1)*c.Step+1, c.Frames)
	}
	return nil
}

// synthSalt returns the random stream of a split.
func synthSalt(split string) (uint64, string, error) {
	switch split {
	case "", "train":
		return 0x76747261696e, "train", nil
	case "test":
		return 0x7674657374, "test", nil
	}
	return 0, "", fmt.Errorf("synthetic-video: unknown split %q (valid: train, test)", split)
}

// splitVideos is the number of videos of a split.
func (c SyntheticVideoConfig) splitVideos(split string) int {
	if split == "test" {
		return max(1, c.Videos/5)
	}
	return c.Videos
}

// SyntheticVideo renders video i of a split ("train" or "test") with its
// masks (object k has id k+1, drawn over objects with smaller ids) and
// keypoints (the object centres, ID k+1). The frames are named "00000",
// "00001", ...; the video is named after its split and index.
func SyntheticVideo(cfg SyntheticVideoConfig, split string, i int) (Video, error) {
	if err := cfg.check(); err != nil {
		return Video{}, err
	}
	salt, split, err := synthSalt(split)
	if err != nil {
		return Video{}, err
	}
	if n := cfg.splitVideos(split); i < 0 || i >= n {
		return Video{}, fmt.Errorf("synthetic-video/%s: video %d out of range [0, %d)", split, i, n)
	}
	sc := newSynthScene(cfg, salt, i)
	v := Video{Name: fmt.Sprintf("%s%05d", split, i)}
	for t := range cfg.Frames {
		img := NewImage(3, cfg.Size, cfg.Size)
		mask := make([]uint8, cfg.Size*cfg.Size)
		sc.render(t, img.Pix, mask)
		v.Frames = append(v.Frames, img)
		v.Masks = append(v.Masks, mask)
		v.Keypoints = append(v.Keypoints, sc.keypoints(t))
		v.FrameNames = append(v.FrameNames, fmt.Sprintf("%05d", t))
	}
	return v, nil
}

// synthObject is one moving shape.
type synthObject struct {
	class   int     // index into ShapeClasses (see shapeSDF)
	scale   float64 // half-size in pixels
	col     rgb
	texture int     // 0 stripes, 1 checks, 2 dots, 3 rings
	freq    float64 // texture frequency in the unit frame
	phase   float64
	amp     float64 // texture contrast (value multiplier spread)
	shadeX  float64 // shading ramp in the unit frame
	shadeY  float64
	// position and rotation per frame
	x, y, rot []float64
}

// synthBlob is one soft coloured patch of the background.
type synthBlob struct {
	x, y, r float64
	col     rgb
}

// synthScene holds everything about one video that does not change per
// pixel, drawn from the video's random stream in a fixed order.
type synthScene struct {
	size, frames int
	// background canvas, larger than a frame by the pan margin, 3 planes
	bg         []float32
	bgW, bgH   int
	panX, panY float64 // pan velocity in pixels per frame (offsets start at 0)
	objs       []synthObject
	// illumination per frame: gain and per-channel offset
	gain  []float64
	shift [][3]float64
	noise float64
	seed  uint64
}

// newSynthScene draws video i of the split whose stream is salt.
func newSynthScene(cfg SyntheticVideoConfig, salt uint64, i int) *synthScene {
	r := splitMix{state: mix64(salt ^ mix64(uint64(i)+0x9e3779b97f4a7c15))}
	n := float64(cfg.Size)
	sc := &synthScene{size: cfg.Size, frames: cfg.Frames}

	// palette: 4 hues spread around the circle, shared by objects and
	// background blobs, with varied saturation and value
	h0 := r.float()
	var palette [4]rgb
	for k := range palette {
		h := h0 + float64(k)/4 + 0.06*(r.float()-0.5)
		palette[k] = hsv(h, r.between(0.55, 0.95), r.between(0.45, 0.95))
	}

	// pan: up to 0.35 pixels per frame in a random direction
	pa, ps := r.between(0, 2*math.Pi), r.between(0, 0.35)
	sc.panX, sc.panY = ps*math.Cos(pa), ps*math.Sin(pa)
	margin := int(math.Ceil(ps*float64(cfg.Frames))) + 2
	sc.bgW, sc.bgH = cfg.Size+2*margin, cfg.Size+2*margin
	sc.renderBackground(&r, palette, margin)

	for range cfg.Objects {
		o := synthObject{class: int(r.next() % uint64(len(ShapeClasses)))}
		o.scale = r.between(0.13, 0.19) * n
		o.col = palette[r.next()%uint64(len(palette))]
		o.texture = int(r.next() % 4)
		o.freq = r.between(2.5, 5)
		o.phase = r.between(0, 2*math.Pi)
		o.amp = r.between(0.18, 0.32)
		sa := r.between(0, 2*math.Pi)
		o.shadeX, o.shadeY = 0.15*math.Cos(sa), 0.15*math.Sin(sa)
		// motion: a start inside the frame, a velocity that changes now and
		// then (new direction within 70 degrees, new speed), a bounce off
		// the borders, a steady spin
		m := o.scale
		x, y := r.between(m, n-m), r.between(m, n-m)
		va, vs := r.between(0, 2*math.Pi), r.between(0.6, 1.8)
		rot, spin := r.between(0, 2*math.Pi), r.between(-0.06, 0.06)
		for range cfg.Frames {
			o.x, o.y, o.rot = append(o.x, x), append(o.y, y), append(o.rot, rot)
			if r.float() < 0.15 {
				va += r.between(-1.2, 1.2)
				vs = min(2.6, max(0.3, vs*r.between(0.5, 1.8)))
			}
			x += vs * math.Cos(va)
			y += vs * math.Sin(va)
			if x < m || x > n-m {
				va = math.Pi - va
				x = min(n-m, max(m, x))
			}
			if y < m || y > n-m {
				va = -va
				y = min(n-m, max(m, y))
			}
			rot += spin
		}
		sc.objs = append(sc.objs, o)
	}

	// illumination: a slow sinusoidal gain and a drifting white balance
	ga, gp, gf := r.between(0, 0.12), r.between(0, 2*math.Pi), r.between(0.05, 0.2)
	var drift [3]float64
	for ch := range drift {
		drift[ch] = r.between(-0.004, 0.004)
	}
	for t := range cfg.Frames {
		sc.gain = append(sc.gain, 1+ga*math.Sin(gf*float64(t)+gp))
		var s [3]float64
		for ch := range s {
			s[ch] = drift[ch] * float64(t)
		}
		sc.shift = append(sc.shift, s)
	}
	sc.noise = r.between(0.005, 0.025)
	sc.seed = r.next()
	return sc
}

// renderBackground paints the background canvas: a two-colour gradient,
// soft blobs in the palette's colours, and a grey-level texture of two
// crossed sinusoidal gratings.
func (sc *synthScene) renderBackground(r *splitMix, palette [4]rgb, margin int) {
	w, h := sc.bgW, sc.bgH
	plane := w * h
	sc.bg = make([]float32, 3*plane)
	bh := r.float()
	c1 := hsv(bh, r.between(0.1, 0.5), r.between(0.3, 0.8))
	c2 := hsv(bh+r.between(-0.15, 0.15), r.between(0.1, 0.5), r.between(0.3, 0.8))
	ga := r.between(0, 2*math.Pi)
	gx, gy := math.Cos(ga)/float64(w), math.Sin(ga)/float64(h)
	blobs := make([]synthBlob, 6+int(r.next()%5))
	for k := range blobs {
		blobs[k] = synthBlob{x: r.between(0, float64(w)), y: r.between(0, float64(h)),
			r: r.between(0.08, 0.18) * float64(sc.size), col: palette[r.next()%uint64(len(palette))]}
	}
	var grat [2][4]float64 // fx, fy, phase, amplitude
	for k := range grat {
		a, f := r.between(0, math.Pi), r.between(0.25, 0.9)
		grat[k] = [4]float64{f * math.Cos(a), f * math.Sin(a), r.between(0, 2*math.Pi), r.between(0.04, 0.1)}
	}
	for y := range h {
		for x := range w {
			px, py := float64(x)+0.5, float64(y)+0.5
			t := min(1, max(0, 0.5+(px-float64(w)/2)*gx+(py-float64(h)/2)*gy))
			var col rgb
			for ch := range 3 {
				col[ch] = c1[ch] + t*(c2[ch]-c1[ch])
			}
			for _, b := range blobs {
				dx, dy := px-b.x, py-b.y
				d2 := (dx*dx + dy*dy) / (b.r * b.r)
				if d2 > 4 {
					continue
				}
				// a soft disc: flat inside, a smooth edge about a third of
				// the radius wide
				a := 1 / (1 + math.Exp(6*(math.Sqrt(d2)-1)))
				for ch := range 3 {
					col[ch] += a * (b.col[ch] - col[ch])
				}
			}
			tex := 1.0
			for _, g := range grat {
				tex += g[3] * math.Sin(px*g[0]+py*g[1]+g[2])
			}
			o := y*w + x
			for ch := range 3 {
				sc.bg[ch*plane+o] = float32(col[ch] * tex)
			}
		}
	}
}

// background samples the panned background at frame pixel (x, y) of frame
// t (bilinear).
func (sc *synthScene) background(t int, px, py float64, out *rgb) {
	margin := float64(sc.bgW-sc.size) / 2
	fx := px + margin + sc.panX*float64(t) - 0.5
	fy := py + margin + sc.panY*float64(t) - 0.5
	x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
	ax, ay := float32(fx-float64(x0)), float32(fy-float64(y0))
	x0, y0 = min(sc.bgW-2, max(0, x0)), min(sc.bgH-2, max(0, y0))
	plane := sc.bgW * sc.bgH
	i := y0*sc.bgW + x0
	for ch := range 3 {
		p := sc.bg[ch*plane:]
		top := p[i] + ax*(p[i+1]-p[i])
		bot := p[i+sc.bgW] + ax*(p[i+sc.bgW+1]-p[i+sc.bgW])
		out[ch] = float64(top + ay*(bot-top))
	}
}

// textureAt is an object's grey-level texture at unit-frame point (u, v):
// a value multiplier around 1.
func (o *synthObject) textureAt(u, v float64) float64 {
	var s float64
	switch o.texture {
	case 0: // stripes
		s = math.Sin(o.freq*u*math.Pi + o.phase)
	case 1: // checks
		s = math.Sin(o.freq*u*math.Pi+o.phase) * math.Sin(o.freq*v*math.Pi+o.phase)
		s = math.Copysign(math.Min(1, 3*math.Abs(s)), s)
	case 2: // dots
		s = math.Cos(o.freq*u*math.Pi+o.phase)*math.Cos(o.freq*v*math.Pi) - 0.3
	default: // rings
		s = math.Sin(o.freq*math.Hypot(u, v)*math.Pi + o.phase)
	}
	return 1 + o.amp*s
}

// render draws frame t into pix (3 planes of size^2 values) and its object
// ids into mask (size^2 values; nil to skip).
func (sc *synthScene) render(t int, pix []float32, mask []uint8) {
	n := sc.size
	plane := n * n
	r := splitMix{state: mix64(sc.seed ^ mix64(uint64(t)+1))}
	gain, shift := sc.gain[t], sc.shift[t]
	var rot [maxSynthObjects][2]float64
	for k := range sc.objs {
		rot[k] = [2]float64{math.Cos(sc.objs[k].rot[t]), math.Sin(sc.objs[k].rot[t])}
	}
	var col rgb
	for y := range n {
		for x := range n {
			px, py := float64(x)+0.5, float64(y)+0.5
			sc.background(t, px, py, &col)
			id := uint8(0)
			for k := range sc.objs {
				o := &sc.objs[k]
				dx, dy := px-o.x[t], py-o.y[t]
				if dx*dx+dy*dy > 2*o.scale*o.scale {
					continue
				}
				cs, sn := rot[k][0], rot[k][1]
				u, v := (cs*dx+sn*dy)/o.scale, (-sn*dx+cs*dy)/o.scale
				cover := min(1, max(0, 0.5-shapeSDF(o.class, u, v)*o.scale))
				if cover == 0 {
					continue
				}
				f := o.textureAt(u, v) * (1 + u*o.shadeX + v*o.shadeY)
				for ch := range 3 {
					col[ch] += cover * (o.col[ch]*f - col[ch])
				}
				if cover >= 0.5 {
					id = uint8(k + 1)
				}
			}
			i := y*n + x
			for ch := range 3 {
				val := col[ch]*gain + shift[ch] + sc.noise*(2*r.float()-1)
				pix[ch*plane+i] = float32(min(1, max(0, val)))
			}
			if mask != nil {
				mask[i] = id
			}
		}
	}
}

// keypoints returns the object centres at frame t; a centre is visible when
// it lies inside the frame and no object drawn above covers it.
func (sc *synthScene) keypoints(t int) []Keypoint {
	kps := make([]Keypoint, len(sc.objs))
	n := float64(sc.size)
	for k := range sc.objs {
		o := &sc.objs[k]
		vis := o.x[t] >= 0 && o.x[t] < n && o.y[t] >= 0 && o.y[t] < n
		for j := k + 1; j < len(sc.objs) && vis; j++ {
			a := &sc.objs[j]
			dx, dy := o.x[t]-a.x[t], o.y[t]-a.y[t]
			cs, sn := math.Cos(a.rot[t]), math.Sin(a.rot[t])
			u, v := (cs*dx+sn*dy)/a.scale, (-sn*dx+cs*dy)/a.scale
			if shapeSDF(a.class, u, v) < 0 {
				vis = false
			}
		}
		kps[k] = Keypoint{ID: k + 1, X: o.x[t], Y: o.y[t], Visible: vis}
	}
	return kps
}
