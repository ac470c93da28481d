package track

import (
	"math"

	"selfsup/data"
)

// Labels live on the feature map: a mask becomes one channel per object
// (channel 0 the background) holding the fraction of each cell's pixels
// that belong to it, and a keypoint becomes a small Gaussian bump. After
// propagation the channels are resampled to the frame and each pixel takes
// its most likely object.

// cellRange returns the pixels [lo, hi) of cell c of n cells over size
// pixels.
func cellRange(c, n, size int) (lo, hi int) { return c * size / n, (c + 1) * size / n }

// MaskLabels pools a mask (h x w object ids) to a gh x gw feature map: K =
// len(ids)+1 values per cell, value 0 the share of the cell's pixels that
// are background (or an id not listed), value k+1 the share that is
// ids[k].
func MaskLabels(mask []uint8, h, w int, ids []uint8, gh, gw int) []float32 {
	k := len(ids) + 1
	var channel [256]int
	for i, id := range ids {
		channel[id] = i + 1
	}
	out := make([]float32, gh*gw*k)
	for cy := range gh {
		y0, y1 := cellRange(cy, gh, h)
		for cx := range gw {
			x0, x1 := cellRange(cx, gw, w)
			row := out[(cy*gw+cx)*k : (cy*gw+cx+1)*k]
			n := float32((y1 - y0) * (x1 - x0))
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					row[channel[mask[y*w+x]]] += 1 / n
				}
			}
		}
	}
	return out
}

// mapCoord is the feature map coordinate of pixel centre p (half-pixel
// centres on both grids) along an axis of size pixels and n cells.
func mapCoord(p float64, size, n int) float64 { return p*float64(n)/float64(size) - 0.5 }

// LabelsToMask resamples soft labels (gh*gw cells of K values, K =
// len(ids)+1 with channel 0 the background) bilinearly to h x w pixels and
// gives each pixel the id of its largest channel (0 for the background).
func LabelsToMask(labels []float32, gh, gw int, ids []uint8, h, w int) []uint8 {
	k := len(ids) + 1
	mask := make([]uint8, h*w)
	vals := make([]float32, k)
	for y := range h {
		fy := min(float64(gh-1), max(0, mapCoord(float64(y)+0.5, h, gh)))
		y0 := min(int(fy), gh-1)
		y1 := min(y0+1, gh-1)
		ay := float32(fy - float64(y0))
		for x := range w {
			fx := min(float64(gw-1), max(0, mapCoord(float64(x)+0.5, w, gw)))
			x0 := min(int(fx), gw-1)
			x1 := min(x0+1, gw-1)
			ax := float32(fx - float64(x0))
			c00, c01 := labels[(y0*gw+x0)*k:], labels[(y0*gw+x1)*k:]
			c10, c11 := labels[(y1*gw+x0)*k:], labels[(y1*gw+x1)*k:]
			best := 0
			for c := range k {
				top := c00[c] + ax*(c01[c]-c00[c])
				bot := c10[c] + ax*(c11[c]-c10[c])
				vals[c] = top + ay*(bot-top)
				if vals[c] > vals[best] {
					best = c
				}
			}
			if best > 0 {
				mask[y*w+x] = ids[best-1]
			}
		}
	}
	return mask
}

// keypointSigma is the width of a keypoint's bump in feature cells.
const keypointSigma = 0.75

// KeypointLabels makes one channel per keypoint on a gh x gw feature map
// of an h x w frame: a Gaussian bump of keypointSigma cells around the
// point, summing to 1. The result holds gh*gw cells of len(kps) values.
func KeypointLabels(kps []data.Keypoint, h, w, gh, gw int) []float32 {
	k := len(kps)
	out := make([]float32, gh*gw*k)
	for c, kp := range kps {
		mx, my := mapCoord(kp.X, w, gw), mapCoord(kp.Y, h, gh)
		var sum float64
		for cy := range gh {
			for cx := range gw {
				d2 := (float64(cx)-mx)*(float64(cx)-mx) + (float64(cy)-my)*(float64(cy)-my)
				v := math.Exp(-d2 / (2 * keypointSigma * keypointSigma))
				out[(cy*gw+cx)*k+c] = float32(v)
				sum += v
			}
		}
		if sum > 0 {
			for i := c; i < len(out); i += k {
				out[i] = float32(float64(out[i]) / sum)
			}
		}
	}
	return out
}

// LocateKeypoint finds keypoint channel c of labels (gh*gw cells of k
// values) in an h x w frame: the peak cell, refined by the centre of mass
// of its 3x3 neighbourhood, returned in pixel coordinates.
func LocateKeypoint(labels []float32, gh, gw, k, c, h, w int) (x, y float64) {
	best := 0
	for i := range gh * gw {
		if labels[i*k+c] > labels[best*k+c] {
			best = i
		}
	}
	by, bx := best/gw, best%gw
	var sx, sy, s float64
	for cy := max(0, by-1); cy <= min(gh-1, by+1); cy++ {
		for cx := max(0, bx-1); cx <= min(gw-1, bx+1); cx++ {
			v := float64(max(0, labels[(cy*gw+cx)*k+c]))
			sx += v * float64(cx)
			sy += v * float64(cy)
			s += v
		}
	}
	mx, my := float64(bx), float64(by)
	if s > 0 {
		mx, my = sx/s, sy/s
	}
	return (mx + 0.5) * float64(w) / float64(gw), (my + 0.5) * float64(h) / float64(gh)
}
