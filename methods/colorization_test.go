package methods

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/color"
	"selfsup/data"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/optim"
	"selfsup/tensor"
)

func init() { smallParams["colorization"] = `{"decoder_dim":8}` }

// colorSpec is a colorization spec for 16-pixel RGB images.
func colorSpec(params string) Spec {
	s := Spec{Method: "colorization", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 3, ImageSize: 16}}
	if params != "" {
		s.Params = json.RawMessage(params)
	}
	return s
}

func TestColorizationValidatesSpecs(t *testing.T) {
	gray := colorSpec("")
	gray.Backbone.InChannels = 1
	cases := []struct {
		name string
		spec Spec
		want string // substring of the error; "" for success
	}{
		{"defaults", colorSpec(""), ""},
		{"regression", colorSpec(`{"variant":"regression"}`), ""},
		{"vit", Spec{Method: "colorization", Backbone: nn.BackboneConfig{Arch: "vit-tiny", InChannels: 3, ImageSize: 16}}, ""},
		{"grayscale data", gray, "use a colour dataset such as synthetic:shapes or cifar10:DIR"},
		{"bad variant", colorSpec(`{"variant":"gan"}`), "variant"},
		{"grid not dividing", colorSpec(`{"grid":5}`), "divide the image size 16"},
		{"grid not a multiple of the map", colorSpec(`{"grid":1}`), "not a multiple of the 2x2 feature map"},
		{"bin size", colorSpec(`{"bin_size":1}`), "bin_size 1 must lie in [2, 50]"},
		{"soft_k", colorSpec(`{"soft_k":17}`), "soft_k 17"},
		{"soft_sigma", colorSpec(`{"soft_sigma":0}`), "soft_sigma"},
		{"prior_lambda", colorSpec(`{"prior_lambda":0}`), "prior_lambda 0 must lie in (0, 1]"},
		{"temperature", colorSpec(`{"temperature":-1}`), "temperature"},
		{"decoder_dim", colorSpec(`{"decoder_dim":0}`), "decoder_dim"},
		{"unknown field", colorSpec(`{"bins":313}`), "unknown field"},
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.spec, r)
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// The in-gamut bins: 261 at size 10, on the grid, sorted, containing grey
// and the bins of the primaries, and exactly the bins a denser RGB grid
// reaches.
func TestGamutBins(t *testing.T) {
	bins := gamutBins(10)
	q := bins.Dim(0)
	if q != 261 {
		t.Fatalf("%d bins at size 10, want 261", q)
	}
	set := map[[2]float32]bool{}
	for i := range q {
		a, b := bins.Data[2*i], bins.Data[2*i+1]
		if float32(math.Round(float64(a)/10))*10 != a || float32(math.Round(float64(b)/10))*10 != b {
			t.Fatalf("bin %d (%v, %v) is off the grid", i, a, b)
		}
		if i > 0 && (bins.Data[2*i-2] > a || (bins.Data[2*i-2] == a && bins.Data[2*i-1] >= b)) {
			t.Fatalf("bins not sorted at %d", i)
		}
		set[[2]float32{a, b}] = true
	}
	// a 97-step grid and the corners of the cube find no other bin
	r := rand.New(rand.NewPCG(5, 5))
	for range 20000 {
		_, a, b := color.RGBToLab64(r.Float64(), r.Float64(), r.Float64())
		k := [2]float32{float32(math.Round(a/10) * 10), float32(math.Round(b/10) * 10)}
		if !set[k] {
			t.Fatalf("a random sRGB colour falls into bin %v, which is missing", k)
		}
	}
	if !set[[2]float32{0, 0}] || !set[[2]float32{80, 70}] || !set[[2]float32{-90, 80}] || !set[[2]float32{80, -110}] {
		t.Fatal("grey or a primary's bin is missing")
	}
	if again := gamutBins(10); again.Dim(0) != q || &again.Data[0] == &bins.Data[0] {
		t.Fatal("the cache must return a fresh copy of the same bins")
	}
}

// softEncode keeps the k nearest bins with Gaussian weights, nearest first,
// and agrees with a sort of all distances.
func TestSoftEncode(t *testing.T) {
	bins := gamutBins(10)
	q := bins.Dim(0)
	r := rand.New(rand.NewPCG(3, 3))
	const p, k, sigma = 300, 5, 5.0
	ab := make([]float32, 2*p)
	ab[0], ab[1] = 0, 0 // exactly on a bin centre, with 4 neighbours at 10
	for i := 2; i < len(ab); i++ {
		ab[i] = float32(r.Float64()*180 - 90)
	}
	idx, w, nearest := make([]int32, p*k), make([]float32, p*k), make([]int32, p)
	softEncode(ab, bins, k, sigma, idx, w, nearest)
	wantSelf := 1 / (1 + 4*math.Exp(-100/(2*sigma*sigma)))
	if math.Abs(float64(w[0])-wantSelf) > 1e-6 || bins.Data[2*idx[0]] != 0 || bins.Data[2*idx[0]+1] != 0 {
		t.Fatalf("grey: weight %v on bin %d, want %v on (0, 0)", w[0], idx[0], wantSelf)
	}
	order := make([]int, q)
	for row := range p {
		a, b := ab[2*row], ab[2*row+1]
		dist := func(j int) float64 {
			da, db := float64(bins.Data[2*j]-a), float64(bins.Data[2*j+1]-b)
			return da*da + db*db
		}
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(x, y int) bool { return dist(order[x]) < dist(order[y]) })
		var sum float64
		for i := range k {
			if int(idx[row*k+i]) != order[i] && dist(int(idx[row*k+i])) != dist(order[i]) {
				t.Fatalf("row %d: neighbour %d is bin %d, want %d", row, i, idx[row*k+i], order[i])
			}
			want := math.Exp(-dist(order[i]) / (2 * sigma * sigma))
			ratio := float64(w[row*k+i]) / float64(w[row*k])
			if math.Abs(ratio-want/math.Exp(-dist(order[0])/(2*sigma*sigma))) > 1e-4 {
				t.Fatalf("row %d: weight ratio %v", row, ratio)
			}
			sum += float64(w[row*k+i])
		}
		if math.Abs(sum-1) > 1e-5 || nearest[row] != idx[row*k] {
			t.Fatalf("row %d: weights sum to %v, nearest %d", row, sum, nearest[row])
		}
	}
}

func TestClassWeights(t *testing.T) {
	bins := gamutBins(10)
	q := bins.Dim(0)
	uniform := make([]float32, q)
	for i := range uniform {
		uniform[i] = 3
	}
	w := make([]float32, q)
	// without smoothing a uniform prior gives weight 1 everywhere
	if err := classWeights(w, uniform, smoothingKernel(bins, 0), 0.5); err != nil {
		t.Fatal(err)
	}
	for i, v := range w {
		if math.Abs(float64(v)-1) > 1e-6 {
			t.Fatalf("weight %d = %v for a uniform prior", i, v)
		}
	}
	// a skewed prior: rare colours weigh more, expectation 1 under the
	// smoothed prior, and lambda 1 switches rebalancing off
	skew := make([]float32, q)
	for i := range skew {
		skew[i] = float32(1 + i%7*100)
	}
	kernel := smoothingKernel(bins, 5)
	if err := classWeights(w, skew, kernel, 0.5); err != nil {
		t.Fatal(err)
	}
	var smooth []float64
	var total float64
	for i := range q {
		var s float64
		for j := range q {
			s += kernel[i*q+j] * float64(skew[j])
		}
		smooth = append(smooth, s)
		total += s
	}
	var expect float64
	for i := range q {
		expect += smooth[i] / total * float64(w[i])
		for j := range q {
			if smooth[i] < smooth[j]*(1-1e-5) && w[i] <= w[j] {
				t.Fatalf("bin %d is rarer than bin %d but weighs %v <= %v", i, j, w[i], w[j])
			}
		}
	}
	if math.Abs(expect-1) > 1e-5 {
		t.Fatalf("expected weight %v, want 1", expect)
	}
	if err := classWeights(w, skew, kernel, 1); err != nil || math.Abs(float64(w[0])-1) > 1e-6 || math.Abs(float64(w[q-1])-1) > 1e-6 {
		t.Fatalf("lambda 1: weights %v, %v (%v)", w[0], w[q-1], err)
	}
	if err := classWeights(w, make([]float32, q), kernel, 0.5); err == nil {
		t.Fatal("an empty prior gave weights")
	}
}

// cellMeans averages a and b over each grid cell, rows in (n, y, x) order.
func TestCellMeans(t *testing.T) {
	const n, h, grid = 2, 4, 2
	lab := tensor.New(n, 3, h, h)
	for img := range n {
		for y := range h {
			for x := range h {
				lab.Data[(img*3+1)*h*h+y*h+x] = float32(100*img + 10*(y/2) + x/2) // a: cell id
				lab.Data[(img*3+2)*h*h+y*h+x] = float32(x % 2)                    // b: alternates
			}
		}
	}
	ab := make([]float32, 2*n*grid*grid)
	cellMeans(ab, lab, grid)
	for r := range n * grid * grid {
		img, gy, gx := r/4, r/2%2, r%2
		if ab[2*r] != float32(100*img+10*gy+gx) || ab[2*r+1] != 0.5 {
			t.Fatalf("row %d: %v %v", r, ab[2*r], ab[2*r+1])
		}
	}
}

// shapesBatch renders the first n synthetic shapes images as one view.
func shapesBatch(t *testing.T, n int) loader.Batch {
	t.Helper()
	ds, err := data.SyntheticShapes("train", n)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(n, 3, data.ShapesSize, data.ShapesSize)
	per := 3 * data.ShapesSize * data.ShapesSize
	for i := range n {
		if _, err := ds.Image(i, data.Image{C: 3, H: data.ShapesSize, W: data.ShapesSize, Pix: x.Data[i*per : (i+1)*per]}); err != nil {
			t.Fatal(err)
		}
	}
	return loader.Batch{Views: []*tensor.Tensor{x}, Indices: make([]int, n), Labels: make([]int, n)}
}

// A tiny colorization model memorises the colours of a fixed batch: its
// pretext metrics (ab error, bin accuracy) improve well beyond their
// starting values within a few dozen steps, for both variants. They are
// measured with batch statistics: this early, the batch-norm running
// statistics lag the fast-moving weights.
func TestColorizationLearnsColours(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	for _, variant := range []string{"classification", "regression"} {
		t.Run(variant, func(t *testing.T) {
			r := rand.New(rand.NewPCG(4, 4))
			spec := Spec{Method: "colorization", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 3, ImageSize: 32},
				Params: json.RawMessage(`{"decoder_dim":16,"variant":"` + variant + `"}`)}
			meth, err := Build(spec, r)
			if err != nil {
				t.Fatal(err)
			}
			m := meth.(*Colorization)
			b := shapesBatch(t, 8)
			metrics := func() map[string]float64 {
				var got map[string]float64
				autograd.NoGrad(func() { got = m.PretextMetrics(b, r) })
				return got
			}
			before := metrics()
			var params []*autograd.Var
			for _, p := range nn.StateOf(m).Params {
				params = append(params, p.Var)
			}
			const steps = 25
			opt := optim.NewAdamW(params, optim.AdamWConfig{LR: 3e-3, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8})
			for range steps {
				out := m.Loss(b, r)
				if err := out.Loss.Backward(); err != nil {
					t.Fatal(err)
				}
				opt.Step()
				nn.ZeroGrad(m)
			}
			after := metrics()
			t.Logf("%s: before %v, after %v", variant, before, after)
			if !(after["ab_error"] < 0.75*before["ab_error"]) {
				t.Fatalf("ab error %v -> %v: not learning", before["ab_error"], after["ab_error"])
			}
			if variant == "classification" && !(after["bin_accuracy"] > 0.25 && after["bin_accuracy"] > 2*before["bin_accuracy"]) {
				t.Fatalf("bin accuracy %v -> %v: not learning", before["bin_accuracy"], after["bin_accuracy"])
			}
			// the chance levels depend on the batch only (the mode on the
			// prior), and a trained model beats them
			if before["grey_ab_error"] != after["grey_ab_error"] || !(after["ab_error"] < after["grey_ab_error"]) {
				t.Fatalf("grey ab error %v -> %v, model %v: want a constant above the model's error",
					before["grey_ab_error"], after["grey_ab_error"], after["ab_error"])
			}
			if variant == "classification" && !(after["mode_bin_accuracy"] > 0 && after["bin_accuracy"] > after["mode_bin_accuracy"]) {
				t.Fatalf("mode bin accuracy %v, model %v: want 0 < mode < model", after["mode_bin_accuracy"], after["bin_accuracy"])
			}
			if variant == "classification" && m.PriorCount.Data[0] != steps*8*8*8 {
				t.Fatalf("the prior counted %v pixels, want %d", m.PriorCount.Data[0], steps*8*8*8)
			}
		})
	}
}

// A training step with colour input (the generic every-method test feeds
// 1-channel images, which colorization rejects): a finite loss, gradients
// reaching the first convolution and the classifier, and the state dict
// naming the backbone "encoder." (1 input channel) with the bins and prior
// as buffers.
func TestColorizationTrainsAStep(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	spec, err := Resolve(colorSpec(smallParams["colorization"]), RunInfo{BatchSize: 8, DataLen: 64})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Build(spec, r)
	if err != nil {
		t.Fatal(err)
	}
	b := loader.Batch{Indices: make([]int, 4)}
	for _, v := range m.Views() {
		c, h, w, err := v.OutShape(3, 16, 16)
		if err != nil {
			t.Fatal(err)
		}
		x := tensor.New(4, c, h, w)
		nn.Uniform(x, 1, r)
		for i := range x.Data {
			x.Data[i] = (x.Data[i] + 1) / 2
		}
		b.Views = append(b.Views, x)
	}
	out := m.Loss(b, r)
	if l := float64(out.Loss.Item()); math.IsNaN(l) || l <= 0 {
		t.Fatalf("loss %v", l)
	}
	if err := out.Loss.Backward(); err != nil {
		t.Fatal(err)
	}
	sd := nn.StateDict("", m)
	for _, name := range []string{"encoder.conv1.weight", "decoder.out.weight", "decoder.conv.weight"} {
		found := false
		for _, p := range nn.StateOf(m).Params {
			if p.Name == name {
				found = true
				if p.Var.Grad == nil {
					t.Fatalf("%s got no gradient", name)
				}
			}
		}
		if !found {
			t.Fatalf("no parameter %s", name)
		}
	}
	if s := sd["encoder.conv1.weight"].Shape(); s[1] != 1 {
		t.Fatalf("encoder.conv1.weight %v: the backbone must see one channel", s)
	}
	if sd["ab_bins"] == nil || sd["ab_bins"].Dim(0) != 261 || sd["ab_prior"] == nil || sd["ab_prior_pixels"].Data[0] != 4*4*4 {
		t.Fatal("bins or prior missing from the state dict, or the prior did not count the batch")
	}
}

// The encoder evaluated by probes takes RGB (or grey) images and gives the
// features of their lightness; a checkpoint round trip through the state
// dict reproduces its predictions.
func TestLightnessBackbone(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	meth, err := Build(colorSpec(`{"decoder_dim":8}`), r)
	if err != nil {
		t.Fatal(err)
	}
	m := meth.(*Colorization)
	enc := m.Encoder()
	if enc.OutDim() != m.Net.OutDim() || enc.NumStages() != m.Net.NumStages() || len(enc.StageModules()) != len(m.Net.StageModules()) {
		t.Fatal("the wrapper does not delegate its shape queries")
	}
	enc.SetTraining(false)
	x := tensor.New(2, 3, 16, 16)
	nn.Uniform(x, 1, r)
	for i := range x.Data {
		x.Data[i] = (x.Data[i] + 1) / 2
	}
	// the first image grey, so the 1-channel input can be compared
	for p := range 256 {
		x.Data[256+p], x.Data[512+p] = x.Data[p], x.Data[p]
	}
	lab := make([]float32, len(x.Data))
	if err := color.RGBToLabPlanar(lab, x.Data, 256); err != nil {
		t.Fatal(err)
	}
	l := tensor.New(2, 1, 16, 16)
	for i := range 2 {
		for p := range 256 {
			l.Data[i*256+p] = (lab[i*768+p] - 50) / 100
		}
	}
	var got, want, stage, gray *tensor.Tensor
	autograd.NoGrad(func() {
		got = enc.Forward(autograd.Const(x)).Value
		want = m.Net.Forward(autograd.Const(l)).Value
		stage = enc.ForwardStages(autograd.Const(x), 1, false)[0].Value
		gray = enc.Forward(autograd.Const(tensor.FromData(append([]float32(nil), x.Data[:256]...), 1, 1, 16, 16))).Value
	})
	for i := range want.Data {
		if math.Abs(float64(got.Data[i]-want.Data[i])) > 1e-4 {
			t.Fatalf("feature %d: %v through the wrapper, %v on the L channel", i, got.Data[i], want.Data[i])
		}
	}
	for i := range gray.Len() {
		if math.Abs(float64(gray.Data[i]-got.Data[i])) > 1e-4 {
			t.Fatalf("grey input feature %d: %v, RGB grey %v", i, gray.Data[i], got.Data[i])
		}
	}
	if stage.Dims() != 4 || stage.Dim(0) != 2 {
		t.Fatalf("stage 1 map %v", stage.Shape())
	}
	if err := autograd.Guard(func() error { enc.Forward(autograd.Const(tensor.New(1, 2, 16, 16))); return nil }); err == nil {
		t.Fatal("2-channel input accepted")
	}

	// predictions survive a state-dict round trip (bins and prior included)
	m.Loss(loader.Batch{Views: []*tensor.Tensor{x}}, r) // moves the prior
	pred, err := m.PredictAB(x)
	if err != nil {
		t.Fatal(err)
	}
	if s := pred.Shape(); s[0] != 2 || s[1] != 2 || s[2] != 4 || s[3] != 4 {
		t.Fatalf("PredictAB shape %v, want [2 2 4 4]", s)
	}
	twin, err := Build(colorSpec(`{"decoder_dim":8}`), rand.New(rand.NewPCG(7, 7)))
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.LoadStateDict(twin, "", nn.StateDict("", m), true); err != nil {
		t.Fatal(err)
	}
	pred2, err := twin.(*Colorization).PredictAB(x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pred.Data {
		if pred.Data[i] != pred2.Data[i] {
			t.Fatalf("prediction %d: %v, after loading %v", i, pred.Data[i], pred2.Data[i])
		}
	}
	if twin.(*Colorization).PriorCount.Data[0] != m.PriorCount.Data[0] {
		t.Fatal("the prior did not travel with the state dict")
	}
	if _, err := m.PredictAB(tensor.New(1, 3, 8, 8)); err == nil {
		t.Fatal("PredictAB accepted 8-pixel images from a 16-pixel model")
	}
}

func TestColorABError(t *testing.T) {
	target := []float32{3, 4, 0, -2}
	cases := []struct {
		name string
		pred []float32
		want float64
	}{
		{"grey", nil, (5 + 2) / 2.0},
		{"exact", []float32{3, 4, 0, -2}, 0},
		{"off by (3, 4) and (0, 1)", []float32{0, 0, 0, -1}, (5 + 1) / 2.0},
	}
	for _, c := range cases {
		if got := colorABError(c.pred, target); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: colorABError = %v, want %v", c.name, got, c.want)
		}
	}
}
