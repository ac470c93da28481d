package eval

import (
	"math"
	"strings"
	"testing"

	"selfsup/tensor"
)

func TestTopKAccuracy(t *testing.T) {
	scores := tensor.FromData([]float32{
		0.1, 0.7, 0.2, 0.0, // ranking 1, 2, 0, 3
		0.5, 0.5, 0.5, 0.5, // all tied: ranking 0, 1, 2, 3
		0.0, 0.0, 0.9, 0.9, // ranking 2, 3, 0, 1
	}, 3, 4)
	tests := []struct {
		name   string
		labels []int
		k      int
		want   float64
	}{
		{"top1 all right", []int{1, 0, 2}, 1, 1},
		{"top1 tie goes to lower index", []int{1, 0, 3}, 1, 2.0 / 3},
		{"top1 all wrong", []int{0, 3, 0}, 1, 0},
		{"top2", []int{2, 1, 3}, 2, 1},
		{"top2 misses third", []int{0, 2, 0}, 2, 0},
		{"top3", []int{0, 2, 0}, 3, 1},
		{"k beyond classes", []int{3, 3, 1}, 10, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TopKAccuracy(scores, tc.labels, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("TopKAccuracy = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMetricErrors(t *testing.T) {
	scores := tensor.New(2, 3)
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"k zero", func() error { _, err := TopKAccuracy(scores, []int{0, 1}, 0); return err }, "k is 0"},
		{"label range", func() error { _, err := TopKAccuracy(scores, []int{0, 3}, 1); return err }, "labels[1] is 3"},
		{"label count", func() error { _, err := TopKAccuracy(scores, []int{0}, 1); return err }, "1 entries for 2"},
		{"nil scores", func() error { _, err := Argmax(nil); return err }, "nil"},
		{"1-D scores", func() error { _, err := Argmax(tensor.New(3)); return err }, "shape [3]"},
		{"nan scores", func() error {
			s := tensor.New(1, 2)
			s.Data[1] = float32(math.NaN())
			_, err := Argmax(s)
			return err
		}, "NaN at row 0, class 1"},
		{"accuracy lengths", func() error { _, err := Accuracy([]int{1}, []int{1, 2}); return err }, "1 predictions for 2"},
		{"confusion pred range", func() error { _, err := NewConfusion([]int{0}, []int{-1}, 2); return err }, "predictions[0] is -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestArgmaxAndAccuracy(t *testing.T) {
	scores := tensor.FromData([]float32{1, 3, 3, -1, -2, -0.5}, 2, 3)
	got, err := Argmax(scores)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 1 || got[1] != 2 {
		t.Fatalf("Argmax = %v, want [1 2]", got)
	}
	acc, err := Accuracy([]int{1, 2, 0, 0}, []int{1, 2, 1, 0})
	if err != nil || acc != 0.75 {
		t.Fatalf("Accuracy = %v, %v; want 0.75", acc, err)
	}
}

func TestConfusion(t *testing.T) {
	labels := []int{0, 0, 0, 1, 1, 3}
	preds := []int{0, 1, 0, 1, 1, 0}
	c, err := NewConfusion(labels, preds, 4)
	if err != nil {
		t.Fatal(err)
	}
	cells := []struct{ y, p, want int }{{0, 0, 2}, {0, 1, 1}, {1, 1, 2}, {3, 0, 1}, {2, 2, 0}, {1, 0, 0}}
	for _, cell := range cells {
		if got := c.At(cell.y, cell.p); got != cell.want {
			t.Errorf("At(%d, %d) = %d, want %d", cell.y, cell.p, got, cell.want)
		}
	}
	if c.Total() != 6 || math.Abs(c.Accuracy()-4.0/6) > 1e-12 {
		t.Errorf("Total %d Accuracy %v, want 6 and 2/3", c.Total(), c.Accuracy())
	}
	per := c.PerClassAccuracy()
	want := []float64{2.0 / 3, 1, math.NaN(), 0}
	for k := range want {
		if math.IsNaN(want[k]) != math.IsNaN(per[k]) || (!math.IsNaN(want[k]) && math.Abs(per[k]-want[k]) > 1e-12) {
			t.Errorf("PerClassAccuracy[%d] = %v, want %v", k, per[k], want[k])
		}
	}
	s := c.String()
	if lines := strings.Split(strings.TrimSpace(s), "\n"); len(lines) != 5 || !strings.HasPrefix(strings.TrimSpace(lines[1]), "0: 2 1 0 0") {
		t.Errorf("String() =\n%s", s)
	}
	// Evaluation.Confusion agrees.
	e := &Evaluation{NumClasses: 4, Predictions: preds, Labels: labels}
	if got := e.Confusion(); got.At(0, 1) != 1 || got.Total() != 6 {
		t.Errorf("Evaluation.Confusion disagrees: %v", got.Counts)
	}
}
