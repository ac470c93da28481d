package eval

import (
	"fmt"
	"math"
)

// Hungarian solves the linear assignment problem: given the cost of pairing
// row i with column j (cost[i*cols+j], rows x cols, row-major, finite), it
// pairs every row with a distinct column (or, when rows > cols, every column
// with a distinct row) so that the total cost is minimal. It returns
// assign[i], the column of row i (-1 for the rows left over when rows >
// cols), and the total cost.
//
// It is the O(n^2 m) shortest-augmenting-path form of the Hungarian
// algorithm (Kuhn 1955, Munkres 1957) with row and column potentials, for
// n = min(rows, cols) and m = max(rows, cols). Cluster accuracy uses it to
// match clusters to classes; negate the counts to maximise.
func Hungarian(cost []float64, rows, cols int) (assign []int, total float64, err error) {
	const fn = "eval.Hungarian"
	if rows < 0 || cols < 0 || len(cost) != rows*cols {
		return nil, 0, fmt.Errorf("%s: %d costs for a %d x %d matrix", fn, len(cost), rows, cols)
	}
	for i, c := range cost {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return nil, 0, fmt.Errorf("%s: cost (%d, %d) is %v, want a finite number", fn, i/max(cols, 1), i%max(cols, 1), c)
		}
	}
	assign = make([]int, rows)
	for i := range assign {
		assign[i] = -1
	}
	if rows == 0 || cols == 0 {
		return assign, 0, nil
	}
	if rows <= cols {
		match := solveAssignment(func(i, j int) float64 { return cost[i*cols+j] }, rows, cols)
		for j, i := range match {
			if i >= 0 {
				assign[i] = j
			}
		}
	} else {
		// Solve the transposed problem: columns pick rows.
		match := solveAssignment(func(j, i int) float64 { return cost[i*cols+j] }, cols, rows)
		copy(assign, match)
	}
	for i, j := range assign {
		if j >= 0 {
			total += cost[i*cols+j]
		}
	}
	return assign, total, nil
}

// solveAssignment assigns each of n rows a distinct one of m >= n columns
// at minimal total cost a(i, j) and returns, for every column, its row or
// -1. This is the classic potential-based algorithm: rows are added one at a
// time, each by a Dijkstra-like search for the cheapest augmenting path in
// the reduced costs a(i, j) - u[i] - v[j] >= 0. Indices are 1-based
// inside, with column 0 a sentinel holding the row being added.
func solveAssignment(a func(i, j int) float64, n, m int) []int {
	u := make([]float64, n+1)
	v := make([]float64, m+1)
	p := make([]int, m+1)   // p[j]: the row matched to column j (0: none)
	way := make([]int, m+1) // way[j]: the previous column on the path to j
	minv := make([]float64, m+1)
	used := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = math.Inf(1)
			used[j] = false
		}
		for {
			used[j0] = true
			i0 := p[j0]
			delta, j1 := math.Inf(1), 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				if cur := a(i0-1, j-1) - u[i0] - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 { // augment along the path
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	match := make([]int, m)
	for j := 1; j <= m; j++ {
		match[j-1] = p[j] - 1
	}
	return match
}
