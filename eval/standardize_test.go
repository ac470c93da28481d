package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/tensor"
)

func TestFitStandardizerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 3000} {
		x := randMatrix(rng, n, 5)
		for i := 0; i < n; i++ {
			x.Data[i*5+1] = x.Data[i*5+1]*3 + 100 // large mean, std 3
			x.Data[i*5+4] = 2.5                   // constant column
		}
		s, err := FitStandardizer(x, 0)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 5; j++ {
			mean, sq := 0.0, 0.0
			for i := 0; i < n; i++ {
				mean += float64(x.Data[i*5+j])
			}
			mean /= float64(n)
			for i := 0; i < n; i++ {
				v := float64(x.Data[i*5+j]) - mean
				sq += v * v
			}
			std := math.Sqrt(sq / float64(n))
			if std <= DefaultStdEpsilon {
				std = 1
			}
			if math.Abs(float64(s.Mean.Data[j])-mean) > 1e-5*math.Max(1, math.Abs(mean)) ||
				math.Abs(float64(s.Std.Data[j])-std) > 1e-5*std {
				t.Errorf("n=%d col %d: mean/std %v/%v, want %v/%v", n, j, s.Mean.Data[j], s.Std.Data[j], mean, std)
			}
		}
		if s.Std.Data[4] != 1 {
			t.Errorf("constant column got std %v, want 1", s.Std.Data[4])
		}
		// Apply leaves x alone and standardises the copy.
		before := x.Clone()
		z, err := s.Apply(x)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x.Data {
			if x.Data[i] != before.Data[i] {
				t.Fatal("Apply modified its input")
			}
		}
		if n > 1 {
			s2, _ := FitStandardizer(z, 0)
			for j := 0; j < 4; j++ {
				if math.Abs(float64(s2.Mean.Data[j])) > 1e-4 || math.Abs(float64(s2.Std.Data[j])-1) > 1e-4 {
					t.Errorf("n=%d col %d: standardised mean/std %v/%v", n, j, s2.Mean.Data[j], s2.Std.Data[j])
				}
			}
		}
		if err := s.ApplyInPlace(x); err != nil {
			t.Fatal(err)
		}
		for i := range x.Data {
			if x.Data[i] != z.Data[i] {
				t.Fatal("ApplyInPlace differs from Apply")
			}
		}
	}
}

// The test set is standardised with the training statistics: a shifted test
// set keeps its shift instead of being re-centred.
func TestStandardizerUsesTrainStatisticsOnly(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	train := randMatrix(rng, 2000, 3)
	test := randMatrix(rng, 2000, 3)
	for i := range test.Data {
		test.Data[i] = test.Data[i]*2 + 5
	}
	s, err := FitStandardizer(train, 0)
	if err != nil {
		t.Fatal(err)
	}
	z, err := s.Apply(test)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := FitStandardizer(z, 0)
	for j := 0; j < 3; j++ {
		if m := st.Mean.Data[j]; m < 4.5 || m > 5.5 {
			t.Errorf("col %d: standardised test mean %v, want about 5 (train-based)", j, m)
		}
		if sd := st.Std.Data[j]; sd < 1.8 || sd > 2.2 {
			t.Errorf("col %d: standardised test std %v, want about 2 (train-based)", j, sd)
		}
	}
}

func TestStandardizerErrors(t *testing.T) {
	s, _ := FitStandardizer(tensor.FromData([]float32{1, 2, 3, 5}, 2, 2), 0)
	nan := tensor.FromData([]float32{1, float32(math.NaN())}, 1, 2)
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"columns", func() error { _, err := s.Apply(tensor.New(2, 3)); return err }, "3 columns"},
		{"nan", func() error { _, err := s.Apply(nan); return err }, "NaN at row 0, column 1"},
		{"fit nan", func() error { _, err := FitStandardizer(nan, 0); return err }, "NaN"},
		{"fit empty", func() error { _, err := FitStandardizer(tensor.New(0, 2), 0); return err }, "at least one row"},
		{"negative epsilon", func() error { _, err := FitStandardizer(tensor.New(2, 2), -1); return err }, "epsilon"},
		{"bad std", func() error {
			b := &Standardizer{Mean: tensor.New(2), Std: tensor.New(2)}
			return b.ApplyInPlace(tensor.New(1, 2))
		}, "std[0] is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
