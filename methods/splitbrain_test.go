package methods

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/color"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/tensor"
)

func TestParseChannelSplit(t *testing.T) {
	for _, c := range []struct {
		split string
		c     int
		want  [2][]int
		err   string
	}{
		{"0|1,2", 3, [2][]int{{0}, {1, 2}}, ""},
		{"", 3, [2][]int{{0}, {1, 2}}, ""},
		{"", 4, [2][]int{{0}, {1, 2, 3}}, ""},
		{"0,1,2|3", 4, [2][]int{{0, 1, 2}, {3}}, ""},
		{"2 | 0", 3, [2][]int{{2}, {0}}, ""},
		{"", 1, [2][]int{}, "at least 2 channels"},
		{"0|0", 3, [2][]int{}, "appears twice"},
		{"0|3", 3, [2][]int{}, "out of range"},
		{"0", 3, [2][]int{}, "separated by one '|'"},
		{"0|1|2", 3, [2][]int{}, "separated by one '|'"},
		{"a|1", 3, [2][]int{}, "not a channel index"},
		{"0|", 3, [2][]int{}, "not a channel index"},
	} {
		got, err := ParseChannelSplit(c.split, c.c)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q on %d channels: error %v, want %q", c.split, c.c, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got[0], c.want[0]) || !slices.Equal(got[1], c.want[1]) {
			t.Errorf("%q on %d channels: %v, %v; want %v", c.split, c.c, got, err, c.want)
		}
	}
}

func TestSplitBrainRejectsOneChannel(t *testing.T) {
	spec := Spec{Method: "splitbrain", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}}
	if _, err := Build(spec, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), "at least 2 channels") {
		t.Fatalf("1-channel split-brain: %v", err)
	}
	spec.Backbone.InChannels = 3
	spec.Params = json.RawMessage(`{"out_scale":0}`)
	if _, err := Build(spec, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), "out_scale 0") {
		t.Fatalf("out_scale 0: %v", err)
	}
}

// The encoder is the two halves side by side: its features are each
// half's features of its own channels, concatenated, and its stages are
// both halves' stages.
func TestSplitBrainEncoder(t *testing.T) {
	for _, arch := range []string{"resnet-small", "vit-tiny"} {
		t.Run(arch, func(t *testing.T) {
			spec := Spec{Method: "splitbrain", Backbone: nn.BackboneConfig{Arch: arch, InChannels: 3, ImageSize: 16},
				Params: json.RawMessage(`{"split":"2|0,1","space":"none","head_hidden":4}`)}
			m, err := Build(spec, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			m.SetTraining(false)
			enc := m.Encoder().(*SplitBrainEncoder)
			x := tensor.New(2, 3, 16, 16)
			nn.Uniform(x, 1, rand.New(rand.NewPCG(2, 2)))
			var f, fa, fb *tensor.Tensor
			autograd.NoGrad(func() {
				f = enc.Forward(autograd.Const(x)).Value
				in := enc.split(x)
				fa = enc.Nets[0].Forward(in[0]).Value
				fb = enc.Nets[1].Forward(in[1]).Value
			})
			d0 := enc.Nets[0].OutDim()
			if enc.OutDim() != 2*d0 || !slices.Equal(f.Shape(), []int{2, 2 * d0}) {
				t.Fatalf("OutDim %d, features %v; want %d", enc.OutDim(), f.Shape(), 2*d0)
			}
			for i := 0; i < 2; i++ {
				if !slices.Equal(f.Data[i*2*d0:i*2*d0+d0], fa.Data[i*d0:(i+1)*d0]) || !slices.Equal(f.Data[i*2*d0+d0:(i+1)*2*d0], fb.Data[i*d0:(i+1)*d0]) {
					t.Fatalf("image %d: features are not the halves' features concatenated", i)
				}
			}
			// channel 2 alone feeds the first half
			x2 := x.Clone()
			x2.Data[0] += 1 // channel 0 of image 0 changes: only the second half sees it
			var g *tensor.Tensor
			autograd.NoGrad(func() { g = enc.Forward(autograd.Const(x2)).Value })
			if !slices.Equal(g.Data[:d0], f.Data[:d0]) || slices.Equal(g.Data[d0:2*d0], f.Data[d0:2*d0]) {
				t.Error("changing channel 0 should change only the second half's features")
			}
			var stages []*autograd.Var
			autograd.NoGrad(func() { stages = enc.ForwardStages(autograd.Const(x), enc.NumStages(), true) })
			if len(stages) != enc.NumStages()+1 {
				t.Fatalf("%d stage outputs for %d stages (+ stem)", len(stages), enc.NumStages())
			}
			last := stages[len(stages)-1].Shape()
			if w := last[len(last)-1]; len(last) == 3 && w != 2*d0 {
				t.Errorf("last stage tokens %v, want width %d", last, 2*d0)
			} else if len(last) == 4 && last[1] != 2*d0 {
				t.Errorf("last stage map %v, want %d channels", last, 2*d0)
			}
			n := 0
			for _, sm := range enc.StageModules() {
				n += len(nn.StateOf(sm).Params)
			}
			if all := len(nn.StateOf(enc).Params); n != all {
				t.Errorf("stage modules hold %d parameters, the encoder %d", n, all)
			}
		})
	}
}

// With colour images the split is in Lab by default: the halves see the
// scaled L and ab planes.
func TestSplitBrainLab(t *testing.T) {
	m := buildSpatial(t, "splitbrain", 3, 8, `{"head_hidden":4}`)
	enc := m.Encoder().(*SplitBrainEncoder)
	if !enc.Lab || !slices.Equal(enc.Groups[0], []int{0}) || !slices.Equal(enc.Groups[1], []int{1, 2}) {
		t.Fatalf("default colour split: lab %v, groups %v; want Lab, L | ab", enc.Lab, enc.Groups)
	}
	x := tensor.New(1, 3, 8, 8)
	nn.Uniform(x, 0.5, rand.New(rand.NewPCG(4, 4)))
	for i := range x.Data {
		x.Data[i] += 0.5
	}
	in := enc.split(x)
	for _, p := range []int{0, 17, 63} {
		L, A, B := color.RGBToLab(x.Data[p], x.Data[64+p], x.Data[128+p])
		got := []float32{in[0].Value.Data[p], in[1].Value.Data[p], in[1].Value.Data[64+p]}
		want := []float32{L/50 - 1, A / 110, B / 110}
		for k := range got {
			if math.Abs(float64(got[k]-want[k])) > 1e-5 {
				t.Fatalf("pixel %d: split inputs %v, want scaled Lab %v", p, got, want)
			}
		}
	}
	for _, c := range []struct {
		channels int
		params   string
		want     string
	}{
		{4, `{"space":"lab"}`, "needs 3-channel"},
		{3, `{"space":"hsv"}`, `space "hsv"`},
	} {
		spec := Spec{Method: "splitbrain", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: c.channels, ImageSize: 8}, Params: json.RawMessage(c.params)}
		if _, err := Build(spec, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s on %d channels: %v, want %q", c.params, c.channels, err, c.want)
		}
	}
}

// tiedChannelImages returns 3-channel images whose channels are tied: a
// smooth ramp in channel 0, its negative in 1 and its square in 2.
func tiedChannelImages(n, size int, r *rand.Rand) *tensor.Tensor {
	base := rampImages(n, 1, size, r)
	x := tensor.New(n, 3, size, size)
	hw := size * size
	for i := 0; i < n; i++ {
		for j, v := range base.Data[i*hw : (i+1)*hw] {
			x.Data[(i*3)*hw+j] = v
			x.Data[(i*3+1)*hw+j] = 1 - v
			x.Data[(i*3+2)*hw+j] = v * v
		}
	}
	return x
}

// hueRampImages returns colour images whose colour is a function of their
// lightness: a ramp v from 0 to 1 across the image in a random direction,
// drawn through a hue sweep (dark blue, green, light red), so each of L and
// ab predicts the other.
func hueRampImages(n, size int, r *rand.Rand) *tensor.Tensor {
	x := tensor.New(n, 3, size, size)
	hw := size * size
	for i := 0; i < n; i++ {
		th := 2 * math.Pi * r.Float64()
		c, s := math.Cos(th), math.Sin(th)
		for y := 0; y < size; y++ {
			for xx := 0; xx < size; xx++ {
				u := (float64(xx)-float64(size-1)/2)*c + (float64(y)-float64(size-1)/2)*s
				v := float32(min(max(0.5+u/float64(size), 0), 1))
				j := y*size + xx
				x.Data[(i*3)*hw+j] = v
				x.Data[(i*3+1)*hw+j] = 1 - float32(math.Abs(float64(2*v-1)))
				x.Data[(i*3+2)*hw+j] = 1 - v
			}
		}
	}
	return x
}

// A few dozen steps on images whose channels determine each other cut both
// held-out cross-channel errors by more than half (regression loss).
func TestSplitBrainLearns(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	m := buildSpatial(t, "splitbrain", 3, 16, `{"head_hidden":8,"loss":"regression"}`)
	train := loader.Batch{Views: []*tensor.Tensor{tiedChannelImages(12, 16, r)}}
	held := loader.Batch{Views: []*tensor.Tensor{tiedChannelImages(12, 16, r)}}
	before, after, _ := spatialFit(t, m, train, held, 30, 3e-3)
	for _, k := range []string{"mse_a_to_b", "mse_b_to_a"} {
		if !(after[k] < 0.5*before[k]) {
			t.Errorf("held-out %s %v -> %v, want below half", k, before[k], after[k])
		}
	}
	t.Logf("before %v after %v", before, after)
}

// With the classification loss (the default for L | ab) a few dozen steps
// on images whose channels determine each other lift both held-out bin
// accuracies well above the share of the most common bin (coarse bins, so
// that a few steps suffice).
func TestSplitBrainClassificationLearns(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	m := buildSpatial(t, "splitbrain", 3, 16, `{"head_hidden":8,"l_bins":20,"bin_size":20}`)
	train := loader.Batch{Views: []*tensor.Tensor{hueRampImages(12, 16, r)}}
	held := loader.Batch{Views: []*tensor.Tensor{hueRampImages(12, 16, r)}}
	before, after, last := spatialFit(t, m, train, held, 40, 1e-2)
	for _, dir := range []string{"a_to_b", "b_to_a"} {
		acc, chance := after["acc_"+dir], after["chance_"+dir]
		if !(acc > before["acc_"+dir]+0.2 && acc > chance+0.2) || after["ce_"+dir] >= before["ce_"+dir] {
			t.Errorf("%s: held-out accuracy %.3f -> %.3f (chance %.3f), cross-entropy %.3f -> %.3f; want a rise of 0.2 above both",
				dir, before["acc_"+dir], acc, chance, before["ce_"+dir], after["ce_"+dir])
		}
	}
	if _, ok := last.Metrics["chance_a_to_b"]; ok {
		t.Error("the training loss reports the chance level; only the held-out metrics should")
	}
	t.Logf("before %v after %v", before, after)
}

// The classification labels: L in equal bins of [0, 100], ab at the
// nearest in-gamut bin.
func TestSplitBrainBinLabels(t *testing.T) {
	for _, c := range []struct {
		l    float32
		bins int
		want int
	}{
		{0, 100, 0}, {0.5, 100, 0}, {1.2, 100, 1}, {50, 100, 50}, {99.9, 100, 99}, {100, 100, 99},
		{-3, 100, 0}, {104, 100, 99}, {49.9, 2, 0}, {50.1, 2, 1},
	} {
		if got := lightnessBin(c.l/50-1, c.bins); got != c.want {
			t.Errorf("L %v in %d bins: bin %d, want %d", c.l, c.bins, got, c.want)
		}
	}
	m := buildSpatial(t, "splitbrain", 3, 8, `{"head_hidden":4}`).(*SplitBrain)
	// ab target [1, 2, 1, 2]: (23, -38) and (-61, 4) in ab units
	ab := tensor.FromData([]float32{23. / 110, -61. / 110, -38. / 110, 4. / 110}, 1, 2, 1, 2)
	got := m.binLabels(ab)
	for k, want := range [][2]float32{{20, -40}, {-60, 0}} {
		c := m.abBins.Data[2*got[k] : 2*got[k]+2]
		if c[0] != want[0] || c[1] != want[1] {
			t.Errorf("pixel %d: bin centre %v, want %v", k, c, want)
		}
	}
}

// The loss follows the split: classification for L | ab (heads as wide as
// the other side's bins), regression otherwise; the options are checked.
func TestSplitBrainLossOptions(t *testing.T) {
	q := gamutBins(10).Dim(0)
	for _, c := range []struct {
		params   string
		classify bool
		widths   [2]int
		err      string
		layers   int
	}{
		{`{}`, true, [2]int{q, 100}, "", 1},
		{`{"split":"1,2|0","l_bins":50}`, true, [2]int{50, q}, "", 1},
		{`{"loss":"regression"}`, false, [2]int{2, 1}, "", 1},
		{`{"space":"none"}`, false, [2]int{2, 1}, "", 1},
		{`{"split":"0,1|2"}`, false, [2]int{1, 2}, "", 1},
		{`{"split":"0,1|2","loss":"classification"}`, false, [2]int{}, `use loss "regression"`, 1},
		{`{"space":"none","loss":"classification"}`, false, [2]int{}, `use loss "regression"`, 1},
		{`{"loss":"hinge"}`, false, [2]int{}, `loss "hinge"`, 1},
		{`{"l_bins":1}`, false, [2]int{}, "l_bins 1", 1},
		{`{"bin_size":0}`, false, [2]int{}, "bin_size 0", 1},
		{`{"head_layers":3}`, true, [2]int{q, 100}, "", 3},
		{`{"head_layers":0}`, false, [2]int{}, "head_layers 0", 0},
	} {
		spec := Spec{Method: "splitbrain", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 3, ImageSize: 8},
			Params: json.RawMessage(c.params)}
		mm, err := Build(spec, rand.New(rand.NewPCG(1, 1)))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.params, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.params, err)
			continue
		}
		m := mm.(*SplitBrain)
		got := [2]int{m.Heads[0].Pred.Weight.Value.Dim(0), m.Heads[1].Pred.Weight.Value.Dim(0)}
		if m.classify != c.classify || got != c.widths {
			t.Errorf("%s: classification %v, head widths %v; want %v, %v", c.params, m.classify, got, c.classify, c.widths)
		}
		for i, h := range m.Heads {
			if len(h.Hidden) != c.layers {
				t.Errorf("%s: head %d has %d hidden layers, want %d", c.params, i, len(h.Hidden), c.layers)
			}
		}
		names := map[string]bool{}
		for _, p := range nn.StateOf(m).Params {
			names[p.Name] = true
		}
		if !names["head_a.hidden.conv.weight"] {
			t.Errorf("%s: the first hidden layer is not named head_a.hidden. (older checkpoints would not load)", c.params)
		}
		if c.layers > 1 && !names[fmt.Sprintf("head_b.hidden%d.conv.weight", c.layers)] {
			t.Errorf("%s: no parameter head_b.hidden%d.conv.weight", c.params, c.layers)
		}
	}
}

func ExampleParseChannelSplit() {
	g, err := ParseChannelSplit("0|1,2", 3) // L | ab, or R | GB
	fmt.Println(g, err)
	_, err = ParseChannelSplit("", 1)
	fmt.Println(err)
	// Output:
	// [[0] [1 2]] <nil>
	// splitbrain: 1-channel images cannot be split into two channel groups (it needs at least 2 channels: colour, or e.g. RGB and depth)
}
