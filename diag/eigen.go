package diag

import (
	"errors"
	"fmt"
	"math"
)

// SymEigen returns the eigenvalues of the symmetric n x n matrix a (row-major,
// float64) in ascending order and, when wantVectors is set, the matching
// orthonormal eigenvectors: row i of vectors (vectors[i*n:(i+1)*n]) is the
// eigenvector of values[i], so that a v = lambda v. a is not modified.
//
// It reduces a to tridiagonal form with Householder reflections and finds
// the eigenvalues of the tridiagonal matrix with the implicit QL algorithm
// (the EISPACK routines tred2 and tql2, as in JAMA), in O(n^3) time. Only
// the upper triangle of a is read, so a Gram matrix needs only that half
// filled in. Without eigenvectors the accumulation of the transformations is
// skipped, which is about three times faster.
//
// A matrix holding NaN or Inf, a slice of the wrong length, or (in theory) an
// iteration that does not converge is an error.
func SymEigen(a []float64, n int, wantVectors bool) (values, vectors []float64, err error) {
	if n < 0 || len(a) != n*n {
		return nil, nil, fmt.Errorf("diag.SymEigen: matrix of %d values is not %d x %d", len(a), n, n)
	}
	for i, v := range a {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("diag.SymEigen: element (%d, %d) is %v", i/n, i%n, v)
		}
	}
	w := make([]float64, n*n)
	copy(w, a)
	d := make([]float64, n)
	e := make([]float64, n)
	if err := symEigen(w, d, e, n, wantVectors); err != nil {
		return nil, nil, err
	}
	if !wantVectors {
		return d, nil, nil
	}
	return d, w, nil
}

// errNoConvergence reports a QL iteration that did not converge (it needs a
// handful of iterations per eigenvalue on finite input).
var errNoConvergence = errors.New("diag.SymEigen: the QL iteration did not converge")

// symEigen is SymEigen on a workspace: w holds the matrix on entry (its
// upper triangle is read) and the eigenvectors as rows on return when
// vectors is set (otherwise it is scratch); d receives the eigenvalues in
// ascending order; e is scratch of length n. The input must be finite.
//
// The code follows JAMA's tred2 and tql2 with the matrix V of the Java code
// stored transposed (V[r][c] is w[c*n+r]), so that every inner loop runs
// along a row of w: the working matrix lives in the upper triangle of w, the
// Householder vectors in the lower one.
func symEigen(w, d, e []float64, n int, vectors bool) error {
	if n == 0 {
		return nil
	}
	if n == 1 {
		d[0] = w[0]
		if vectors {
			w[0] = 1
		}
		return nil
	}
	tridiagonalize(w, d, e, n, vectors)
	return tridiagonalQL(w, d, e, n, vectors)
}

// tridiagonalize reduces the symmetric matrix in w to tridiagonal form by
// Householder similarity transformations (tred2): on return d holds the
// diagonal, e[1:] the sub-diagonal (e[0] = 0), and with vectors set w holds
// the accumulated orthogonal transformation (row i is column i of Q).
func tridiagonalize(w, d, e []float64, n int, vectors bool) {
	for j := 0; j < n; j++ {
		d[j] = w[j*n+n-1]
	}
	for i := n - 1; i > 0; i-- {
		// Scale the row to avoid under- and overflow.
		scale, h := 0.0, 0.0
		for k := 0; k < i; k++ {
			scale += math.Abs(d[k])
		}
		if scale == 0 {
			e[i] = d[i-1]
			for j := 0; j < i; j++ {
				d[j] = w[j*n+i-1]
				w[j*n+i] = 0
				w[i*n+j] = 0
			}
			d[i] = 0
			continue
		}
		// Generate the Householder vector.
		for k := 0; k < i; k++ {
			d[k] /= scale
			h += d[k] * d[k]
		}
		f := d[i-1]
		g := math.Sqrt(h)
		if f > 0 {
			g = -g
		}
		e[i] = scale * g
		h -= f * g
		d[i-1] = f - g
		for j := 0; j < i; j++ {
			e[j] = 0
		}
		// Apply the similarity transformation to the remaining columns.
		for j := 0; j < i; j++ {
			f = d[j]
			w[i*n+j] = f
			col := w[j*n : j*n+i]
			g = e[j] + col[j]*f
			for k := j + 1; k < i; k++ {
				g += col[k] * d[k]
				e[k] += col[k] * f
			}
			e[j] = g
		}
		f = 0
		for j := 0; j < i; j++ {
			e[j] /= h
			f += e[j] * d[j]
		}
		hh := f / (h + h)
		for j := 0; j < i; j++ {
			e[j] -= hh * d[j]
		}
		for j := 0; j < i; j++ {
			f, g = d[j], e[j]
			col := w[j*n : j*n+i+1]
			for k := j; k < i; k++ {
				col[k] -= f*e[k] + g*d[k]
			}
			d[j] = col[i-1]
			col[i] = 0
		}
		d[i] = h
	}
	if !vectors {
		for j := 0; j < n; j++ {
			d[j] = w[j*n+j]
		}
		e[0] = 0
		return
	}
	// Accumulate the transformations.
	for i := 0; i < n-1; i++ {
		w[i*n+n-1] = w[i*n+i]
		w[i*n+i] = 1
		next := w[(i+1)*n : (i+1)*n+i+1]
		if h := d[i+1]; h != 0 {
			for k := 0; k <= i; k++ {
				d[k] = next[k] / h
			}
			for j := 0; j <= i; j++ {
				col := w[j*n : j*n+i+1]
				g := 0.0
				for k, v := range next {
					g += v * col[k]
				}
				for k := range col {
					col[k] -= g * d[k]
				}
			}
		}
		clear(next)
	}
	for j := 0; j < n; j++ {
		d[j] = w[j*n+n-1]
		w[j*n+n-1] = 0
	}
	w[n*n-1] = 1
	e[0] = 0
}

// maxQLIterations bounds the QL iterations per eigenvalue; on finite input
// the iteration converges cubically and needs two or three.
const maxQLIterations = 60

// tridiagonalQL finds the eigenvalues of the symmetric tridiagonal matrix
// with diagonal d and sub-diagonal e[1:] by the QL algorithm with implicit
// shifts (tql2), and sorts them ascending into d; with vectors set it
// applies the rotations to the rows of w, which then hold the eigenvectors.
func tridiagonalQL(w, d, e []float64, n int, vectors bool) error {
	for i := 1; i < n; i++ {
		e[i-1] = e[i]
	}
	e[n-1] = 0
	f, tst1 := 0.0, 0.0
	const eps = 0x1p-52
	for l := 0; l < n; l++ {
		// Find a small sub-diagonal element.
		tst1 = max(tst1, math.Abs(d[l])+math.Abs(e[l]))
		m := l
		for m < n-1 && math.Abs(e[m]) > eps*tst1 {
			m++
		}
		// If m == l, d[l] is an eigenvalue; otherwise iterate.
		for iter := 0; m > l; iter++ {
			if iter == maxQLIterations {
				return errNoConvergence
			}
			// Compute the implicit shift.
			g := d[l]
			p := (d[l+1] - g) / (2 * e[l])
			r := math.Hypot(p, 1)
			if p < 0 {
				r = -r
			}
			d[l] = e[l] / (p + r)
			d[l+1] = e[l] * (p + r)
			dl1 := d[l+1]
			h := g - d[l]
			for i := l + 2; i < n; i++ {
				d[i] -= h
			}
			f += h
			// Implicit QL transformation.
			p = d[m]
			c, c2, c3 := 1.0, 1.0, 1.0
			el1 := e[l+1]
			s, s2 := 0.0, 0.0
			for i := m - 1; i >= l; i-- {
				c3, c2, s2 = c2, c, s
				g = c * e[i]
				h = c * p
				r = math.Hypot(p, e[i])
				e[i+1] = s * r
				s = e[i] / r
				c = p / r
				p = c*d[i] - s*g
				d[i+1] = h + s*(c*g+s*d[i])
				if vectors {
					rotate(w[i*n:(i+1)*n], w[(i+1)*n:(i+2)*n], c, s)
				}
			}
			p = -s * s2 * c3 * el1 * e[l] / dl1
			e[l] = s * p
			d[l] = c * p
			if !(math.Abs(e[l]) > eps*tst1) {
				break
			}
		}
		d[l] += f
		e[l] = 0
	}
	// Sort the eigenvalues (and their vectors) ascending.
	for i := 0; i < n-1; i++ {
		k, p := i, d[i]
		for j := i + 1; j < n; j++ {
			if d[j] < p {
				k, p = j, d[j]
			}
		}
		if k != i {
			d[k], d[i] = d[i], p
			if vectors {
				a, b := w[i*n:(i+1)*n], w[k*n:(k+1)*n]
				for j := range a {
					a[j], b[j] = b[j], a[j]
				}
			}
		}
	}
	return nil
}

// rotate applies one Givens rotation to the rows a and b (columns i and i+1
// of JAMA's V).
func rotate(a, b []float64, c, s float64) {
	b = b[:len(a)]
	for k, ak := range a {
		h := b[k]
		b[k] = s*ak + c*h
		a[k] = c*ak - s*h
	}
}
