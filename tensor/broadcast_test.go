package tensor

import (
	"math/rand/v2"
	"testing"
)

// naiveBroadcast evaluates a op b by full index arithmetic.
func naiveBroadcast(op BinaryOp, as, bs, out []int, a, b []float32) []float32 {
	res := make([]float32, Numel(out))
	nd := len(out)
	idx := make([]int, nd)
	for o := range res {
		rem := o
		for d := nd - 1; d >= 0; d-- {
			idx[d] = rem % out[d]
			rem /= out[d]
		}
		off := func(shape []int) int {
			k := 0
			for d := 0; d < len(shape); d++ {
				i := idx[d+nd-len(shape)]
				if shape[d] == 1 {
					i = 0
				}
				k = k*shape[d] + i
			}
			return k
		}
		x, y := a[off(as)], b[off(bs)]
		switch op {
		case Add:
			res[o] = x + y
		case Sub:
			res[o] = x - y
		case Mul:
			res[o] = x * y
		case Div:
			res[o] = x / y
		}
	}
	return res
}

func TestBroadcastMatchesNaive(t *testing.T) {
	cases := []struct{ a, b []int }{
		{[]int{3, 4}, []int{3, 4}},
		{[]int{3, 4}, []int{4}},
		{[]int{2, 3, 4, 5}, []int{1, 3, 1, 1}},
		{[]int{2, 3, 4, 5}, []int{5}},
		{[]int{1, 3, 1}, []int{2, 1, 4}},
		{[]int{}, []int{2, 3}},
		{[]int{2, 1, 4}, []int{2, 3, 1}},
		{[]int{5, 1}, []int{1}},
		{[]int{2, 3, 1, 5}, []int{2, 3, 4, 5}},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range cases {
		for _, op := range []BinaryOp{Add, Sub, Mul, Div} {
			p, err := NewBroadcast(c.a, c.b)
			if err != nil {
				t.Fatal(err)
			}
			a := randSlice(r, Numel(c.a))
			b := randSlice(r, Numel(c.b))
			for i := range b {
				if op == Div && b[i] > -0.1 && b[i] < 0.1 {
					b[i] = 0.5
				}
			}
			want := naiveBroadcast(op, c.a, c.b, p.Out, a, b)
			got := make([]float32, p.Len())
			p.Binary(op, got, a, b, false)
			for i := range want {
				if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("%v op %v %v: element %d got %v want %v", c.a, op, c.b, i, got[i], want[i])
				}
			}
			// accumulate doubles the result
			p.Binary(op, got, a, b, true)
			for i := range want {
				if d := got[i] - 2*want[i]; d > 1e-4 || d < -1e-4 {
					t.Fatalf("accumulate %v op %v %v: element %d got %v want %v", c.a, op, c.b, i, got[i], 2*want[i])
				}
			}
		}
		// ReduceInto: summing ones over the broadcast gives the replication count
		p, _ := NewBroadcast(c.a, c.b)
		ones := make([]float32, p.Len())
		for i := range ones {
			ones[i] = 1
		}
		dst := make([]float32, Numel(c.a))
		p.ReduceInto(dst, ones, false)
		want := float32(p.Len() / max(1, Numel(c.a)))
		for i, v := range dst {
			if v != want {
				t.Fatalf("ReduceInto %v<-%v: dst[%d]=%v want %v", c.a, p.Out, i, v, want)
			}
		}
	}
	if _, err := NewBroadcast([]int{2, 3}, []int{4}); err == nil {
		t.Fatal("incompatible shapes accepted")
	}
}
