package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randomTensor(r *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = r.Float32()
	}
	return t
}

// The quarter turns agree with torch.rot90(x, k, dims=(2, 3)) on a 2x3
// plane (the expected values are torch's).
func TestRotate90MatchesTorch(t *testing.T) {
	src := FromData([]float32{1, 2, 3, 4, 5, 6}, 1, 1, 2, 3)
	cases := []struct {
		k     int
		shape []int
		want  []float32
	}{
		{0, []int{1, 1, 2, 3}, []float32{1, 2, 3, 4, 5, 6}},
		{1, []int{1, 1, 3, 2}, []float32{3, 6, 2, 5, 1, 4}},
		{2, []int{1, 1, 2, 3}, []float32{6, 5, 4, 3, 2, 1}},
		{3, []int{1, 1, 3, 2}, []float32{4, 1, 5, 2, 6, 3}},
		{-1, []int{1, 1, 3, 2}, []float32{4, 1, 5, 2, 6, 3}},
		{5, []int{1, 1, 3, 2}, []float32{3, 6, 2, 5, 1, 4}},
	}
	for _, c := range cases {
		dst := New(c.shape...)
		Rotate90(dst, src, c.k)
		for i, v := range c.want {
			if dst.Data[i] != v {
				t.Fatalf("k=%d: got %v, want %v", c.k, dst.Data, c.want)
			}
		}
	}
}

// Quarter turns compose: k turns then 4-k turns give the input back, on
// several planes at once (so plane offsets are right too).
func TestRotate90Composes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	src := randomTensor(r, 3, 2, 5, 7)
	for k := 0; k < 4; k++ {
		mid := New(rotShape(src, k)...)
		Rotate90(mid, src, k)
		back := New(src.Shape()...)
		Rotate90(back, mid, 4-k)
		for i := range src.Data {
			if back.Data[i] != src.Data[i] {
				t.Fatalf("k=%d: rotating back differs at %d", k, i)
			}
		}
	}
}

func rotShape(t *Tensor, k int) []int {
	s := append([]int(nil), t.Shape()...)
	if k%2 == 1 {
		s[2], s[3] = s[3], s[2]
	}
	return s
}

// The bilinear path reproduces the exact quarter turns on square planes,
// so the 45-degree rotations of the 8-way task use the same convention.
func TestRotateBilinearAgreesWithQuarterTurns(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{6, 7} {
		src := randomTensor(r, 2, 3, size, size)
		for k := 1; k < 4; k++ {
			want := New(src.Shape()...)
			Rotate90(want, src, k)
			got := New(src.Shape()...)
			rotateBilinear(got, src, 6, size, size, float64(90*k))
			for i := range want.Data {
				if math.Abs(float64(got.Data[i]-want.Data[i])) > 1e-5 {
					t.Fatalf("size %d, %d degrees: bilinear %v, exact %v at %d", size, 90*k, got.Data[i], want.Data[i], i)
				}
			}
		}
	}
}

// A blob right of the centre moves to the upper right under a 45-degree
// counter-clockwise rotation; the corners, which come from outside the
// image, are 0; rotating back restores the middle of a smooth image.
func TestRotate45(t *testing.T) {
	const size = 17
	c := float64(size-1) / 2
	blob := func(by, bx, width float64) *Tensor {
		x := New(1, 1, size, size)
		for y := 0; y < size; y++ {
			for xx := 0; xx < size; xx++ {
				d2 := (float64(y)-by)*(float64(y)-by) + (float64(xx)-bx)*(float64(xx)-bx)
				x.Data[y*size+xx] = float32(math.Exp(-d2 / width))
			}
		}
		return x
	}
	src := blob(c, c+4, 4)
	dst := New(src.Shape()...)
	Rotate(dst, src, 45)
	var m, my, mx float64
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			v := float64(dst.Data[y*size+x])
			m += v
			my += v * float64(y)
			mx += v * float64(x)
		}
	}
	wantY, wantX := c-4/math.Sqrt2, c+4/math.Sqrt2
	if math.Abs(my/m-wantY) > 0.1 || math.Abs(mx/m-wantX) > 0.1 {
		t.Fatalf("blob centroid (%.2f, %.2f), want (%.2f, %.2f)", my/m, mx/m, wantY, wantX)
	}
	ones := New(1, 1, size, size)
	ones.Fill(1)
	rot := New(ones.Shape()...)
	Rotate(rot, ones, 45)
	for _, i := range []int{0, size - 1, size * (size - 1), size*size - 1} {
		if rot.Data[i] != 0 {
			t.Fatalf("corner %d is %v, want 0", i, rot.Data[i])
		}
	}
	if rot.Data[size*size/2] != 1 {
		t.Fatalf("centre %v, want 1", rot.Data[size*size/2])
	}
	smooth := blob(c+1, c-1, 16)
	back := New(src.Shape()...)
	Rotate(dst, smooth, 45)
	Rotate(back, dst, -45)
	for y := 4; y < size-4; y++ {
		for x := 4; x < size-4; x++ {
			if d := math.Abs(float64(back.Data[y*size+x] - smooth.Data[y*size+x])); d > 0.06 {
				t.Fatalf("45 then -45 degrees differs by %.3f at (%d, %d)", d, y, x)
			}
		}
	}
}

// RotNet's four rotations of a 2x2 image: quarter turns counter-clockwise.
func ExampleRotate90() {
	x := FromData([]float32{1, 2, 3, 4}, 1, 1, 2, 2)
	out := New(1, 1, 2, 2)
	for k := 0; k < 4; k++ {
		Rotate90(out, x, k)
		fmt.Println(k*90, out.Data)
	}
	// Output:
	// 0 [1 2 3 4]
	// 90 [2 4 1 3]
	// 180 [4 3 2 1]
	// 270 [3 1 4 2]
}
