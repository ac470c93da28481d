package nn_test

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/nn"
	"selfsup/tensor"
)

// The PyTorch reference tests for layers and whole backbones. The fixtures
// in testdata/torchref/ are written by testdata/torchref/gen.py (PyTorch,
// float64 references from float32 inputs) and committed; these tests need
// no Python, and a missing fixture fails them.
//
// Every case uses the loss L = sum(out * R) for a stored R. Layers store
// their whole state and every gradient. Whole networks are too big for
// that, so both sides fill every parameter from the same hash formula
// (trFill, a port of gen.py's fill_values), and the fixture stores the
// output, the loss, the input gradient, and per parameter the gradient norm
// and 32 gradient entries.

// trDir is where the fixtures live, relative to this package.
const trDir = "../testdata/torchref"

// trTensor is a tensor as gen.py stores it.
type trTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

// tensor returns a fresh copy as a selfsup tensor.
func (r trTensor) tensor() *tensor.Tensor {
	return tensor.FromData(append([]float32(nil), r.Data...), r.Shape...)
}

// trLoad decodes the named committed fixture or fails the test.
func trLoad(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(trDir, name))
	if err != nil {
		t.Fatalf("reading PyTorch fixture: %v (regenerate with /usr/bin/python3 testdata/torchref/gen.py)", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// trRMS is the root mean square of xs.
func trRMS(xs []float32) float64 {
	var ss float64
	for _, x := range xs {
		ss += float64(x) * float64(x)
	}
	return math.Sqrt(ss / float64(max(len(xs), 1)))
}

// trErr returns the worst of |got-want| / (|want| + scale) and its index:
// an error relative to each value, floored by scale (the typical magnitude
// of the whole tensor) so entries near zero are not judged on their own
// tiny scale.
func trErr(got, want []float32, scale float64) (worst float64, at int) {
	for i, w := range want {
		g := float64(got[i])
		e := math.Abs(g-float64(w)) / (math.Abs(float64(w)) + scale + 1e-30)
		if math.IsNaN(g) || math.IsInf(g, 0) {
			e = math.Inf(1)
		}
		if e > worst {
			worst, at = e, i
		}
	}
	return worst, at
}

// trCheck compares got with want (shape and values) and returns the worst
// relative error; see trErr, with scale the larger of want's RMS and floor.
func trCheck(t *testing.T, what string, got *tensor.Tensor, want trTensor, tol, floor float64) float64 {
	t.Helper()
	if got == nil {
		t.Errorf("%s: selfsup computed nothing, PyTorch has shape %v", what, want.Shape)
		return math.Inf(1)
	}
	if !tensor.SameShape(got.Shape(), want.Shape) {
		t.Errorf("%s: shape %v, PyTorch %v", what, got.Shape(), want.Shape)
		return math.Inf(1)
	}
	worst, at := trErr(got.Data, want.Data, max(trRMS(want.Data), floor))
	if worst > tol {
		t.Errorf("%s: element %d is %g, PyTorch %g (relative error %.3g > %.3g)", what, at, got.Data[at], want.Data[at], worst, tol)
	}
	return worst
}

// trStateFrom converts a fixture state dict for nn.LoadStateDict.
func trStateFrom(src map[string]trTensor) map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor, len(src))
	for k, v := range src {
		out[k] = v.tensor()
	}
	return out
}

// trLayerCase is one entry of layers.json.
type trLayerCase struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Attrs struct {
		Dim      int   `json:"dim"`
		Heads    int   `json:"heads"`
		Hidden   int   `json:"hidden"`
		Dims     []int `json:"dims"`
		HiddenBN bool  `json:"hidden_bn"`
		LastBN   bool  `json:"last_bn"`
	} `json:"attrs"`
	Inputs map[string]trTensor `json:"inputs"`
	State  map[string]trTensor `json:"state"`
	Expect map[string]trTensor `json:"expect"`
}

// trBuildLayer builds the selfsup layer a case describes.
func trBuildLayer(c *trLayerCase) (nn.Layer, error) {
	r := rand.New(rand.NewPCG(1, 2))
	switch c.Kind {
	case "attention":
		return nn.NewAttention(c.Attrs.Dim, c.Attrs.Heads, r)
	case "block":
		return nn.NewBlock(c.Attrs.Dim, c.Attrs.Heads, c.Attrs.Hidden, r)
	case "mlp":
		return nn.NewMLP(nn.MLPConfig{Dims: c.Attrs.Dims, HiddenBN: c.Attrs.HiddenBN, LastBN: c.Attrs.LastBN}, r)
	}
	return nil, fmt.Errorf("unknown layer kind %q in layers.json", c.Kind)
}

// trLayerTol bounds the layer cases' errors (float32 against float64).
const trLayerTol = 2e-5

// TestLayersMatchPyTorch runs layers.json: self-attention against torch's
// nn.MultiheadAttention given the same weights (in_proj = qkv, out_proj =
// proj), the pre-norm transformer block against a timm twin, and a
// BatchNorm projection head in training mode (gradients and running
// statistics).
func TestLayersMatchPyTorch(t *testing.T) {
	var fx struct {
		Cases []trLayerCase `json:"cases"`
	}
	trLoad(t, "layers.json", &fx)
	kinds := map[string]bool{}
	for i := range fx.Cases {
		c := &fx.Cases[i]
		kinds[c.Kind] = true
		t.Run(c.Name, func(t *testing.T) {
			m, err := trBuildLayer(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := nn.LoadStateDict(m, "", trStateFrom(c.State), true); err != nil {
				t.Fatalf("loading the PyTorch state: %v", err)
			}
			m.SetTraining(true)
			x := autograd.Param(c.Inputs["x"].tensor(), "x")
			out := m.Forward(x)
			if err := out.BackwardWith(c.Inputs["R"].tensor()); err != nil {
				t.Fatal(err)
			}
			got := map[string]*tensor.Tensor{"out": out.Value, "grad_x": x.Grad}
			st := nn.StateOf(m)
			for _, p := range st.Params {
				got["grad:"+p.Name] = p.Var.Grad
				if _, ok := c.Expect["grad:"+p.Name]; !ok {
					t.Errorf("parameter %s has no PyTorch gradient", p.Name)
				}
			}
			for _, b := range st.Buffers {
				got["state:"+b.Name] = b.Tensor
			}
			names := make([]string, 0, len(c.Expect))
			for k := range c.Expect {
				names = append(names, k)
			}
			sort.Strings(names)
			// A gradient that is zero in exact arithmetic (the bias of a
			// Linear followed by training-mode batch norm) is float32
			// rounding noise of the terms it cancels: judge it against a
			// floor of 0.1x the input gradient's RMS.
			floor := 0.1 * trRMS(c.Expect["grad_x"].Data)
			var worst float64
			for _, k := range names {
				worst = max(worst, trCheck(t, k, got[k], c.Expect[k], trLayerTol, floor))
			}
			t.Logf("worst relative error %.2g over %d tensors", worst, len(names))
		})
	}
	for _, k := range []string{"attention", "block", "mlp"} {
		if !kinds[k] {
			t.Errorf("layers.json has no %s case", k)
		}
	}
}

// trHashUniform is gen.py's hash_uniform: n values in [-1, 1), each a
// multiple of 2^-23, from splitmix64 seeded by the FNV-1a hash of name.
func trHashUniform(name string, n int) []float64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	seed := h.Sum64()
	u := make([]float64, n)
	for i := range u {
		z := seed + uint64(i+1)*0x9E3779B97F4A7C15
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		u[i] = float64(z>>40)/(1<<23) - 1
	}
	return u
}

// trFill is gen.py's fill_values: the deterministic value of the parameter
// called name. Weights with two or more dimensions get u*sqrt(3/fan_in),
// one-dimensional weights (norm scales) 1 + 0.1u, everything else 0.1u.
// The explicit float64 conversions keep the compiler from fusing
// multiply-adds, so the result is bit-identical to NumPy's.
func trFill(name string, shape []int) *tensor.Tensor {
	t := tensor.New(shape...)
	n := t.Len()
	u := trHashUniform(name, n)
	for i, v := range u {
		switch {
		case len(shape) >= 2 && strings.HasSuffix(name, "weight"):
			t.Data[i] = float32(v * math.Sqrt(3/float64(n/shape[0])))
		case len(shape) == 1 && strings.HasSuffix(name, "weight"):
			t.Data[i] = float32(1 + float64(0.1*v))
		default:
			t.Data[i] = float32(0.1 * v)
		}
	}
	return t
}

// trParamSummary is what a network fixture keeps of one parameter's
// gradient.
type trParamSummary struct {
	Name       string    `json:"name"`
	Shape      []int     `json:"shape"`
	GradNorm   float64   `json:"grad_norm"`
	GradHead   []float32 `json:"grad_head"`
	GradSample []float32 `json:"grad_sample"`
}

// trNetFixture is a whole-network fixture (resnet18_cifar.json, ...).
type trNetFixture struct {
	Arch       string               `json:"arch"`
	InChannels int                  `json:"in_channels"`
	ImageSize  int                  `json:"image_size"`
	Batch      int                  `json:"batch"`
	InputName  string               `json:"input_name"`
	InputShape []int                `json:"input_shape"`
	R          trTensor             `json:"R"`
	Out        trTensor             `json:"out"`
	Loss       float64              `json:"loss"`
	GradInput  trTensor             `json:"grad_input"`
	Params     []trParamSummary     `json:"params"`
	Buffers    map[string]trTensor  `json:"buffers"`
	ParamCount int                  `json:"param_count"`
	FillCheck  map[string][]float32 `json:"fill_check"`
	Torch32    map[string]float64   `json:"torch_float32"`
}

// trSampleIndex is gen.py's sample_index: up to 16 evenly spaced positions.
func trSampleIndex(n int) []int {
	k := min(16, n)
	idx := make([]int, k)
	for j := range idx {
		idx[j] = j * n / k
	}
	return idx
}

// Network tolerances (float32 against the float64 reference, measured by
// trErr): the output and loss, and the gradient norms and entries, which
// accumulate rounding over the whole backward pass.
const (
	trNetOutTol   = 1e-4
	trNetNormTol  = 1e-3
	trNetEntryTol = 1e-3
)

// TestBackbonesMatchPyTorch runs one training-mode step (batch-norm batch
// statistics) of ResNet-18 (CIFAR and ImageNet stems) and ViT-tiny and
// compares it with the PyTorch twins in gen.py: parameter names and shapes
// (torchvision and timm naming), the output, the loss, the input gradient,
// every parameter's gradient norm and sampled entries, and the running
// statistics of a few batch-norm layers.
func TestBackbonesMatchPyTorch(t *testing.T) {
	for _, file := range []string{"resnet18_cifar.json", "resnet18.json", "vit_tiny.json"} {
		t.Run(strings.TrimSuffix(file, ".json"), func(t *testing.T) {
			var fx trNetFixture
			trLoad(t, file, &fx)
			trCheckNet(t, &fx)
		})
	}
}

// trCheckNet builds the fixture's backbone, fills it, runs the step and
// compares everything the fixture holds.
func trCheckNet(t *testing.T, fx *trNetFixture) {
	model, err := nn.NewBackbone(nn.BackboneConfig{Arch: fx.Arch, InChannels: fx.InChannels, ImageSize: fx.ImageSize}, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	st := nn.StateOf(model)

	// Names and shapes: the same set as the PyTorch twin. timm's patch
	// projection is a Conv2d [D, C, p, p]; selfsup's is the same numbers
	// as a Linear [D, C*p*p].
	goParams := map[string]nn.NamedParam{}
	for _, p := range st.Params {
		goParams[p.Name] = p
	}
	for _, p := range fx.Params {
		g, ok := goParams[p.Name]
		if !ok {
			t.Errorf("PyTorch parameter %s %v is missing from selfsup's %s", p.Name, p.Shape, fx.Arch)
			continue
		}
		gs := g.Var.Value.Shape()
		same := tensor.SameShape(gs, p.Shape)
		if p.Name == "patch_embed.proj.weight" {
			same = len(gs) == 2 && gs[0] == p.Shape[0] && g.Var.Value.Len() == tensor.Numel(p.Shape)
		}
		if !same {
			t.Errorf("%s: shape %v, PyTorch %v", p.Name, gs, p.Shape)
		}
		delete(goParams, p.Name)
	}
	for name := range goParams {
		t.Errorf("selfsup parameter %s has no PyTorch counterpart", name)
	}
	if n := nn.NumParams(model); n != fx.ParamCount {
		t.Errorf("%d parameters, PyTorch twin %d", n, fx.ParamCount)
	}
	if t.Failed() {
		t.FailNow()
	}

	// The fill formula must reproduce gen.py's values exactly.
	for name, want := range fx.FillCheck {
		var got []float32
		if name == fx.InputName {
			for _, u := range trHashUniform(name, len(want)) {
				got = append(got, float32(u))
			}
		} else {
			p, ok := findParam(st, name)
			if !ok {
				t.Fatalf("fill check names unknown parameter %s", name)
			}
			got = trFill(name, p.Var.Value.Shape()).Data[:len(want)]
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("fill formula differs from gen.py for %s[%d]: %g, want %g", name, i, got[i], want[i])
			}
		}
	}

	// Load the filled parameters and default buffers through the state dict.
	sd := map[string]*tensor.Tensor{}
	for _, p := range st.Params {
		sd[p.Name] = trFill(p.Name, p.Var.Value.Shape())
	}
	for _, b := range st.Buffers {
		v := tensor.New(b.Tensor.Shape()...)
		if strings.HasSuffix(b.Name, "running_var") {
			v.Fill(1)
		}
		sd[b.Name] = v
	}
	if err := nn.LoadStateDict(model, "", sd, true); err != nil {
		t.Fatal(err)
	}
	model.SetTraining(true)

	in := tensor.New(fx.InputShape...)
	for i, u := range trHashUniform(fx.InputName, in.Len()) {
		in.Data[i] = float32(u)
	}
	x := autograd.Param(in, "input")
	out := model.Forward(x)
	worstOut := trCheck(t, "output", out.Value, fx.Out, trNetOutTol, 0)
	var loss float64
	for i, v := range out.Value.Data {
		loss += float64(v) * float64(fx.R.Data[i])
	}
	if e := math.Abs(loss-fx.Loss) / math.Abs(fx.Loss); e > trNetOutTol {
		t.Errorf("loss %g, PyTorch %g (relative error %.3g)", loss, fx.Loss, e)
	}
	if err := out.BackwardWith(fx.R.tensor()); err != nil {
		t.Fatal(err)
	}
	worstIn := trCheck(t, "input gradient", x.Grad, fx.GradInput, trNetEntryTol, 0)

	var worstNorm, worstEntry float64
	var worstNormName, worstEntryName string
	for _, p := range fx.Params {
		v, _ := findParam(st, p.Name)
		g := v.Var.Grad
		if g == nil {
			t.Errorf("%s: no gradient", p.Name)
			continue
		}
		var ss float64
		for _, d := range g.Data {
			ss += float64(d) * float64(d)
		}
		norm := math.Sqrt(ss)
		if e := math.Abs(norm-p.GradNorm) / p.GradNorm; e > worstNorm {
			worstNorm, worstNormName = e, p.Name
		}
		if e := math.Abs(norm-p.GradNorm) / p.GradNorm; e > trNetNormTol {
			t.Errorf("%s: gradient norm %g, PyTorch %g (relative error %.3g > %.3g)", p.Name, norm, p.GradNorm, e, trNetNormTol)
		}
		scale := p.GradNorm / math.Sqrt(float64(g.Len()))
		idx := trSampleIndex(g.Len())
		got := make([]float32, 0, 32)
		got = append(got, g.Data[:len(p.GradHead)]...)
		for _, i := range idx {
			got = append(got, g.Data[i])
		}
		want := append(append([]float32(nil), p.GradHead...), p.GradSample...)
		if len(got) != len(want) {
			t.Errorf("%s: %d sampled gradient entries, fixture %d", p.Name, len(got), len(want))
			continue
		}
		e, at := trErr(got, want, scale)
		if e > worstEntry {
			worstEntry, worstEntryName = e, p.Name
		}
		if e > trNetEntryTol {
			t.Errorf("%s: sampled gradient entry %d is %g, PyTorch %g (relative error %.3g > %.3g)", p.Name, at, got[at], want[at], e, trNetEntryTol)
		}
	}

	sdAfter := nn.StateDict("", model)
	for name, want := range fx.Buffers {
		got, ok := sdAfter[name]
		if !ok {
			t.Errorf("buffer %s missing", name)
			continue
		}
		trCheck(t, name, got, want, trNetOutTol, 0)
	}
	t.Logf("%s: worst relative errors: output %.2g, input gradient %.2g, gradient norm %.2g (%s), gradient entries %.2g (%s); PyTorch float32: %v",
		fx.Arch, worstOut, worstIn, worstNorm, worstNormName, worstEntry, worstEntryName, fx.Torch32)
}

// findParam looks a parameter up by name.
func findParam(st *nn.State, name string) (nn.NamedParam, bool) {
	for _, p := range st.Params {
		if p.Name == name {
			return p, true
		}
	}
	return nn.NamedParam{}, false
}

// TestParamCountsMatchTorchvision checks the parameter counts of selfsup's
// backbones against the PyTorch twins (whose ResNet totals gen.py checks
// against torchvision's published ones, less the fc classifier).
func TestParamCountsMatchTorchvision(t *testing.T) {
	var fx struct {
		ImageSize  int            `json:"image_size"`
		InChannels int            `json:"in_channels"`
		Counts     map[string]int `json:"counts"`
	}
	trLoad(t, "param_counts.json", &fx)
	for _, arch := range []string{"resnet18", "resnet34", "resnet50", "resnet18-cifar", "vit-tiny"} {
		if _, ok := fx.Counts[arch]; !ok {
			t.Errorf("param_counts.json lacks %s", arch)
		}
	}
	archs := make([]string, 0, len(fx.Counts))
	for a := range fx.Counts {
		archs = append(archs, a)
	}
	sort.Strings(archs)
	for _, arch := range archs {
		t.Run(arch, func(t *testing.T) {
			m, err := nn.NewBackbone(nn.BackboneConfig{Arch: arch, InChannels: fx.InChannels, ImageSize: fx.ImageSize}, rand.New(rand.NewPCG(5, 6)))
			if err != nil {
				t.Fatal(err)
			}
			if got := nn.NumParams(m); got != fx.Counts[arch] {
				t.Errorf("%s: %d parameters, PyTorch %d", arch, got, fx.Counts[arch])
			}
		})
	}
}
