package track

import (
	"fmt"
	"math"

	"selfsup/data"
)

// PCKAlpha is the keypoint accuracy threshold as a fraction of the frame's
// larger side: a tracked keypoint is correct when it lies within
// PCKAlpha * max(H, W) pixels of the true one (PCK@0.1).
const PCKAlpha = 0.1

// Result is one video tracked.
type Result struct {
	// Masks are the predicted object ids of every frame (frame 0: the given
	// mask).
	Masks [][]uint8
	// Keypoints are the tracked keypoints of every frame: those visible in
	// the first frame, by ID (nil when the video has none).
	Keypoints [][]data.Keypoint
	// Objects are the J and F of each object of the first frame, over the
	// later frames with a true mask; nil when there are none.
	Objects []ObjectScore
	// PCK is the share of true visible keypoints after the first frame that
	// were tracked within PCKAlpha of the frame's larger side (NaN when
	// there are none); PCKPoints is their number.
	PCK       float64
	PCKPoints int
}

// Track propagates the first frame's mask (and visible keypoints) of v to
// every later frame through the attention on emb's embeddings (see
// Propagate), or copies them unchanged when emb is nil (the baseline that
// assumes nothing moves), and scores the result against v's later masks
// and keypoints where it has them. The first frame must have a mask with at
// least one object.
func Track(v *data.Video, emb Embedder, o Options) (Result, error) {
	if len(v.Frames) == 0 {
		return Result{}, fmt.Errorf("track: video %s has no frames", v.Name)
	}
	if len(v.Masks) == 0 || v.Masks[0] == nil {
		return Result{}, fmt.Errorf("track: video %s has no mask for its first frame %s", v.Name, v.FrameNames[0])
	}
	h, w := v.Size()
	ids := ObjectIDs(v.Masks[0])
	if len(ids) == 0 {
		return Result{}, fmt.Errorf("track: the first mask of video %s (frame %s) holds no object, only background", v.Name, v.FrameNames[0])
	}
	var kps0 []data.Keypoint
	if len(v.Keypoints) > 0 {
		for _, kp := range v.Keypoints[0] {
			if kp.Visible {
				kps0 = append(kps0, kp)
			}
		}
	}
	n := len(v.Frames)
	res := Result{Masks: make([][]uint8, n)}
	if len(kps0) > 0 {
		res.Keypoints = make([][]data.Keypoint, n)
	}
	if emb == nil {
		for t := range n {
			res.Masks[t] = v.Masks[0]
			if res.Keypoints != nil {
				res.Keypoints[t] = kps0
			}
		}
	} else if err := propagateVideo(v, emb, o, ids, kps0, &res); err != nil {
		return Result{}, err
	}
	res.Masks[0] = v.Masks[0]
	if res.Keypoints != nil {
		res.Keypoints[0] = kps0
	}
	scored := false
	for t := 1; t < len(v.Masks); t++ {
		scored = scored || v.Masks[t] != nil
	}
	if scored {
		var err error
		if res.Objects, err = Evaluate(res.Masks, v.Masks, h, w); err != nil {
			return Result{}, err
		}
	}
	res.PCK, res.PCKPoints = pck(v, res.Keypoints, h, w)
	return res, nil
}

// propagateVideo runs Propagate on the mask channels and keypoint bumps
// together and reads the masks and keypoints back.
func propagateVideo(v *data.Video, emb Embedder, o Options, ids []uint8, kps0 []data.Keypoint, res *Result) error {
	h, w := v.Size()
	e, err := emb.Embed(v.Frames)
	if err != nil {
		return err
	}
	km, kk := len(ids)+1, len(kps0)
	k := km + kk
	masks := MaskLabels(v.Masks[0], h, w, ids, e.H, e.W)
	bumps := KeypointLabels(kps0, h, w, e.H, e.W)
	cells := e.H * e.W
	labels0 := make([]float32, cells*k)
	for i := range cells {
		copy(labels0[i*k:], masks[i*km:(i+1)*km])
		copy(labels0[i*k+km:], bumps[i*kk:(i+1)*kk])
	}
	labels, err := Propagate(e, labels0, k, o)
	if err != nil {
		return err
	}
	mask := make([]float32, cells*km)
	for t, lab := range labels {
		for i := range cells {
			copy(mask[i*km:(i+1)*km], lab[i*k:i*k+km])
		}
		res.Masks[t] = LabelsToMask(mask, e.H, e.W, ids, h, w)
		if kk == 0 {
			continue
		}
		kps := make([]data.Keypoint, kk)
		for c, kp := range kps0 {
			x, y := LocateKeypoint(lab, e.H, e.W, k, km+c, h, w)
			kps[c] = data.Keypoint{ID: kp.ID, X: x, Y: y, Visible: true}
		}
		res.Keypoints[t] = kps
	}
	return nil
}

// pck scores tracked keypoints against the video's true visible ones after
// the first frame.
func pck(v *data.Video, tracked [][]data.Keypoint, h, w int) (float64, int) {
	if tracked == nil || len(v.Keypoints) == 0 {
		return math.NaN(), 0
	}
	thr := PCKAlpha * float64(max(h, w))
	hit, total := 0, 0
	for t := 1; t < len(v.Keypoints) && t < len(tracked); t++ {
		for _, g := range v.Keypoints[t] {
			if !g.Visible {
				continue
			}
			for _, p := range tracked[t] {
				if p.ID != g.ID {
					continue
				}
				total++
				if math.Hypot(p.X-g.X, p.Y-g.Y) <= thr {
					hit++
				}
			}
		}
	}
	if total == 0 {
		return math.NaN(), 0
	}
	return float64(hit) / float64(total), total
}
