package tsne

import (
	"math"

	"selfsup/tensor"
)

// bhObjective evaluates the Barnes-Hut t-SNE gradient: attractive forces
// exactly on the sparse neighbour affinities, repulsive forces and the
// normalisation Z from a quad-tree.
type bhObjective struct {
	n      int
	p      *sparseP
	theta2 float64
	tree   quadTree
	// Per-point partial sums of one evaluation, reduced in point order.
	attr, rep []float64 // 2n each
	z, kl     []float64 // n each
	stacks    [][]int32 // traversal stack per worker
	pSum      float64
	pLogP     float64
}

func newBHObjective(p *sparseP, n int, theta float64) *bhObjective {
	o := &bhObjective{n: n, p: p, theta2: theta * theta,
		attr: make([]float64, 2*n), rep: make([]float64, 2*n),
		z: make([]float64, n), kl: make([]float64, n),
		stacks: make([][]int32, tensor.Workers())}
	for w := range o.stacks {
		o.stacks[w] = make([]int32, 0, 256)
	}
	for _, v := range p.val {
		if v > 0 {
			o.pSum += v
			o.pLogP += v * math.Log(v)
		}
	}
	return o
}

// gradient writes the Barnes-Hut estimate of dKL/dy into grad (see
// exactObjective.gradient). With wantKL it returns the KL divergence
// estimated over the neighbour graph, sum_ij p_ij log(p_ij Z / w_ij), with
// the tree's estimate of Z.
func (o *bhObjective) gradient(y, grad []float64, exag float64, wantKL bool) float64 {
	n := o.n
	o.tree.build(y, n)
	perm := o.tree.perm
	tensor.ParallelFor(n, 64, func(w, lo, hi int) {
		stack := o.stacks[w]
		for _, i := range perm[lo:hi] {
			var fx, fy, z float64
			fx, fy, z, stack = o.tree.repulsion(y, i, o.theta2, stack)
			o.rep[2*i], o.rep[2*i+1], o.z[i] = fx, fy, z
			o.attract(int(i), y, wantKL)
		}
		o.stacks[w] = stack
	})
	z := 0.0
	for _, v := range o.z {
		z += v
	}
	for c := range grad {
		grad[c] = 4 * (exag*o.attr[c] - o.rep[c]/z)
	}
	if !wantKL {
		return 0
	}
	plogw := 0.0
	for _, v := range o.kl {
		plogw += v
	}
	return o.pLogP - plogw + o.pSum*math.Log(z)
}

// attract accumulates sum_j p_ij w_ij (y_i - y_j) over the neighbours of i
// (and sum_j p_ij log w_ij with wantKL).
func (o *bhObjective) attract(i int, y []float64, wantKL bool) {
	xi, yi := y[2*i], y[2*i+1]
	var ax, ay, kl float64
	lo, hi := o.p.rowPtr[i], o.p.rowPtr[i+1]
	vals := o.p.val[lo:hi]
	for e, j := range o.p.col[lo:hi] {
		dx, dy := xi-y[2*j], yi-y[2*j+1]
		w := 1 / (1 + dx*dx + dy*dy)
		pw := vals[e] * w
		ax += pw * dx
		ay += pw * dy
		if wantKL {
			kl += vals[e] * math.Log(w)
		}
	}
	o.attr[2*i], o.attr[2*i+1] = ax, ay
	o.kl[i] = kl
}
