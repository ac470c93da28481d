package track

import (
	"fmt"
	"math"
)

// The DAVIS measures (Perazzi et al. 2016; the davis2017-evaluation code):
// region similarity J, the intersection over union of a predicted and a
// true object mask, and contour accuracy F, the F-measure of the precision
// and recall of the predicted object boundary against the true one, a
// boundary pixel counting as matched when the other boundary passes within
// a small tolerance of it.

// BoundaryTolerance is DAVIS's contour tolerance as a fraction of the image
// diagonal: 0.008, which makes 1 pixel up to a 125-pixel diagonal.
const BoundaryTolerance = 0.008

// RegionJ is the intersection over union of the pixels where pred equals id
// and those where gt equals id; 1 when neither has any (DAVIS's
// convention: an absent object correctly predicted absent).
func RegionJ(pred, gt []uint8, id uint8) float64 {
	inter, union := 0, 0
	for i, g := range gt {
		a, b := pred[i] == id, g == id
		if a && b {
			inter++
		}
		if a || b {
			union++
		}
	}
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}

// boundaryMap marks the boundary pixels of a binary mask m (h x w, row by
// row) as DAVIS's seg2bmap does at equal sizes: a pixel is on the boundary
// when it differs from its right, lower or lower-right neighbour (outside
// the image counting as background), except that the last row compares with
// the right neighbour only, the last column with the lower one only, and the
// bottom-right pixel is never a boundary.
func boundaryMap(dst, m []bool, h, w int) {
	at := func(x, y int) bool { return x < w && y < h && m[y*w+x] }
	for y := range h {
		for x := range w {
			v := m[y*w+x]
			var b bool
			switch {
			case y == h-1 && x == w-1:
				b = false
			case y == h-1:
				b = v != at(x+1, y)
			case x == w-1:
				b = v != at(x, y+1)
			default:
				b = v != at(x+1, y) || v != at(x, y+1) || v != at(x+1, y+1)
			}
			dst[y*w+x] = b
		}
	}
}

// dilate marks in dst every pixel within Euclidean distance r of a marked
// pixel of src (a binary dilation with a disk, skimage's disk(r)).
func dilate(dst, src []bool, h, w, r int) {
	clear(dst)
	for y := range h {
		for x := range w {
			if !src[y*w+x] {
				continue
			}
			for dy := -r; dy <= r; dy++ {
				yy := y + dy
				if yy < 0 || yy >= h {
					continue
				}
				for dx := -r; dx <= r; dx++ {
					xx := x + dx
					if xx < 0 || xx >= w || dx*dx+dy*dy > r*r {
						continue
					}
					dst[yy*w+xx] = true
				}
			}
		}
	}
}

// tolerancePixels is the boundary tolerance in pixels for an h x w image:
// ceil(BoundaryTolerance * diagonal), as DAVIS computes it.
func tolerancePixels(h, w int) int {
	return int(math.Ceil(BoundaryTolerance * math.Hypot(float64(h), float64(w))))
}

// ContourF is DAVIS's contour accuracy of the object id: the F-measure of
// the boundary precision (the share of the predicted boundary within the
// tolerance of the true one) and recall (the share of the true boundary
// within the tolerance of the predicted one). An object absent from both
// masks scores 1; absent from exactly one, 0.
func ContourF(pred, gt []uint8, h, w int, id uint8) float64 {
	n := h * w
	buf := make([]bool, 6*n)
	pm, gm, pb, gb, pd, gd := buf[:n], buf[n:2*n], buf[2*n:3*n], buf[3*n:4*n], buf[4*n:5*n], buf[5*n:]
	for i := range n {
		pm[i], gm[i] = pred[i] == id, gt[i] == id
	}
	boundaryMap(pb, pm, h, w)
	boundaryMap(gb, gm, h, w)
	r := tolerancePixels(h, w)
	dilate(pd, pb, h, w, r)
	dilate(gd, gb, h, w, r)
	nPred, nGT, predMatch, gtMatch := 0, 0, 0, 0
	for i := range n {
		if pb[i] {
			nPred++
			if gd[i] {
				predMatch++
			}
		}
		if gb[i] {
			nGT++
			if pd[i] {
				gtMatch++
			}
		}
	}
	var precision, recall float64
	switch {
	case nPred == 0 && nGT == 0:
		return 1
	case nPred == 0:
		precision, recall = 1, 0
	case nGT == 0:
		precision, recall = 0, 1
	default:
		precision, recall = float64(predMatch)/float64(nPred), float64(gtMatch)/float64(nGT)
	}
	if precision+recall == 0 {
		return 0
	}
	return 2 * precision * recall / (precision + recall)
}

// ObjectScore is one object's J and F, each averaged over the scored
// frames.
type ObjectScore struct {
	ID     int     `json:"id"`
	J      float64 `json:"j"`
	F      float64 `json:"f"`
	Frames int     `json:"frames"`
}

// Evaluate scores predicted masks against the true ones, DAVIS style: for
// each object, J and F averaged over the frames after the first (which is
// given) that have a true mask; objects are the ids present in the first
// true mask. pred and gt hold one h x w id mask per frame (gt[t] nil for a
// frame without ground truth).
func Evaluate(pred, gt [][]uint8, h, w int) ([]ObjectScore, error) {
	if len(pred) != len(gt) {
		return nil, fmt.Errorf("track: %d predicted masks for %d frames", len(pred), len(gt))
	}
	if len(gt) == 0 || gt[0] == nil {
		return nil, fmt.Errorf("track: the first frame has no true mask, so no object is defined")
	}
	ids := ObjectIDs(gt[0])
	scores := make([]ObjectScore, len(ids))
	for k, id := range ids {
		scores[k].ID = int(id)
	}
	for t := 1; t < len(gt); t++ {
		if gt[t] == nil {
			continue
		}
		if len(gt[t]) != h*w || len(pred[t]) != h*w {
			return nil, fmt.Errorf("track: frame %d: masks of %d and %d values for %dx%d frames", t, len(pred[t]), len(gt[t]), w, h)
		}
		for k, id := range ids {
			scores[k].J += RegionJ(pred[t], gt[t], id)
			scores[k].F += ContourF(pred[t], gt[t], h, w, id)
			scores[k].Frames++
		}
	}
	for k := range scores {
		if n := scores[k].Frames; n > 0 {
			scores[k].J /= float64(n)
			scores[k].F /= float64(n)
		}
	}
	return scores, nil
}

// ObjectIDs returns the object ids (non-zero values) present in a mask,
// in increasing order.
func ObjectIDs(mask []uint8) []uint8 {
	var seen [256]bool
	for _, v := range mask {
		seen[v] = true
	}
	var ids []uint8
	for id := 1; id < 256; id++ {
		if seen[id] {
			ids = append(ids, uint8(id))
		}
	}
	return ids
}

// Mean returns the mean J, F and J&F ((J + F) / 2) over objects that were
// scored in at least one frame, pooled over videos as the DAVIS benchmark
// pools them; n is their number.
func Mean(objects []ObjectScore) (j, f, jf float64, n int) {
	for _, o := range objects {
		if o.Frames == 0 {
			continue
		}
		j += o.J
		f += o.F
		n++
	}
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN(), 0
	}
	j /= float64(n)
	f /= float64(n)
	return j, f, (j + f) / 2, n
}
