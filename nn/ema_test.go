package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestEMAUpdate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	cfg := BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}
	a, _ := NewBackbone(cfg, r)
	b, _ := NewBackbone(cfg, r)
	sa, sb := StateDict("", a), StateDict("", b)
	name := "layer1.0.conv1.weight"
	before := sa[name].Data[3]
	src := sb[name].Data[3]
	if err := EMAUpdate(a, b, 0.9); err != nil {
		t.Fatal(err)
	}
	if got, want := sa[name].Data[3], 0.9*before+0.1*src; got-want > 1e-6 || want-got > 1e-6 {
		t.Fatalf("EMA: %v, want %v", got, want)
	}
	if err := CopyWeights(a, b); err != nil {
		t.Fatal(err)
	}
	for n, tt := range sa {
		for i, v := range tt.Data {
			if v != sb[n].Data[i] {
				t.Fatalf("CopyWeights: %s[%d] = %v, want %v", n, i, v, sb[n].Data[i])
			}
		}
	}
	other, _ := NewBackbone(BackboneConfig{Arch: "resnet18-cifar", InChannels: 1, ImageSize: 16}, r)
	if err := EMAUpdate(a, other, 0.9); err == nil {
		t.Fatal("EMA between different architectures accepted")
	}
}

// emaPair returns two heads of the same architecture with different
// weights and distinct batch-norm buffers: the target has counted 3
// batches, the source 7.
func emaPair(t *testing.T, seed uint64) (target, source *MLP) {
	t.Helper()
	cfg := MLPConfig{Dims: []int{3, 5, 2}, HiddenBN: true, LastBN: true}
	r := rand.New(rand.NewPCG(seed, 1))
	var err error
	if target, err = NewMLP(cfg, r); err != nil {
		t.Fatal(err)
	}
	if source, err = NewMLP(cfg, r); err != nil {
		t.Fatal(err)
	}
	for i, m := range []*MLP{target, source} {
		s := StateOf(m)
		for _, p := range s.Params {
			for j := range p.Var.Value.Data {
				p.Var.Value.Data[j] = float32(r.NormFloat64())
			}
		}
		for _, b := range s.Buffers {
			if strings.HasSuffix(b.Name, "num_batches_tracked") {
				b.Tensor.Data[0] = float32(3 + 4*i)
				continue
			}
			for j := range b.Tensor.Data {
				b.Tensor.Data[j] = float32(r.Float64() + 0.5)
			}
		}
	}
	return target, source
}

// snapshot copies every tensor of m to float64, by name.
func snapshot(m Module) map[string][]float64 {
	out := map[string][]float64{}
	for name, t := range StateDict("", m) {
		v := make([]float64, t.Len())
		for i, x := range t.Data {
			v[i] = float64(x)
		}
		out[name] = v
	}
	return out
}

// TestEMAUpdateMatchesFloat64 checks MoCo's momentum_update_key_encoder,
// param_k = m*param_k + (1-m)*param_q, against the float64 formula for
// every parameter, after one step and after ten (closed form m^k), and that
// buffers are left alone (MoCo, BYOL and DINO update parameters only)
// while CopyWeights copies everything, num_batches_tracked included.
func TestEMAUpdateMatchesFloat64(t *testing.T) {
	for _, tc := range []struct {
		m     float32
		steps int
	}{{0.99, 1}, {0.99, 10}, {0.999, 3}, {0.5, 1}, {0, 1}, {1, 2}} {
		t.Run(fmt.Sprintf("m%v_steps%d", tc.m, tc.steps), func(t *testing.T) {
			target, source := emaPair(t, 5)
			t0, s0 := snapshot(target), snapshot(source)
			for range tc.steps {
				if err := EMAUpdate(target, source, tc.m); err != nil {
					t.Fatal(err)
				}
			}
			mk := math.Pow(float64(tc.m), float64(tc.steps))
			params := map[string]bool{}
			for _, p := range StateOf(target).Params {
				params[p.Name] = true
			}
			if len(params) == 0 {
				t.Fatal("no parameters")
			}
			for name, tt := range StateDict("", target) {
				for i, got := range tt.Data {
					want := t0[name][i] // buffers: unchanged
					if params[name] {
						want = mk*t0[name][i] + (1-mk)*s0[name][i]
					}
					tol := 1e-6 * (math.Abs(t0[name][i]) + math.Abs(s0[name][i])) * float64(tc.steps)
					if math.Abs(float64(got)-want) > tol {
						t.Fatalf("%s[%d] = %v, want %v (param %v)", name, i, got, want, params[name])
					}
				}
			}
			for name, st := range StateDict("", source) {
				for i, v := range st.Data {
					if float64(v) != s0[name][i] {
						t.Fatalf("source %s[%d] changed: %v, was %v", name, i, v, s0[name][i])
					}
				}
			}
		})
	}
	target, source := emaPair(t, 6)
	if err := CopyWeights(target, source); err != nil {
		t.Fatal(err)
	}
	src := StateDict("", source)
	copied := 0
	for name, tt := range StateDict("", target) {
		for i, v := range tt.Data {
			if v != src[name].Data[i] {
				t.Fatalf("CopyWeights: %s[%d] = %v, source %v", name, i, v, src[name].Data[i])
			}
		}
		if strings.HasSuffix(name, "num_batches_tracked") {
			if tt.Data[0] != 7 {
				t.Fatalf("CopyWeights: %s = %v, want 7", name, tt.Data[0])
			}
			copied++
		}
	}
	if copied != 2 {
		t.Fatalf("%d num_batches_tracked buffers, want 2", copied)
	}
}

// TestEMAUpdateRejectsMismatch checks that modules of different
// architectures are refused with an error naming the problem, by
// CopyWeights too.
func TestEMAUpdateRejectsMismatch(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	mk := func(cfg MLPConfig) *MLP {
		m, err := NewMLP(cfg, r)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	base := MLPConfig{Dims: []int{3, 5, 2}, HiddenBN: true}
	for _, tc := range []struct {
		name  string
		other MLPConfig
		want  string
	}{
		{"width", MLPConfig{Dims: []int{3, 4, 2}, HiddenBN: true}, "0.weight"},
		{"count", MLPConfig{Dims: []int{3, 5, 2}}, "parameters"},
		{"depth", MLPConfig{Dims: []int{3, 5, 5, 2}, HiddenBN: true}, "parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, other := mk(base), mk(tc.other)
			err := EMAUpdate(target, other, 0.99)
			if err == nil {
				t.Fatal("EMAUpdate accepted a different architecture")
			}
			if !strings.Contains(err.Error(), "EMAUpdate") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q should name EMAUpdate and %q", err, tc.want)
			}
			if err := CopyWeights(target, other); err == nil {
				t.Fatal("CopyWeights accepted a different architecture")
			}
		})
	}
}
