package diag_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"selfsup/diag"
)

// randomSymmetric returns an n x n symmetric matrix with entries in [-1, 1).
func randomSymmetric(n int, r *rand.Rand) []float64 {
	a := make([]float64, n*n)
	for i := range n {
		for j := i; j < n; j++ {
			v := 2*r.Float64() - 1
			a[i*n+j], a[j*n+i] = v, v
		}
	}
	return a
}

// checkEigen fails t unless values ascend, the rows of vectors are
// orthonormal and every pair satisfies a v = lambda v, all to tol relative
// to the matrix's largest entry.
func checkEigen(t *testing.T, a []float64, n int, values, vectors []float64, tol float64) {
	t.Helper()
	if len(values) != n || len(vectors) != n*n {
		t.Fatalf("%d values and %d vector entries for n = %d", len(values), len(vectors), n)
	}
	if !slices.IsSorted(values) {
		t.Errorf("values not ascending: %v", values)
	}
	scale := 1.0
	for _, v := range a {
		scale = max(scale, math.Abs(v))
	}
	for i := range n {
		vi := vectors[i*n : (i+1)*n]
		for j := range n {
			vj := vectors[j*n : (j+1)*n]
			dot := 0.0
			for k := range n {
				dot += vi[k] * vj[k]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(dot-want) > tol {
				t.Errorf("v%d . v%d = %v, want %v", i, j, dot, want)
			}
		}
		worst := 0.0
		for r := range n {
			av := 0.0
			for k := range n {
				av += a[r*n+k] * vi[k]
			}
			worst = max(worst, math.Abs(av-values[i]*vi[r]))
		}
		if worst > tol*scale*float64(n) {
			t.Errorf("eigenpair %d (lambda %v): |A v - lambda v| reaches %v", i, values[i], worst)
		}
	}
}

func TestSymEigenKnownMatrices(t *testing.T) {
	th := 0.3
	c, s := math.Cos(th), math.Sin(th)
	// R diag(5, 1) R^T with R the rotation by th: eigenvalues 1 and 5 with
	// the columns of R as eigenvectors.
	rot := []float64{
		5*c*c + s*s, (5 - 1) * c * s,
		(5 - 1) * c * s, 5*s*s + c*c,
	}
	// The second-difference matrix tridiag(-1, 2, -1) of order 6 has the
	// eigenvalues 2 - 2 cos(k pi / 7), k = 1..6.
	const m = 6
	lap := make([]float64, m*m)
	var lapValues []float64
	for i := range m {
		lap[i*m+i] = 2
		if i+1 < m {
			lap[i*m+i+1], lap[(i+1)*m+i] = -1, -1
		}
		lapValues = append(lapValues, 2-2*math.Cos(float64(i+1)*math.Pi/(m+1)))
	}
	cases := []struct {
		name    string
		a       []float64
		n       int
		values  []float64
		vectors [][]float64 // expected eigenvectors up to sign (nil: not checked)
	}{
		{"empty", nil, 0, []float64{}, nil},
		{"1x1", []float64{-2.5}, 1, []float64{-2.5}, [][]float64{{1}}},
		{"diagonal", []float64{3, 0, 0, 0, -1, 0, 0, 0, 2}, 3, []float64{-1, 2, 3},
			[][]float64{{0, 1, 0}, {0, 0, 1}, {1, 0, 0}}},
		{"rotated diagonal", rot, 2, []float64{1, 5}, [][]float64{{-s, c}, {c, s}}},
		{"zero", make([]float64, 16), 4, []float64{0, 0, 0, 0}, nil},
		{"identity times 2", []float64{2, 0, 0, 0, 2, 0, 0, 0, 2}, 3, []float64{2, 2, 2}, nil},
		{"all ones", []float64{1, 1, 1, 1, 1, 1, 1, 1, 1}, 3, []float64{0, 0, 3}, nil},
		{"second difference", lap, m, lapValues, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.a)
			values, vectors, err := diag.SymEigen(tc.a, tc.n, true)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tc.a, orig) {
				t.Errorf("SymEigen modified its input")
			}
			for i, want := range tc.values {
				if math.Abs(values[i]-want) > 1e-12 {
					t.Errorf("value %d = %v, want %v (all: %v)", i, values[i], want, values)
				}
			}
			checkEigen(t, tc.a, tc.n, values, vectors, 1e-12)
			for i, want := range tc.vectors {
				got := vectors[i*tc.n : (i+1)*tc.n]
				dot := 0.0
				for k := range want {
					dot += got[k] * want[k]
				}
				if math.Abs(math.Abs(dot)-1) > 1e-12 {
					t.Errorf("vector %d = %v, want +-%v", i, got, want)
				}
			}
			only, none, err := diag.SymEigen(tc.a, tc.n, false)
			if err != nil || none != nil {
				t.Fatalf("values only: vectors %v, error %v", none, err)
			}
			for i := range only {
				if math.Abs(only[i]-values[i]) > 1e-12 {
					t.Errorf("values only: value %d = %v, with vectors %v", i, only[i], values[i])
				}
			}
		})
	}
}

func TestSymEigenRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{2, 3, 7, 40, 129} {
		a := randomSymmetric(n, r)
		values, vectors, err := diag.SymEigen(a, n, true)
		if err != nil {
			t.Fatalf("n = %d: %v", n, err)
		}
		checkEigen(t, a, n, values, vectors, 1e-11)

		// The eigenvalues sum to the trace and their squares to the
		// Frobenius norm.
		trace, frob, sum, sumSq := 0.0, 0.0, 0.0, 0.0
		for i := range n {
			trace += a[i*n+i]
			sum += values[i]
			sumSq += values[i] * values[i]
		}
		for _, v := range a {
			frob += v * v
		}
		if math.Abs(trace-sum) > 1e-10*float64(n) || math.Abs(frob-sumSq) > 1e-10*frob {
			t.Errorf("n = %d: trace %v vs sum %v, |A|^2 %v vs sum of squares %v", n, trace, sum, frob, sumSq)
		}

		// Without vectors: the same values. Only the upper triangle is
		// read, so garbage below the diagonal changes nothing.
		upper := slices.Clone(a)
		for i := range n {
			for j := range i {
				upper[i*n+j] = 1e6
			}
		}
		only, _, err := diag.SymEigen(upper, n, false)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if math.Abs(only[i]-values[i]) > 1e-10 {
				t.Errorf("n = %d: value %d is %v without vectors, %v with", n, i, only[i], values[i])
				break
			}
		}
	}
}

func TestSymEigenBadInput(t *testing.T) {
	cases := []struct {
		name string
		a    []float64
		n    int
		want string
	}{
		{"NaN", []float64{1, math.NaN(), math.NaN(), 1}, 2, "NaN"},
		{"Inf", []float64{1, 0, 0, math.Inf(-1)}, 2, "-Inf"},
		{"wrong length", []float64{1, 2, 3}, 2, "3 values is not 2 x 2"},
		{"negative order", nil, -1, "not -1 x -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, vec := range []bool{false, true} {
				_, _, err := diag.SymEigen(tc.a, tc.n, vec)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("vectors %v: error %v, want one mentioning %q", vec, err, tc.want)
				}
			}
		})
	}
}
