package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// bruteAssignment returns the minimal total cost over all assignments, by
// enumerating the permutations (rows <= cols, small sizes only).
func bruteAssignment(cost []float64, rows, cols int) float64 {
	best := math.Inf(1)
	used := make([]bool, cols)
	var rec func(i int, sum float64)
	rec = func(i int, sum float64) {
		if i == rows {
			best = math.Min(best, sum)
			return
		}
		for j := 0; j < cols; j++ {
			if !used[j] {
				used[j] = true
				rec(i+1, sum+cost[i*cols+j])
				used[j] = false
			}
		}
	}
	rec(0, 0)
	return best
}

func TestHungarianKnownOptimum(t *testing.T) {
	cases := []struct {
		name       string
		cost       []float64
		rows, cols int
		assign     []int
		total      float64
	}{
		// scipy.optimize.linear_sum_assignment's documentation example.
		{"3x3", []float64{4, 1, 3, 2, 0, 5, 3, 2, 2}, 3, 3, []int{1, 0, 2}, 5},
		// The classic 4-worker example: 2 + 6 + 1 + 4.
		{"4x4", []float64{9, 2, 7, 8, 6, 4, 3, 7, 5, 8, 1, 8, 7, 6, 9, 4}, 4, 4, []int{1, 0, 2, 3}, 13},
		// Greedy (row 0 takes its cheapest, 1) would give 1 + 4 = 5.
		{"2x3", []float64{1, 2, 3, 2, 4, 6}, 2, 3, []int{1, 0}, 4},
		{"3x2 leaves a row out", []float64{1, 2, 2, 4, 3, 6}, 3, 2, []int{1, 0, -1}, 4},
		{"negative costs (maximise 5+6)", []float64{-5, -1, -2, -6}, 2, 2, []int{0, 1}, -11},
		{"1x1", []float64{7}, 1, 1, []int{0}, 7},
		{"empty", nil, 0, 3, []int{}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assign, total, err := Hungarian(c.cost, c.rows, c.cols)
			if err != nil {
				t.Fatal(err)
			}
			if total != c.total || len(assign) != len(c.assign) {
				t.Fatalf("assignment %v with cost %v, want %v with cost %v", assign, total, c.assign, c.total)
			}
			for i := range assign {
				if assign[i] != c.assign[i] {
					t.Fatalf("assignment %v, want %v", assign, c.assign)
				}
			}
		})
	}
}

// TestHungarianRandom compares with brute force on random square and
// rectangular matrices, with ties (small integer costs) and without.
func TestHungarianRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 9))
	for trial := 0; trial < 200; trial++ {
		rows, cols := 1+rng.IntN(6), 1+rng.IntN(6)
		cost := make([]float64, rows*cols)
		for i := range cost {
			if trial%2 == 0 {
				cost[i] = float64(rng.IntN(5))
			} else {
				cost[i] = rng.NormFloat64() * 10
			}
		}
		assign, total, err := Hungarian(cost, rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		var want float64
		if rows <= cols {
			want = bruteAssignment(cost, rows, cols)
		} else {
			tr := make([]float64, len(cost))
			for i := 0; i < rows; i++ {
				for j := 0; j < cols; j++ {
					tr[j*rows+i] = cost[i*cols+j]
				}
			}
			want = bruteAssignment(tr, cols, rows)
		}
		// The assignment is one to one, covers min(rows, cols) pairs and
		// costs what it says.
		seen := map[int]bool{}
		sum, pairs := 0.0, 0
		for i, j := range assign {
			if j < 0 {
				continue
			}
			if seen[j] || j >= cols {
				t.Fatalf("%dx%d: assignment %v reuses or overflows column %d", rows, cols, assign, j)
			}
			seen[j] = true
			sum += cost[i*cols+j]
			pairs++
		}
		if pairs != min(rows, cols) || math.Abs(sum-total) > 1e-9 || math.Abs(total-want) > 1e-9 {
			t.Fatalf("%dx%d %v: assignment %v costs %v (reported %v, %d pairs), optimum %v", rows, cols, cost, assign, sum, total, pairs, want)
		}
	}
}

func TestHungarianBadInput(t *testing.T) {
	if _, _, err := Hungarian([]float64{1, 2, 3}, 2, 2); err == nil || !strings.Contains(err.Error(), "3 costs for a 2 x 2") {
		t.Errorf("wrong length: error %v", err)
	}
	if _, _, err := Hungarian([]float64{1, math.NaN(), 3, 4}, 2, 2); err == nil || !strings.Contains(err.Error(), "cost (0, 1) is NaN") {
		t.Errorf("NaN: error %v", err)
	}
	if _, _, err := Hungarian([]float64{1, 2, math.Inf(1), 4}, 2, 2); err == nil || !strings.Contains(err.Error(), "cost (1, 0) is +Inf") {
		t.Errorf("Inf: error %v", err)
	}
}
