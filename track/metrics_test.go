package track

import (
	"math"
	"testing"
)

// square returns a 16x16 mask with id over the size x size square whose
// top-left pixel is (x0, y0).
func square(x0, y0, size int, id uint8) []uint8 {
	m := make([]uint8, 16*16)
	for y := y0; y < y0+size; y++ {
		for x := x0; x < x0+size; x++ {
			if x >= 0 && y >= 0 && x < 16 && y < 16 {
				m[y*16+x] = id
			}
		}
	}
	return m
}

func TestBoundaryMapOfASquare(t *testing.T) {
	m := square(4, 4, 4, 1)
	mask := make([]bool, len(m))
	for i, v := range m {
		mask[i] = v == 1
	}
	b := make([]bool, len(m))
	boundaryMap(b, mask, 16, 16)
	// seg2bmap marks a pixel that differs from its right, lower or
	// lower-right neighbour: the square's right column and bottom row, and
	// the background column and row just left of and above it
	want := map[[2]int]bool{}
	for y := 3; y <= 7; y++ {
		want[[2]int{3, y}] = true
	}
	for x := 4; x <= 7; x++ {
		want[[2]int{x, 3}] = true
	}
	for y := 4; y <= 7; y++ {
		want[[2]int{7, y}] = true
	}
	for x := 4; x <= 6; x++ {
		want[[2]int{x, 7}] = true
	}
	for y := range 16 {
		for x := range 16 {
			if b[y*16+x] != want[[2]int{x, y}] {
				t.Fatalf("pixel (%d, %d): boundary %v, want %v", x, y, b[y*16+x], want[[2]int{x, y}])
			}
		}
	}
	if len(want) != 16 {
		t.Fatalf("the hand-made boundary has %d pixels", len(want))
	}
}

// J and F on hand-made masks: a 4x4 square in a 16x16 frame (tolerance
// ceil(0.008 * 22.6) = 1 pixel) against copies of itself moved.
func TestRegionAndContourMeasures(t *testing.T) {
	gt := square(4, 4, 4, 1)
	cases := []struct {
		name string
		pred []uint8
		j, f float64
	}{
		{"identical", square(4, 4, 4, 1), 1, 1},
		{"disjoint", square(11, 11, 4, 1), 0, 0},
		// 12 of 20 pixels shared; every boundary pixel within 1 pixel of
		// the other boundary
		{"shifted by one pixel", square(5, 4, 4, 1), 12.0 / 20, 1},
		// 8 of 24 pixels shared; 10 of the 16 boundary pixels of each mask
		// lie within 1 pixel of the other's boundary: P = R = 10/16
		{"shifted by two pixels", square(6, 4, 4, 1), 8.0 / 24, 10.0 / 16},
		{"missed entirely", make([]uint8, 256), 0, 0},
		{"other id only", square(4, 4, 4, 2), 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if j := RegionJ(c.pred, gt, 1); math.Abs(j-c.j) > 1e-12 {
				t.Errorf("J = %v, want %v", j, c.j)
			}
			if f := ContourF(c.pred, gt, 16, 16, 1); math.Abs(f-c.f) > 1e-12 {
				t.Errorf("F = %v, want %v", f, c.f)
			}
		})
	}
	empty := make([]uint8, 256)
	if j, f := RegionJ(empty, empty, 1), ContourF(empty, empty, 16, 16, 1); j != 1 || f != 1 {
		t.Fatalf("absent and predicted absent: J %v, F %v; want 1, 1", j, f)
	}
	if got := tolerancePixels(480, 854); got != 8 {
		t.Fatalf("DAVIS 480p tolerance %d pixels, want 8", got)
	}
}

func TestEvaluateAveragesObjectsOverScoredFrames(t *testing.T) {
	two := func(shift int) []uint8 {
		m := square(4+shift, 4, 4, 1)
		for i, v := range square(10, 10, 4, 2) {
			if v != 0 {
				m[i] = v
			}
		}
		return m
	}
	gt := [][]uint8{two(0), two(0), nil, two(0)}
	pred := [][]uint8{two(0), two(1), two(5), two(0)}
	scores, err := Evaluate(pred, gt, 16, 16)
	if err != nil {
		t.Fatal(err)
	}
	// object 1: J 0.6 (frame 1) and 1 (frame 3); frame 2 has no truth
	if len(scores) != 2 || scores[0].ID != 1 || scores[0].Frames != 2 || math.Abs(scores[0].J-0.8) > 1e-12 || scores[1].J != 1 || scores[1].F != 1 {
		t.Fatalf("scores %+v", scores)
	}
	j, f, jf, n := Mean(scores)
	if n != 2 || math.Abs(j-0.9) > 1e-12 || f != 1 || math.Abs(jf-0.95) > 1e-12 {
		t.Fatalf("mean J %v F %v J&F %v over %d", j, f, jf, n)
	}
	if _, err := Evaluate(pred, [][]uint8{nil, nil, nil, nil}, 16, 16); err == nil {
		t.Fatal("no first-frame truth accepted")
	}
}
