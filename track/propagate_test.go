package track

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/data"
)

// When every cell of frame 1 has exactly the embedding of one cell of frame
// 0 (orthonormal embeddings, a tiny temperature), propagation copies that
// cell's labels exactly; a third frame, a repeat of the second, finds the
// same labels in frame 1 (and in frame 0, when it attends to it).
func TestPropagateWithOneHotAttentionCopiesLabels(t *testing.T) {
	const gh, gw, k = 2, 3, 4
	p := gh * gw
	r := rand.New(rand.NewPCG(1, 2))
	perm := r.Perm(p)
	f0 := make([]float32, p*p)
	f1 := make([]float32, p*p)
	for i := range p {
		f0[i*p+i] = 1
		f1[i*p+perm[i]] = 1 // cell i of frame 1 is cell perm[i] of frame 0
	}
	labels0 := make([]float32, p*k)
	for i := range labels0 {
		labels0[i] = float32(r.IntN(10))
	}
	e := &Embedding{H: gh, W: gw, D: p, Stride: 1, Frames: [][]float32{f0, f1, f1}}
	for _, o := range []Options{{Temperature: 1e-3, Context: 1, First: true}, {Temperature: 1e-3, Context: 1}, {Temperature: 1e-3, First: true}, {Temperature: 1e-3, Context: 1, TopK: 1}} {
		out, err := Propagate(e, labels0, k, o)
		if err != nil {
			t.Fatal(err)
		}
		for t2 := 1; t2 < 3; t2++ {
			for i := range p {
				for c := range k {
					got, want := out[t2][i*k+c], labels0[perm[i]*k+c]
					if got != want {
						t.Fatalf("options %+v: frame %d cell %d label %d = %v, want %v", o, t2, i, c, got, want)
					}
				}
			}
		}
	}
}

func TestAttendTopKAndTemperature(t *testing.T) {
	row := []float32{1, 3, 2, 3, 0}
	sim := append([]float32(nil), row...)
	attend(sim, 1, 5, 1, 2)
	// the two largest (the tied 3s) share the weight equally
	if sim[1] != 0.5 || sim[3] != 0.5 || sim[0] != 0 || sim[2] != 0 || sim[4] != 0 {
		t.Fatalf("top-2 attention %v", sim)
	}
	sim = append(sim[:0], row...)
	attend(sim, 1, 5, 2, 0)
	var z float64
	for _, v := range row {
		z += math.Exp(float64(v) / 2)
	}
	for j, v := range row {
		if want := math.Exp(float64(v)/2) / z; math.Abs(float64(sim[j])-want) > 1e-6 {
			t.Fatalf("softmax at temperature 2: weight %d = %v, want %v", j, sim[j], want)
		}
	}
}

func TestOptionsReferencesAndErrors(t *testing.T) {
	cases := []struct {
		o    Options
		t    int
		want []int
	}{
		{Options{Temperature: 1, Context: 1, First: true}, 5, []int{0, 4}},
		{Options{Temperature: 1, Context: 1, First: true}, 1, []int{0}},
		{Options{Temperature: 1, Context: 3, First: true}, 2, []int{0, 1}},
		{Options{Temperature: 1, Context: 2}, 5, []int{3, 4}},
		{Options{Temperature: 1, First: true}, 5, []int{0}},
	}
	for _, c := range cases {
		got := c.o.references(c.t)
		if len(got) != len(c.want) {
			t.Fatalf("%+v at frame %d: references %v, want %v", c.o, c.t, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("%+v at frame %d: references %v, want %v", c.o, c.t, got, c.want)
			}
		}
	}
	e := &Embedding{H: 1, W: 1, D: 1, Frames: [][]float32{{1}, {1}}}
	bad := []struct {
		o    Options
		want string
	}{
		{Options{Temperature: 0, Context: 1}, "temperature 0"},
		{Options{Temperature: 1}, "no reference frame"},
		{Options{Temperature: 1, Context: 1, TopK: -1}, "top-k -1"},
	}
	for _, b := range bad {
		if _, err := Propagate(e, []float32{1}, 1, b.o); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Fatalf("%+v: error %v, want %q", b.o, err, b.want)
		}
	}
	if _, err := Propagate(e, []float32{1, 0}, 1, DefaultOptions(1)); err == nil {
		t.Fatal("labels of the wrong size accepted")
	}
}

// Bands aligned to the cells survive pooling and bilinear resampling
// unchanged (a block loses pixels at its corners, where three cells of other
// objects outweigh its own); keypoints are found again where they were
// put.
func TestLabelsRoundTrip(t *testing.T) {
	const h, w, s = 16, 24, 4
	mask := make([]uint8, h*w)
	for y := 4; y < 12; y++ {
		for x := range w {
			mask[y*w+x] = 3
		}
	}
	for y := 12; y < 16; y++ {
		for x := range w {
			mask[y*w+x] = 7
		}
	}
	ids := []uint8{3, 7}
	lab := MaskLabels(mask, h, w, ids, h/s, w/s)
	if got := lab[(1*6+2)*3+1]; got != 1 { // cell (2, 1) is all object 3
		t.Fatalf("cell (2, 1): object 3 share %v, want 1", got)
	}
	back := LabelsToMask(lab, h/s, w/s, ids, h, w)
	for i := range mask {
		if back[i] != mask[i] {
			t.Fatalf("pixel (%d, %d): %d after the round trip, want %d", i%w, i/w, back[i], mask[i])
		}
	}
	block := make([]uint8, h*w)
	for y := 4; y < 12; y++ {
		for x := 8; x < 20; x++ {
			block[y*w+x] = 1
		}
	}
	back = LabelsToMask(MaskLabels(block, h, w, []uint8{1}, h/s, w/s), h/s, w/s, []uint8{1}, h, w)
	if j := RegionJ(back, block, 1); j < 0.9 || j == 1 {
		t.Fatalf("a block after the round trip: J %v, want the corners lost and little else", j)
	}
	kps := []data.Keypoint{{ID: 1, X: 9.3, Y: 5.1, Visible: true}, {ID: 2, X: 20, Y: 14, Visible: true}}
	heat := KeypointLabels(kps, h, w, h/s, w/s)
	for c, kp := range kps {
		var sum float64
		for i := c; i < len(heat); i += len(kps) {
			sum += float64(heat[i])
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Fatalf("keypoint %d bump sums to %v", c, sum)
		}
		x, y := LocateKeypoint(heat, h/s, w/s, len(kps), c, h, w)
		if math.Hypot(x-kp.X, y-kp.Y) > 1.5 {
			t.Fatalf("keypoint %d at (%v, %v), found at (%.2f, %.2f)", c, kp.X, kp.Y, x, y)
		}
	}
}
