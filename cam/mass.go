package cam

import (
	"image"
	"math"
)

// MassInside returns the share of the map's total value that lies inside
// box (in pixel coordinates, clipped to the map): 1 when all of the map's
// mass is on the object, the box's share of the image when the map is
// uniform. An all-zero map has no mass to share and gives NaN.
func MassInside(m Map, box image.Rectangle) float64 {
	box = box.Intersect(image.Rect(0, 0, m.W, m.H))
	total, inside := 0.0, 0.0
	for y := 0; y < m.H; y++ {
		row := m.Values[y*m.W : (y+1)*m.W]
		for x, v := range row {
			total += float64(v)
			if y >= box.Min.Y && y < box.Max.Y && x >= box.Min.X && x < box.Max.X {
				inside += float64(v)
			}
		}
	}
	if total == 0 {
		return math.NaN()
	}
	return inside / total
}

// MeanMassInside averages MassInside over maps and their boxes, skipping
// all-zero maps; it returns the mean and the number of maps averaged.
func MeanMassInside(maps []Map, boxes []image.Rectangle) (mean float64, used int) {
	sum := 0.0
	for i, m := range maps {
		if i >= len(boxes) {
			break
		}
		f := MassInside(m, boxes[i])
		if math.IsNaN(f) {
			continue
		}
		sum += f
		used++
	}
	if used == 0 {
		return math.NaN(), 0
	}
	return sum / float64(used), used
}
