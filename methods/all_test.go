package methods

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/optim"
	"selfsup/tensor"
)

// smallParams shrinks every method's heads so the test runs in a blink.
var smallParams = map[string]string{
	"simclr":     `{"hidden_dim":32,"proj_dim":16}`,
	"moco":       `{"dim":16,"queue_size":32,"shuffle_groups":2}`,
	"byol":       `{"proj_hidden":32,"proj_dim":16,"pred_hidden":32}`,
	"simsiam":    `{"proj_dim":32,"pred_hidden":16}`,
	"barlow":     `{"proj_hidden":32,"proj_dim":32}`,
	"vicreg":     `{"proj_hidden":32,"proj_dim":32}`,
	"mocov3":     `{"proj_hidden":32,"proj_dim":16,"pred_hidden":32}`,
	"dino":       `{"out_dim":64,"hidden_dim":32,"bottleneck_dim":16,"n_local":2}`,
	"cpc":        `{"context_dim":16}`,
	"mae":        `{"decoder_dim":16,"decoder_depth":1,"decoder_heads":2}`,
	"supervised": `{"classes":10}`,
}

// smallChannels gives methods that need colour 3-channel test images.
var smallChannels = map[string]int{"splitbrain": 3, "colorization": 3}

// batchFor makes a batch of random images for a method's views.
func batchFor(t *testing.T, views []augment.Transform, n int, r *rand.Rand) loader.Batch {
	t.Helper()
	return batchForChannels(t, views, 1, n, r)
}

// batchForChannels is batchFor for images of the given channel count.
func batchForChannels(t *testing.T, views []augment.Transform, channels, n int, r *rand.Rand) loader.Batch {
	t.Helper()
	b := loader.Batch{Indices: make([]int, n), Labels: make([]int, n)}
	for _, v := range views {
		c, h, w, err := v.OutShape(channels, 16, 16)
		if err != nil {
			t.Fatal(err)
		}
		x := tensor.New(n, c, h, w)
		nn.Uniform(x, 1, r)
		b.Views = append(b.Views, x)
	}
	return b
}

// Every registered method takes a training step: a finite loss, gradients
// in the trained parameters and none in the momentum networks, which move
// only through AfterStep.
func TestEveryMethodTrainsAStep(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(9, 9))
			channels := 1
			if c, ok := smallChannels[name]; ok {
				channels = c
			}
			spec := Spec{Method: name, Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: channels, ImageSize: 16}}
			if name == "mae" {
				spec.Backbone.Arch = "vit-tiny"
			}
			if p, ok := smallParams[name]; ok {
				spec.Params = json.RawMessage(p)
			} else {
				t.Fatalf("no small parameters for %s: add it to smallParams", name)
			}
			spec, err := Resolve(spec, RunInfo{BatchSize: 8, DataLen: 64})
			if err != nil {
				t.Fatal(err)
			}
			m, err := Build(spec, r)
			if err != nil {
				t.Fatal(err)
			}
			st := nn.StateOf(m)
			var trained []*autograd.Var
			before := map[string]float32{}
			for _, p := range st.Params {
				if p.Var.RequiresGrad() {
					trained = append(trained, p.Var)
				}
				before[p.Name] = p.Var.Value.Data[0]
			}
			opt := optim.NewSGD(trained, optim.SGDConfig{LR: 0.1, Momentum: 0.9})
			b := batchForChannels(t, m.Views(), channels, 8, r)
			out := m.Loss(b, r)
			l := float64(out.Loss.Item())
			if math.IsNaN(l) || math.IsInf(l, 0) {
				t.Fatalf("loss %v", l)
			}
			if err := out.Loss.Backward(); err != nil {
				t.Fatal(err)
			}
			for _, p := range st.Params {
				momentum := strings.HasPrefix(p.Name, "momentum.")
				if momentum && (p.Var.Grad != nil || p.Var.RequiresGrad()) {
					t.Fatalf("%s (momentum network) has a gradient or requires one", p.Name)
				}
				if !momentum && (p.Name == "encoder.conv1.weight" || p.Name == "encoder.patch_embed.proj.weight") && p.Var.Grad == nil {
					t.Fatalf("%s got no gradient", p.Name)
				}
			}
			opt.Step()
			m.AfterStep(0.5)
			moved := false
			for _, p := range st.Params {
				if strings.HasPrefix(p.Name, "momentum.") && p.Var.Value.Data[0] != before[p.Name] {
					moved = true
				}
			}
			hasMomentum := false
			for _, p := range st.Params {
				hasMomentum = hasMomentum || strings.HasPrefix(p.Name, "momentum.")
			}
			if hasMomentum && !moved {
				t.Fatal("the momentum network did not move after AfterStep")
			}
		})
	}
}

func TestMoCoQueueIsARing(t *testing.T) {
	q := tensor.New(4, 2)
	ptr := tensor.New()
	for step := 1; step <= 3; step++ {
		keys := tensor.FromData([]float32{float32(step), 0, float32(step), 1}, 2, 2)
		enqueue(q, ptr, keys)
	}
	// steps 1 and 2 filled rows 0-3, step 3 overwrote rows 0-1
	want := []float32{3, 0, 3, 1, 2, 0, 2, 1}
	for i, v := range want {
		if q.Data[i] != v {
			t.Fatalf("queue %v, want %v", q.Data, want)
		}
	}
	if ptr.Data[0] != 2 {
		t.Fatalf("pointer %v, want 2", ptr.Data[0])
	}
}

func TestResolveChecksTheRun(t *testing.T) {
	base := Spec{Method: "moco", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}}
	s, err := Resolve(base, RunInfo{BatchSize: 256, DataLen: 60000})
	if err != nil || !strings.Contains(string(s.Params), `"queue_size":59904`) {
		t.Fatalf("default queue: %s, %v (want the largest multiple of 256 not above 60000)", s.Params, err)
	}
	bad := base
	bad.Params = json.RawMessage(`{"queue_size":1000}`)
	if _, err := Resolve(bad, RunInfo{BatchSize: 256, DataLen: 60000}); err == nil || !strings.Contains(err.Error(), "multiple of the batch size") {
		t.Fatalf("queue not a multiple of the batch: %v", err)
	}
	if _, err := Resolve(base, RunInfo{BatchSize: 4, DataLen: 60000}); err == nil {
		t.Fatal("batch of 4 with 4 shuffle groups accepted")
	}
}
