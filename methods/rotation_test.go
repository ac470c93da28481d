package methods

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/tensor"
)

func pretextSpec(method string, size int, params string) Spec {
	s := Spec{Method: method, Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: size}}
	if params != "" {
		s.Params = json.RawMessage(params)
	}
	return s
}

// The rotated batch holds rotation k of every image in block k, labelled
// k: exact quarter turns, and for 8 rotations bilinear 45-degree turns
// with empty corners.
func TestRotationBatch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := tensor.New(3, 1, 9, 9)
	nn.Uniform(x, 1, r)
	cases := []struct {
		rotations int
		quarter   map[int]int // block -> quarter turns it must equal
	}{
		{2, map[int]int{0: 0, 1: 2}},
		{4, map[int]int{0: 0, 1: 1, 2: 2, 3: 3}},
		{8, map[int]int{0: 0, 2: 1, 4: 2, 6: 3}},
	}
	for _, c := range cases {
		m, err := Build(pretextSpec("rotation", 9, fmt.Sprintf(`{"rotations":%d,"hidden_dim":8}`, c.rotations)), r)
		if err != nil {
			t.Fatal(err)
		}
		out, labels := m.(*Rotation).Rotate(x)
		if s := out.Shape(); s[0] != 3*c.rotations {
			t.Fatalf("%d rotations: batch shape %v", c.rotations, s)
		}
		for i, l := range labels {
			if l != i/3 {
				t.Fatalf("%d rotations: row %d labelled %d, want %d", c.rotations, i, l, i/3)
			}
		}
		for block, k := range c.quarter {
			want := tensor.New(x.Shape()...)
			tensor.Rotate90(want, x, k)
			got := out.Slice(3*block, 3*block+3)
			for i := range want.Data {
				if got.Data[i] != want.Data[i] {
					t.Fatalf("%d rotations: block %d is not %d quarter turns", c.rotations, block, k)
				}
			}
		}
		if c.rotations == 8 {
			odd := out.Slice(3, 6) // 45 degrees
			for img := 0; img < 3; img++ {
				if v := odd.At(img, 0, 0, 0); v != 0 {
					t.Fatalf("45-degree rotation: corner %v, want 0", v)
				}
				if a, b := odd.At(img, 0, 4, 4), x.At(img, 0, 4, 4); a != b {
					t.Fatalf("45-degree rotation moved the centre pixel: %v, want %v", a, b)
				}
			}
		}
		tensor.Buffers.Put(out)
	}
}

func TestRotationRejectsBadParams(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct{ params, want string }{
		{`{"rotations":3}`, "rotations = 3"},
		{`{"rotations":0}`, "rotations = 0"},
		{`{"augment":{"min_scale":1.5}}`, "min_scale"},
		{`{"hidden_dim":-4}`, "hidden_dim"},
		{`{"angles":4}`, "unknown field"},
	}
	for _, c := range cases {
		_, err := Build(pretextSpec("rotation", 16, c.params), r)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", c.params, err, c.want)
		}
	}
	if d, err := Defaults("rotation"); err != nil || d.Optimizer != "sgd" || d.LR != 0.1 || d.WeightDecay != 5e-4 || d.Momentum != 0.9 {
		t.Fatalf("rotation defaults %+v, %v; want RotNet's SGD 0.1, momentum 0.9, wd 5e-4", d, err)
	}
}

// The three classification pretext tasks on 32-pixel colour images: the
// loss starts near log(classes), the step's accuracy is logged, and the
// held-out metrics name the task.
func TestPretextTasksOnColourImages(t *testing.T) {
	cases := []struct {
		method, params, key string
		classes             int
	}{
		{"rotation", `{"hidden_dim":16}`, "rotation_acc", 4},
		{"rotation", `{"hidden_dim":16,"rotations":8}`, "rotation_acc", 8},
		{"location", `{"hidden_dim":16,"pairs":4}`, "location_acc", 8},
		{"jigsaw", `{"hidden_dim":16,"permutations":100}`, "jigsaw_acc", 100},
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			spec := pretextSpec(c.method, 32, c.params)
			spec.Backbone.InChannels = 3
			spec, err := Resolve(spec, RunInfo{BatchSize: 4, DataLen: 64})
			if err != nil {
				t.Fatal(err)
			}
			m, err := Build(spec, r)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, h, err := m.Views()[0].OutShape(3, 40, 40); err != nil || h != 32 {
				t.Fatalf("the view makes %d-pixel images of 40-pixel ones (%v), want 32", h, err)
			}
			x := tensor.New(4, 3, 32, 32)
			nn.Uniform(x, 1, r)
			b := loader.Batch{Views: []*tensor.Tensor{x}}
			out := m.Loss(b, r)
			l := float64(out.Loss.Item())
			if math.Abs(l-math.Log(float64(c.classes))) > 1 {
				t.Fatalf("initial loss %.3f, want near log %d = %.3f", l, c.classes, math.Log(float64(c.classes)))
			}
			if _, ok := out.Metrics[c.key]; !ok {
				t.Fatalf("step metrics %v lack %s", out.Metrics, c.key)
			}
			if err := out.Loss.Backward(); err != nil {
				t.Fatal(err)
			}
			m.SetTraining(false)
			got := m.(PretextEvaluator).PretextMetrics(b, r)
			task := strings.TrimSuffix(c.key, "_acc")
			if _, ok := got[task+"_loss"]; !ok || got[c.key] < 0 || got[c.key] > 1 {
				t.Fatalf("held-out metrics %v", got)
			}
		})
	}
}
