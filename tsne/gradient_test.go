package tsne

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveKL computes KL(P || Q) of a layout straight from the definitions.
func naiveKL(p []float32, y []float64, n int) float64 {
	z := 0.0
	w := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i != j {
				dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
				w[i*n+j] = 1 / (1 + dx*dx + dy*dy)
				z += w[i*n+j]
			}
		}
	}
	kl := 0.0
	for i := 0; i < n*n; i++ {
		if p[i] > 0 {
			kl += float64(p[i]) * math.Log(float64(p[i])/(w[i]/z))
		}
	}
	return kl
}

// TestExactGradientFiniteDifferences compares the exact gradient with
// central differences of the KL divergence on a tiny case, and the KL the
// objective reports with the one computed from the definition.
func TestExactGradientFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	n := 9
	x, _ := gaussianClusters(rng, n, 3, 3, 2)
	p := denseAffinities(x.Data, n, 3, 2)
	obj := newExactObjective(p, n)
	y := randomLayout(rng, n, 3)
	grad := make([]float64, 2*n)
	kl := obj.gradient(y, grad, 1, true)
	if want := naiveKL(p, y, n); math.Abs(kl-want) > 1e-9*math.Abs(want) {
		t.Errorf("KL %v, from the definition %v", kl, want)
	}
	const h = 1e-6
	fd := make([]float64, 2*n)
	for c := range y {
		orig := y[c]
		y[c] = orig + h
		up := naiveKL(p, y, n)
		y[c] = orig - h
		down := naiveKL(p, y, n)
		y[c] = orig
		fd[c] = (up - down) / (2 * h)
	}
	if e := relErr(grad, fd); e > 1e-6 {
		t.Errorf("gradient %v\nfinite differences %v\nrelative error %v", grad, fd, e)
	}
	// Exaggeration scales the attractive part only: grad(e) - grad(1) =
	// (e-1) * 4 sum_j p_ij w_ij (y_i - y_j).
	g12 := make([]float64, 2*n)
	obj.gradient(y, g12, 12, false)
	for c := range g12 {
		if want := grad[c] + 11*4*obj.attr[c]; math.Abs(g12[c]-want) > 1e-12 {
			t.Fatalf("exaggerated gradient[%d] = %v, want %v", c, g12[c], want)
		}
	}
}

// TestBarnesHutGradient compares the Barnes-Hut gradient with the exact
// one on the same (full) affinities: equal for a tiny theta, close for the
// default 0.5. The layout holds duplicate points, which the tree must
// handle as separate bodies.
func TestBarnesHutGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	n, d := 301, 5
	x, _ := gaussianClusters(rng, n, d, 3, 3)
	perplexity := 100.0 // 3*100 = n-1: every point is a neighbour
	dense := denseAffinities(x.Data, n, d, perplexity)
	sp, err := sparseAffinities(x.Data, n, d, perplexity)
	if err != nil {
		t.Fatal(err)
	}
	y := randomLayout(rng, n, 20)
	copy(y[2*10:2*13], y[2*50:2*53]) // points 10 and 50, 11 and 51 coincide
	exact := make([]float64, 2*n)
	wantKL := newExactObjective(dense, n).gradient(y, exact, 4, true)
	cases := []struct {
		theta      float64
		tol, klTol float64
	}{
		{1e-4, 1e-6, 1e-6},
		{0.2, 3e-3, 1e-3},
		{0.5, 2e-2, 1e-2},
	}
	for _, c := range cases {
		bh := newBHObjective(sp, n, c.theta)
		got := make([]float64, 2*n)
		kl := bh.gradient(y, got, 4, true)
		t.Logf("theta %v: gradient error %v, KL %v vs %v", c.theta, relErr(got, exact), kl, wantKL)
		if e := relErr(got, exact); e > c.tol {
			t.Errorf("theta %v: relative error of the gradient %v, want <= %v", c.theta, e, c.tol)
		}
		if e := math.Abs(kl-wantKL) / wantKL; e > c.klTol {
			t.Errorf("theta %v: KL %v, exact %v (relative error %v, want <= %v)", c.theta, kl, wantKL, e, c.klTol)
		}
	}
}

// TestQuadTreeRepulsion checks the tree against brute force with theta 0
// (every leaf visited) on a layout with duplicates and a far outlier, and
// that every point sits in exactly one leaf.
func TestQuadTreeRepulsion(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	n := 200
	y := randomLayout(rng, n, 10)
	for i := 0; i < 20; i++ { // 20 copies of one point
		y[2*i], y[2*i+1] = 1.25, -3.5
	}
	y[2*199], y[2*199+1] = 1e6, -1e6
	var tr quadTree
	tr.build(y, n)
	seen := make([]int, n)
	for _, nd := range tr.nodes {
		if nd.leaf {
			for _, p := range tr.perm[nd.lo:nd.hi] {
				seen[p]++
			}
		}
	}
	for i, s := range seen {
		if s != 1 {
			t.Fatalf("point %d is in %d leaves", i, s)
		}
	}
	var stack []int32
	for i := 0; i < n; i++ {
		var fx, fy, z float64
		fx, fy, z, stack = tr.repulsion(y, int32(i), 0, stack)
		var wx, wy, wz float64
		for j := 0; j < n; j++ {
			if j != i {
				dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
				w := 1 / (1 + dx*dx + dy*dy)
				wz += w
				wx += w * w * dx
				wy += w * w * dy
			}
		}
		if math.Abs(z-wz) > 1e-12*wz || math.Abs(fx-wx) > 1e-12 || math.Abs(fy-wy) > 1e-12 {
			t.Fatalf("point %d: tree (%v, %v, %v), brute force (%v, %v, %v)", i, fx, fy, z, wx, wy, wz)
		}
	}
}
