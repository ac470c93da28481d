package autograd_test

import (
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/tensor"
)

// tUpsampleNearest is the float64 twin of UpsampleNearest: output pixel
// (y, x) copies input pixel (y/f, x/f).
func tUpsampleNearest(x *nd, f int) *nd {
	n, c, h, w := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	out := zeros(n, c, h*f, w*f)
	for p := range n * c {
		for y := range h * f {
			for xx := range w * f {
				out.d[(p*h*f+y)*w*f+xx] = x.d[(p*h+y/f)*w+xx/f]
			}
		}
	}
	return out
}

// UpsampleNearest against its twin through the gradient-check harness
// (forward, finite differences, accumulation), with shapes whose planes
// are split over the workers and a non-square one.
func TestUpsampleNearestGradients(t *testing.T) {
	cases := []struct {
		name   string
		shape  []int
		factor int
	}{
		{"UpsampleNearest/x2", []int{2, 3, 4, 4}, 2},
		{"UpsampleNearest/x3 non-square", []int{1, 2, 3, 5}, 3},
		{"UpsampleNearest/x1", []int{2, 2, 3, 3}, 1},
		{"UpsampleNearest/x4 many planes", []int{2, 512, 2, 2}, 4}, // split over the workers
	}
	for _, c := range cases {
		f := c.factor
		tc := gradCase{
			name:  c.name,
			in:    []gradInput{P(c.shape...)},
			build: func(v []*autograd.Var) *autograd.Var { return autograd.UpsampleNearest(v[0], f) },
			twin:  func(x []*nd) *nd { return tUpsampleNearest(x[0], f) },
		}
		t.Run(c.name, func(t *testing.T) { runGradCase(t, tc) })
	}
}

func TestUpsampleNearestValuesAndErrors(t *testing.T) {
	x := autograd.Const(tensor.FromData([]float32{1, 2, 3, 4}, 1, 1, 2, 2))
	got := autograd.UpsampleNearest(x, 2).Value
	want := []float32{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}
	for i, v := range want {
		if got.Data[i] != v {
			t.Fatalf("upsampled %v, want %v", got.Data, want)
		}
	}
	for _, c := range []struct {
		x      *autograd.Var
		factor int
		want   string
	}{
		{x, 0, "factor 0"},
		{autograd.Const(tensor.New(2, 2)), 2, "4 dimensions"},
	} {
		err := autograd.Guard(func() error { autograd.UpsampleNearest(c.x, c.factor); return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("err = %v, want one mentioning %q", err, c.want)
		}
	}
}
