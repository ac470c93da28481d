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
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/optim"
	"selfsup/tensor"
)

func init() {
	smallParams["inpainting"] = `{"decoder_width":16,"disc_width":4}`
	smallParams["splitbrain"] = `{"head_hidden":8}`
}

func TestUpsampleSizes(t *testing.T) {
	for _, c := range []struct {
		from, to int
		want     []int
	}{
		{4, 28, []int{7, 14, 28}}, // resnet-small on MNIST
		{7, 28, []int{14, 28}},    // ViT, patch 4
		{4, 32, []int{8, 16, 32}},
		{2, 16, []int{4, 8, 16}},
		{7, 224, []int{14, 28, 56, 112, 224}},
		{4, 4, nil},
	} {
		if got := upsampleSizes(c.from, c.to); !slices.Equal(got, c.want) {
			t.Errorf("upsampleSizes(%d, %d) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

func TestResizeMatrix(t *testing.T) {
	for _, c := range []struct {
		in, out int
		want    []float32
	}{
		{2, 2, []float32{1, 0, 0, 1}},
		// bilinear, half-pixel centres (PyTorch align_corners=False)
		{2, 4, []float32{1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1}},
		// adaptive average pooling bins
		{4, 2, []float32{0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5}},
		{3, 2, []float32{0.5, 0.5, 0, 0, 0.5, 0.5}},
	} {
		got := resizeMatrix(c.in, c.out)
		for i, v := range c.want {
			if math.Abs(float64(got.Data[i]-v)) > 1e-6 {
				t.Errorf("resizeMatrix(%d, %d) = %v, want %v", c.in, c.out, got.Data, c.want)
				break
			}
		}
	}
	// every row of any resampling matrix sums to 1 (constants are kept)
	for _, s := range [][2]int{{4, 7}, {7, 14}, {28, 7}, {5, 3}, {13, 28}} {
		m := resizeMatrix(s[0], s[1])
		for i := 0; i < s[1]; i++ {
			var sum float32
			for _, v := range m.Data[i*s[0] : (i+1)*s[0]] {
				sum += v
			}
			if math.Abs(float64(sum-1)) > 1e-5 {
				t.Errorf("resizeMatrix(%d, %d) row %d sums to %v", s[0], s[1], i, sum)
			}
		}
	}
}

// The resizer equals the separable product Rh X Rw^T per map, and its
// gradient is Rh^T G Rw.
func TestResizerMatchesLoopsAndGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, c, h, w, oh, ow = 2, 3, 4, 5, 7, 3
	x := autograd.Param(tensor.New(n, c, h, w), "x")
	nn.Uniform(x.Value, 1, r)
	g := tensor.New(n, c, oh, ow)
	nn.Uniform(g, 1, r)
	z := newResizer(h, w, oh, ow)
	y := z.forward(x)
	rh, rw := z.rh.Value.Data, z.rw.Value.Data // [oh, h], [ow, w]
	for m := 0; m < n*c; m++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				var want float64
				for a := 0; a < h; a++ {
					for b := 0; b < w; b++ {
						want += float64(rh[i*h+a] * x.Value.Data[m*h*w+a*w+b] * rw[j*w+b])
					}
				}
				if got := y.Value.Data[m*oh*ow+i*ow+j]; math.Abs(float64(got)-want) > 1e-5 {
					t.Fatalf("map %d (%d, %d): %v, want %v", m, i, j, got, want)
				}
			}
		}
	}
	loss := autograd.Sum(autograd.Mul(y, autograd.Const(g)))
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	for m := 0; m < n*c; m++ {
		for a := 0; a < h; a++ {
			for b := 0; b < w; b++ {
				var want float64
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						want += float64(rh[i*h+a] * g.Data[m*oh*ow+i*ow+j] * rw[j*w+b])
					}
				}
				if got := x.Grad.Data[m*h*w+a*w+b]; math.Abs(float64(got)-want) > 1e-5 {
					t.Fatalf("gradient map %d (%d, %d): %v, want %v", m, a, b, got, want)
				}
			}
		}
	}
}

// The channel-wise FC applies channel k's own dense layer to channel k's
// flattened map and nothing else.
func TestChannelFC(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, c, h, w = 2, 3, 2, 3
	l := newChannelFC(c, h*w, r)
	x := tensor.New(n, c, h, w)
	nn.Uniform(x, 1, r)
	y := l.forward(autograd.Const(x)).Value
	hw := h * w
	for b := 0; b < n; b++ {
		for k := 0; k < c; k++ {
			for o := 0; o < hw; o++ {
				want := float64(l.Bias.Value.Data[k*hw+o])
				for i := 0; i < hw; i++ {
					want += float64(l.Weight.Value.Data[(k*hw+o)*hw+i] * x.Data[(b*c+k)*hw+i])
				}
				if got := y.Data[(b*c+k)*hw+o]; math.Abs(float64(got)-want) > 1e-5 {
					t.Fatalf("image %d channel %d output %d: %v, want %v", b, k, o, got, want)
				}
			}
		}
	}
}

func TestFillMask(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		size int
		area float64
		side int
	}{{28, 0.25, 14}, {32, 0.25, 16}, {16, 0.25, 8}, {28, 0.1, 9}, {4, 0.01, 1}} {
		m := make([]float32, c.size*c.size)
		n := fillMask(m, c.size, "center", c.area, r)
		off := (c.size - c.side) / 2
		count := 0
		for y := 0; y < c.size; y++ {
			for x := 0; x < c.size; x++ {
				in := y >= off && y < off+c.side && x >= off && x < off+c.side
				if (m[y*c.size+x] == 1) != in {
					t.Fatalf("center %d/%v: pixel (%d, %d) mask %v, want hidden=%v", c.size, c.area, y, x, m[y*c.size+x], in)
				}
				count += int(m[y*c.size+x])
			}
		}
		if n != c.side*c.side || count != n {
			t.Errorf("center %d/%v: %d hidden (counted %d), want %d", c.size, c.area, n, count, c.side*c.side)
		}
	}
	for _, c := range []struct {
		size int
		area float64
	}{{28, 0.25}, {32, 0.25}, {16, 0.5}, {28, 0.05}} {
		m := make([]float32, c.size*c.size)
		var seen []int
		for rep := 0; rep < 20; rep++ {
			n := fillMask(m, c.size, "random", c.area, r)
			count := 0
			for _, v := range m {
				count += int(v)
			}
			limit := int(c.area * float64(c.size*c.size))
			if n != count || n == 0 || n > max(limit, (c.size/4)*(c.size/4)) {
				t.Fatalf("random %d/%v: %d hidden (counted %d), want in [1, %d]", c.size, c.area, n, count, limit)
			}
			seen = append(seen, n)
		}
		if slices.Min(seen) == slices.Max(seen) && c.area > 0.1 {
			t.Errorf("random %d/%v: the same coverage %d every time", c.size, c.area, seen[0])
		}
	}
}

func TestInpaintingRejectsBadParams(t *testing.T) {
	for _, c := range []struct{ params, want string }{
		{`{"mask":"ring"}`, `mask "ring"`},
		{`{"mask_area":1}`, "mask_area 1"},
		{`{"mask_area":0}`, "mask_area 0"},
		{`{"decoder_width":0}`, "decoder_width 0"},
		{`{"adversarial":true,"lambda_adv":0}`, "lambda_adv 0"},
		{`{"adversarial":true,"disc_width":0}`, "disc_width 0"},
		{`{"lambda_rec":-1}`, "lambda_rec -1"},
		{`{"mask_area":0.99}`, "hides the whole"},
		{`{"maskk":"center"}`, "unknown field"},
	} {
		spec := Spec{Method: "inpainting", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 8}, Params: json.RawMessage(c.params)}
		_, err := Build(spec, rand.New(rand.NewPCG(1, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.params, err, c.want)
		}
	}
}

// rampImages returns n images that are linear ramps a*x + b*y + c (per
// channel), so a hidden centre is predictable from its context.
func rampImages(n, ch, size int, r *rand.Rand) *tensor.Tensor {
	x := tensor.New(n, ch, size, size)
	for i := 0; i < n*ch; i++ {
		a, b := r.Float32()-0.5, r.Float32()-0.5
		c := 0.5 - (a+b)/2
		for y := 0; y < size; y++ {
			for xx := 0; xx < size; xx++ {
				x.Data[i*size*size+y*size+xx] = c + (a*float32(xx)+b*float32(y))/float32(size)
			}
		}
	}
	return x
}

// spatialFit runs steps of AdamW on m's loss over one fixed batch and
// returns the held-out pretext metrics before and after (evaluation mode).
func spatialFit(t *testing.T, m Method, train, heldout loader.Batch, steps int, lr float64) (before, after map[string]float64, last Output) {
	t.Helper()
	pe := m.(PretextEvaluator)
	eval := func() map[string]float64 {
		m.SetTraining(false)
		defer m.SetTraining(true)
		var out map[string]float64
		autograd.NoGrad(func() { out = pe.PretextMetrics(heldout, rand.New(rand.NewPCG(7, 7))) })
		return out
	}
	before = eval()
	var params []*autograd.Var
	for _, p := range nn.Parameters(m) {
		if p.RequiresGrad() {
			params = append(params, p)
		}
	}
	opt := optim.NewAdamW(params, optim.AdamWConfig{LR: lr})
	r := rand.New(rand.NewPCG(8, 8))
	for s := 0; s < steps; s++ {
		last = m.Loss(train, r)
		if err := last.Loss.Backward(); err != nil {
			t.Fatalf("step %d: %v", s, err)
		}
		opt.Step()
		optim.ZeroGrad(params)
		m.AfterStep(float64(s+1) / float64(steps))
	}
	return before, eval(), last
}

func buildSpatial(t *testing.T, method string, channels, size int, params string) Method {
	t.Helper()
	spec := Spec{Method: method, Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: channels, ImageSize: size}, Params: json.RawMessage(params)}
	m, err := Build(spec, rand.New(rand.NewPCG(11, 12)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A few dozen steps on smooth images cut the held-out masked error by more
// than half, with central and random masks, on 1 and 3 channels; with the
// adversarial loss the discriminator trains alongside.
func TestInpaintingLearns(t *testing.T) {
	for _, c := range []struct {
		name     string
		channels int
		params   string
	}{
		{"center-1ch", 1, `{"decoder_width":16,"adversarial":false}`},
		{"random-3ch", 3, `{"decoder_width":16,"mask":"random","adversarial":false}`},
		{"adversarial", 1, `{"decoder_width":16,"adversarial":true,"disc_width":8}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(21, 22))
			m := buildSpatial(t, "inpainting", c.channels, 16, c.params)
			train := loader.Batch{Views: []*tensor.Tensor{rampImages(12, c.channels, 16, r)}}
			held := loader.Batch{Views: []*tensor.Tensor{rampImages(12, c.channels, 16, r)}}
			before, after, last := spatialFit(t, m, train, held, 30, 3e-3)
			if !(after["masked_mse"] < 0.5*before["masked_mse"]) {
				t.Errorf("held-out masked MSE %v -> %v, want below half", before["masked_mse"], after["masked_mse"])
			}
			t.Logf("masked MSE %.4f -> %.4f, last step %v", before["masked_mse"], after["masked_mse"], last.Metrics)
			if !strings.Contains(c.params, `"adversarial":false`) {
				if d := last.Metrics["disc_loss"]; !(d > 0) || math.IsInf(d, 0) {
					t.Errorf("discriminator loss %v", d)
				}
			}
		})
	}
}

// The discriminator's gradient comes from its own terms only, and the
// generator's adversarial term reaches the decoder: raising lambda_adv
// leaves the discriminator's gradient unchanged and changes the decoder's.
func TestInpaintingAdversarialGradientsAreSeparate(t *testing.T) {
	grads := func(lambdaAdv float64) (disc, dec []float32) {
		m := buildSpatial(t, "inpainting", 1, 16, fmt.Sprintf(`{"decoder_width":8,"adversarial":true,"disc_width":4,"lambda_adv":%v}`, lambdaAdv))
		x := rampImages(4, 1, 16, rand.New(rand.NewPCG(1, 1)))
		out := m.Loss(loader.Batch{Views: []*tensor.Tensor{x}}, rand.New(rand.NewPCG(2, 2)))
		if err := out.Loss.Backward(); err != nil {
			t.Fatal(err)
		}
		ip := m.(*Inpainting)
		for _, c := range ip.Disc.Convs {
			disc = append(disc, c.Weight.Grad.Data...)
		}
		disc = append(disc, ip.Disc.FC.Weight.Grad.Data...)
		return disc, slices.Clone(ip.Out.Weight.Grad.Data)
	}
	d1, g1 := grads(0.001)
	d2, g2 := grads(10)
	if !slices.Equal(d1, d2) {
		t.Error("the discriminator's gradient depends on lambda_adv: the generator's term leaks into it")
	}
	if slices.Equal(g1, g2) {
		t.Error("the decoder's gradient does not depend on lambda_adv: the adversarial term does not reach the generator")
	}
}

func ExampleNewInpainting() {
	spec := Spec{Method: "inpainting", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 28}}
	m, err := NewInpainting(spec, DefaultInpaintingParams(), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	// resnet-small maps 28x28 to 4x4; the decoder climbs back 4 -> 7 -> 14 -> 28
	for _, u := range m.Up {
		fmt.Print(u.rs.outH, " ")
	}
	fmt.Println()
	// Output: 7 14 28
}
