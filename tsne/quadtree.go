package tsne

import "math"

// Quad-tree limits: a cell with at most leafSize points, or at depth
// maxDepth, or whose points all coincide, is a leaf whose points are
// visited one by one.
const (
	leafSize = 1
	maxDepth = 48
)

// quadTree partitions the points of a 2-D layout into square cells, each
// knowing how many points it holds and their centre of mass, for the
// Barnes-Hut approximation of the repulsive forces. It is rebuilt every
// iteration into the same buffers.
type quadTree struct {
	nodes []qnode
	// perm lists the points so that every cell holds a contiguous range;
	// its order (cells in depth-first order) also serves to visit the
	// points with good locality.
	perm    []int32
	scratch []int32
}

// qnode is one cell: its square [cx-half, cx+half] x [cy-half, cy+half],
// its points perm[lo:hi] with their centre of mass (mx, my), and for an
// inner cell the indices of its non-empty children (-1 for empty
// quadrants).
type qnode struct {
	cx, cy, half float64
	mx, my       float64
	lo, hi       int32
	child        [4]int32
	leaf         bool
}

// build rebuilds the tree over the n points of y (x, y interleaved).
func (t *quadTree) build(y []float64, n int) {
	if cap(t.perm) < n {
		t.perm = make([]int32, n)
		t.scratch = make([]int32, n)
	}
	t.perm, t.scratch = t.perm[:n], t.scratch[:n]
	for i := range t.perm {
		t.perm[i] = int32(i)
	}
	t.nodes = t.nodes[:0]
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for i := 0; i < n; i++ {
		minX, maxX = math.Min(minX, y[2*i]), math.Max(maxX, y[2*i])
		minY, maxY = math.Min(minY, y[2*i+1]), math.Max(maxY, y[2*i+1])
	}
	half := math.Max(maxX-minX, maxY-minY)/2*(1+1e-9) + 1e-12
	t.split(y, 0, int32(n), (minX+maxX)/2, (minY+maxY)/2, half, 0)
}

// split adds the cell holding perm[lo:hi] and, recursively, its children,
// and returns the cell's index.
func (t *quadTree) split(y []float64, lo, hi int32, cx, cy, half float64, depth int) int32 {
	id := int32(len(t.nodes))
	t.nodes = append(t.nodes, qnode{cx: cx, cy: cy, half: half, lo: lo, hi: hi, child: [4]int32{-1, -1, -1, -1}})
	pts := t.perm[lo:hi]
	var sx, sy float64
	same := true
	x0, y0 := y[2*pts[0]], y[2*pts[0]+1]
	for _, p := range pts {
		px, py := y[2*p], y[2*p+1]
		sx += px
		sy += py
		same = same && px == x0 && py == y0
	}
	cnt := float64(len(pts))
	t.nodes[id].mx, t.nodes[id].my = sx/cnt, sy/cnt
	if len(pts) <= leafSize || depth >= maxDepth || same {
		t.nodes[id].leaf = true
		return id
	}
	// Counting sort of the points into quadrants: bit 0 east, bit 1 north.
	var count [4]int32
	quad := func(p int32) int {
		q := 0
		if y[2*p] >= cx {
			q |= 1
		}
		if y[2*p+1] >= cy {
			q |= 2
		}
		return q
	}
	for _, p := range pts {
		count[quad(p)]++
	}
	var start [5]int32
	for q := 0; q < 4; q++ {
		start[q+1] = start[q] + count[q]
	}
	next := start
	buf := t.scratch[lo:hi]
	for _, p := range pts {
		q := quad(p)
		buf[next[q]] = p
		next[q]++
	}
	copy(pts, buf)
	h := half / 2
	for q := 0; q < 4; q++ {
		if count[q] == 0 {
			continue
		}
		qx, qy := cx-h, cy-h
		if q&1 != 0 {
			qx = cx + h
		}
		if q&2 != 0 {
			qy = cy + h
		}
		c := t.split(y, lo+start[q], lo+start[q+1], qx, qy, h, depth+1)
		t.nodes[id].child[q] = c
	}
	return id
}

// repulsion returns, for point i at (xi, yi), the Barnes-Hut estimates of
// sum_{j!=i} w_ij^2 (y_i - y_j) and sum_{j!=i} w_ij, w_ij = 1/(1+|y_i-y_j|^2).
// A cell not containing the point, of width w at distance d from it, with
// w < theta d, counts as its points all at the centre of mass. stack is
// scratch space and is returned for reuse.
func (t *quadTree) repulsion(y []float64, i int32, theta2 float64, stack []int32) (fx, fy, z float64, _ []int32) {
	xi, yi := y[2*i], y[2*i+1]
	stack = append(stack[:0], 0)
	for len(stack) > 0 {
		nd := &t.nodes[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		if nd.leaf {
			for _, j := range t.perm[nd.lo:nd.hi] {
				if j == i {
					continue
				}
				dx, dy := xi-y[2*j], yi-y[2*j+1]
				w := 1 / (1 + dx*dx + dy*dy)
				z += w
				w2 := w * w
				fx += w2 * dx
				fy += w2 * dy
			}
			continue
		}
		dx, dy := xi-nd.mx, yi-nd.my
		d2 := dx*dx + dy*dy
		width := 2 * nd.half
		inside := math.Abs(xi-nd.cx) <= nd.half && math.Abs(yi-nd.cy) <= nd.half
		if !inside && width*width < theta2*d2 {
			w := 1 / (1 + d2)
			cw := float64(nd.hi-nd.lo) * w
			z += cw
			cw *= w
			fx += cw * dx
			fy += cw * dy
			continue
		}
		for _, c := range nd.child {
			if c >= 0 {
				stack = append(stack, c)
			}
		}
	}
	return fx, fy, z, stack
}
