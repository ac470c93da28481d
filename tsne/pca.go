package tsne

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/diag"
	"selfsup/tensor"
)

// exactPCAMax is the largest min(N, D) for which PCA solves the full
// eigenproblem (diag.SymEigen: about 1 s at 784, 18 s at 2000 on one core);
// above it a randomised subspace iteration finds the top components.
const exactPCAMax = 1024

// Randomised PCA (Halko, Martinsson and Tropp 2011, Algorithm 4.4): the
// subspace carries this many extra directions and is refined by this many
// power iterations, ample for the leading 50 components t-SNE needs.
const (
	pcaOversample = 10
	pcaPowerIters = 4
	pcaSeed       = 0x7a5e
)

// PCA returns the projections of the rows of x ([N, D]) on their top k
// principal components, as an [N, k] tensor whose column j has the j-th
// largest variance. Each component's sign is fixed so that its largest
// projection in absolute value is positive, which makes the result
// reproducible.
//
// When min(N, D) <= 1024 the components are the top eigenvectors of the
// D x D covariance (or, for N < D, of the N x N Gram matrix), computed with
// diag.SymEigen; above that a randomised subspace iteration with
// tensor.Gemm finds them, accurate to a small fraction of the variance of
// the components that follow.
func PCA(x *tensor.Tensor, k int) (*tensor.Tensor, error) {
	n, d, err := checkInput("tsne.PCA", x)
	if err != nil {
		return nil, err
	}
	if k < 1 || k > min(n, d) {
		return nil, fmt.Errorf("tsne.PCA: %d components asked of a %d x %d matrix, want 1 to %d", k, n, d, min(n, d))
	}
	out, err := pca(x.Data, n, d, k)
	if err != nil {
		return nil, err
	}
	return tensor.FromData(out, n, k), nil
}

// checkInput verifies that x is a finite [N, D] matrix and returns N and D.
func checkInput(fn string, x *tensor.Tensor) (n, d int, err error) {
	if x == nil {
		return 0, 0, fmt.Errorf("%s: the input is nil", fn)
	}
	if x.Dims() != 2 {
		return 0, 0, fmt.Errorf("%s: the input has shape %v, want a 2-D [N, D] matrix", fn, x.Shape())
	}
	n, d = x.Dim(0), x.Dim(1)
	if n == 0 || d == 0 {
		return 0, 0, fmt.Errorf("%s: the input has shape %v, want at least one row and one column", fn, x.Shape())
	}
	if len(x.Data) != n*d {
		return 0, 0, fmt.Errorf("%s: the input holds %d values for shape %v", fn, len(x.Data), x.Shape())
	}
	for i, v := range x.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, 0, fmt.Errorf("%s: the input holds %v at row %d, column %d", fn, v, i/d, i%d)
		}
	}
	return n, d, nil
}

// pca projects the rows of the [n, d] matrix x on their top k principal
// components (1 <= k <= min(n, d)).
func pca(x []float32, n, d, k int) ([]float32, error) {
	xc := centred(x, n, d)
	var out []float32
	var err error
	if min(n, d) <= exactPCAMax {
		out, err = pcaExact(xc, n, d, k)
	} else {
		out, err = pcaRandomized(xc, n, d, k)
	}
	if err != nil {
		return nil, fmt.Errorf("tsne: PCA of %d x %d input: %w", n, d, err)
	}
	fixSigns(out, n, k)
	return out, nil
}

// centred returns x minus its column means.
func centred(x []float32, n, d int) []float32 {
	mean := make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range x[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	xc := make([]float32, n*d)
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		row, src := xc[i*d:(i+1)*d], x[i*d:(i+1)*d]
		for j := range row {
			row[j] = float32(float64(src[j]) - mean[j])
		}
	}
	return xc
}

// pcaExact takes the top eigenvectors of the smaller of the covariance
// (d x d) and the Gram matrix (n x n) of the centred xc.
func pcaExact(xc []float32, n, d, k int) ([]float32, error) {
	out := make([]float32, n*k)
	if d <= n {
		c := make([]float32, d*d)
		tensor.Gemm(true, false, d, d, n, 1, xc, d, xc, d, 0, c, d)
		_, vecs, err := diag.SymEigen(widen(c), d, true)
		if err != nil {
			return nil, err
		}
		// Eigenvalues come in ascending order: the top k are the last rows.
		vk := make([]float32, k*d)
		for c := 0; c < k; c++ {
			row := vecs[(d-1-c)*d : (d-c)*d]
			for j, v := range row {
				vk[c*d+j] = float32(v)
			}
		}
		tensor.Gemm(false, true, n, k, d, 1, xc, d, vk, d, 0, out, k)
		return out, nil
	}
	g := make([]float32, n*n)
	tensor.Gemm(false, true, n, n, d, 1, xc, d, xc, d, 0, g, n)
	vals, vecs, err := diag.SymEigen(widen(g), n, true)
	if err != nil {
		return nil, err
	}
	// x = U S V^T, so the projections x V are the columns of U S.
	for c := 0; c < k; c++ {
		u := vecs[(n-1-c)*n : (n-c)*n]
		s := math.Sqrt(math.Max(vals[n-1-c], 0))
		for i := 0; i < n; i++ {
			out[i*k+c] = float32(u[i] * s)
		}
	}
	return out, nil
}

// pcaRandomized finds the top k components by subspace iteration on a
// random starting block: Q spans x (x^T x)^q Omega, and the top eigenvectors
// of the small matrix B B^T with B = Q^T x give the projections Q W S.
func pcaRandomized(xc []float32, n, d, k int) ([]float32, error) {
	l := min(k+pcaOversample, n, d)
	rng := rand.New(rand.NewPCG(pcaSeed, uint64(n)*uint64(d)))
	omega := make([]float32, d*l)
	for i := range omega {
		omega[i] = float32(rng.NormFloat64())
	}
	q := make([]float32, n*l)
	z := make([]float32, d*l)
	tensor.Gemm(false, false, n, l, d, 1, xc, d, omega, l, 0, q, l)
	orthonormalize(q, n, l)
	for range pcaPowerIters {
		tensor.Gemm(true, false, d, l, n, 1, xc, d, q, l, 0, z, l)
		orthonormalize(z, d, l)
		tensor.Gemm(false, false, n, l, d, 1, xc, d, z, l, 0, q, l)
		orthonormalize(q, n, l)
	}
	b := make([]float32, l*d)
	tensor.Gemm(true, false, l, d, n, 1, q, l, xc, d, 0, b, d)
	s := make([]float64, l*l)
	for i := 0; i < l; i++ {
		bi := b[i*d : (i+1)*d]
		for j := i; j < l; j++ {
			bj := b[j*d : (j+1)*d]
			t := 0.0
			for t2, v := range bi {
				t += float64(v) * float64(bj[t2])
			}
			s[i*l+j], s[j*l+i] = t, t
		}
	}
	vals, vecs, err := diag.SymEigen(s, l, true)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n*k)
	for c := 0; c < k; c++ {
		w := vecs[(l-1-c)*l : (l-c)*l]
		sv := math.Sqrt(math.Max(vals[l-1-c], 0))
		for i := 0; i < n; i++ {
			t := 0.0
			for j, v := range q[i*l : (i+1)*l] {
				t += float64(v) * w[j]
			}
			out[i*k+c] = float32(t * sv)
		}
	}
	return out, nil
}

// orthonormalize replaces the columns of the row-major rows x cols matrix a
// by an orthonormal basis of their span (modified Gram-Schmidt, run twice
// for accuracy, in float64). Columns that are numerically dependent on the
// earlier ones become zero.
func orthonormalize(a []float32, rows, cols int) {
	col := make([]float64, rows*cols) // column-major copy
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			col[j*rows+i] = float64(a[i*cols+j])
		}
	}
	for j := 0; j < cols; j++ {
		cj := col[j*rows : (j+1)*rows]
		norm0 := math.Sqrt(dot(cj, cj))
		for range 2 {
			for p := 0; p < j; p++ {
				cp := col[p*rows : (p+1)*rows]
				r := dot(cp, cj)
				for i := range cj {
					cj[i] -= r * cp[i]
				}
			}
		}
		norm := math.Sqrt(dot(cj, cj))
		if norm <= 1e-10*norm0 || norm == 0 {
			clear(cj)
			continue
		}
		for i := range cj {
			cj[i] /= norm
		}
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			a[i*cols+j] = float32(col[j*rows+i])
		}
	}
}

func dot(a, b []float64) float64 {
	t := 0.0
	for i, v := range a {
		t += v * b[i]
	}
	return t
}

// widen converts a float32 matrix to float64 for the eigen solver.
func widen(a []float32) []float64 {
	out := make([]float64, len(a))
	for i, v := range a {
		out[i] = float64(v)
	}
	return out
}

// fixSigns flips each column of the [n, k] matrix so that its entry of
// largest magnitude is positive (the first one on ties).
func fixSigns(a []float32, n, k int) {
	for c := 0; c < k; c++ {
		best := float32(0)
		for i := 0; i < n; i++ {
			if v := a[i*k+c]; abs32(v) > abs32(best) {
				best = v
			}
		}
		if best < 0 {
			for i := 0; i < n; i++ {
				a[i*k+c] = -a[i*k+c]
			}
		}
	}
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }
