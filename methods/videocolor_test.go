package methods

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/data"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/optim"
	"selfsup/tensor"
)

func init() {
	smallParams["video-color"] = `{"embed_dim":8,"colors":4}`
	smallChannels["video-color"] = 6
}

// videoColorSpec is a video-color spec for clips of frames RGB frames of
// the given size.
func videoColorSpec(frames, size int, params string) Spec {
	s := Spec{Method: "video-color", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 3 * frames, ImageSize: size}}
	if params != "" {
		s.Params = json.RawMessage(params)
	}
	return s
}

func TestVideoColorValidatesSpecs(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want string // substring of the error; "" for success
	}{
		{"defaults", videoColorSpec(4, 16, ""), ""},
		{"paper form", videoColorSpec(2, 16, `{"normalize":false,"temperature":1,"track_temperature":0.5}`), ""},
		{"bins", videoColorSpec(2, 16, `{"quantizer":"bins","bin_size":20}`), ""},
		{"stride 8", videoColorSpec(2, 32, `{"stride":8}`), ""},
		{"single frames", videoColorSpec(1, 16, ""), "at least 2 colour frames"},
		{"grey images", Spec{Method: "video-color", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 16}}, "has 1 channels"},
		{"not RGB triples", Spec{Method: "video-color", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 7, ImageSize: 16}}, "has 7 channels"},
		{"vit", Spec{Method: "video-color", Backbone: nn.BackboneConfig{Arch: "vit-tiny", InChannels: 6, ImageSize: 16}}, "convolutional backbone"},
		{"no such stride", videoColorSpec(2, 16, `{"stride":16}`), "strides: [1 2 4 8]"},
		{"stride not dividing", videoColorSpec(2, 16, `{"stride":3}`), "stride 3 does not divide the image size 16"},
		{"quantizer", videoColorSpec(2, 16, `{"quantizer":"median-cut"}`), "quantizer"},
		{"colors", videoColorSpec(2, 16, `{"colors":1}`), "colors 1 must lie in [2, 1024]"},
		{"bin size", videoColorSpec(2, 16, `{"quantizer":"bins","bin_size":1}`), "bin_size 1"},
		{"temperature", videoColorSpec(2, 16, `{"temperature":0}`), "temperature 0"},
		{"track temperature", videoColorSpec(2, 16, `{"track_temperature":-1}`), "track_temperature -1"},
		{"min scale", videoColorSpec(2, 16, `{"min_scale":0}`), "min_scale 0"},
		{"embed dim", videoColorSpec(2, 16, `{"embed_dim":0}`), "embed_dim 0"},
		{"unknown field", videoColorSpec(2, 16, `{"clusters":16}`), "unknown field"},
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.spec, r)
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// With a one-hot attention (every target pixel identical to exactly one
// reference pixel, all embeddings orthonormal, a tiny temperature) the
// copied colours are exactly the reference pixels' colours.
func TestVideoColorCopyWithOneHotAttentionIsExact(t *testing.T) {
	const n, p, refs, q = 2, 6, 2, 5
	m := refs * p
	d := m // one basis vector per reference pixel
	r := rand.New(rand.NewPCG(3, 4))
	refEmb := tensor.New(n, m, d)
	tgtEmb := tensor.New(n, p, d)
	refColors := tensor.New(n, m, q)
	pointer := make([]int, n*p)
	cls := make([]int32, n*m)
	for i := range n {
		perm := r.Perm(m)
		for j := range m {
			refEmb.Data[(i*m+j)*d+perm[j]] = 1
			cls[i*m+j] = int32(r.IntN(q))
		}
		oneHotRows(refColors.Data[i*m*q:(i+1)*m*q], cls[i*m:(i+1)*m], q, 1)
		for k := range p {
			j := r.IntN(m) // target pixel k is reference pixel j
			pointer[i*p+k] = j
			copy(tgtEmb.Data[(i*p+k)*d:(i*p+k+1)*d], refEmb.Data[(i*m+j)*d:(i*m+j+1)*d])
		}
	}
	centers := tensor.FromData([]float32{-40, 10, 0, 0, 25, -30, 60, 60, -5, 80}, q, 2)
	var pred *autograd.Var
	autograd.NoGrad(func() {
		pred = colorCopy(autograd.Const(tgtEmb), autograd.Const(refEmb), autograd.Const(refColors), 1e-3)
	})
	for i := range n {
		for k := range p {
			row := pred.Value.Data[(i*p+k)*q : (i*p+k+1)*q]
			want := cls[i*m+pointer[i*p+k]]
			var a, b float32
			for j, v := range row {
				wantV := float32(0)
				if int32(j) == want {
					wantV = 1
				}
				if v != wantV {
					t.Fatalf("clip %d pixel %d: copied distribution %v, want the one-hot of class %d", i, k, row, want)
				}
				a += v * centers.Data[2*j]
				b += v * centers.Data[2*j+1]
			}
			if a != centers.Data[2*want] || b != centers.Data[2*want+1] {
				t.Fatalf("decoded colour (%v, %v), reference colour (%v, %v)", a, b, centers.Data[2*want], centers.Data[2*want+1])
			}
		}
	}
}

func TestFitColorCentersFindsClusters(t *testing.T) {
	truth := [][2]float32{{-50, 20}, {0, 0}, {40, -40}, {70, 60}}
	r := rand.New(rand.NewPCG(5, 6))
	var ab []float32
	for i := range 400 {
		c := truth[i%len(truth)]
		ab = append(ab, c[0]+float32(r.NormFloat64()), c[1]+float32(r.NormFloat64()))
	}
	centers := tensor.New(len(truth), 2)
	if err := fitColorCenters(centers, ab, r); err != nil {
		t.Fatal(err)
	}
	for _, c := range truth {
		q := nearestColor(centers.Data, c[0], c[1])
		got := centers.Data[2*q : 2*q+2]
		if math.Hypot(float64(got[0]-c[0]), float64(got[1]-c[1])) > 0.5 {
			t.Fatalf("no centre near %v: centres %v", c, centers.Data)
		}
	}
	if err := fitColorCenters(tensor.New(8, 2), ab[:10], r); err == nil {
		t.Fatal("5 samples seeded 8 clusters")
	}
}

// clipBatchOf reads clips of the synthetic videos as a batch.
func clipBatchOf(t *testing.T, ds data.Dataset, idx []int) loader.Batch {
	t.Helper()
	c, h, w := ds.Shape()
	x := tensor.New(len(idx), c, h, w)
	img := data.NewImage(c, h, w)
	for k, i := range idx {
		var err error
		if img, err = ds.Image(i, img); err != nil {
			t.Fatal(err)
		}
		copy(x.Data[k*c*h*w:(k+1)*c*h*w], img.Pix)
	}
	return loader.Batch{Views: []*tensor.Tensor{x}, Indices: idx}
}

// A few dozen steps on a fixed batch of synthetic clips teach the pointer
// to copy colours better than it did at initialisation, and better than
// copying the same position of the previous frame; the embeddings come
// out unit-length on the feature map.
func TestVideoColorLearnsToCopyColours(t *testing.T) {
	ds, err := data.SyntheticVideoClips(data.SyntheticVideoConfig{Videos: 8, Frames: 8, Size: 32, Objects: 2, Clip: 2, Step: 4}, "train")
	if err != nil {
		t.Fatal(err)
	}
	c, size, _ := ds.Shape()
	spec := videoColorSpec(c/3, size, `{"embed_dim":16,"colors":8,"flip":false}`)
	r := rand.New(rand.NewPCG(7, 8))
	mm, err := Build(spec, r)
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*VideoColor)
	var idx []int
	for v := range 8 {
		idx = append(idx, v*4) // clip 0 of every video: frames 0 and 4
	}
	b := clipBatchOf(t, ds, idx)
	eval := func() map[string]float64 {
		var got map[string]float64
		m.SetTraining(false)
		autograd.NoGrad(func() { got = m.PretextMetrics(b, r) })
		m.SetTraining(true)
		return got
	}
	m.Loss(b, r) // fits the colour centres
	before := eval()
	opt := optim.NewAdamW(nn.Parameters(m), optim.AdamWConfig{LR: 3e-3})
	for range 80 {
		out := m.Loss(b, r)
		if err := out.Loss.Backward(); err != nil {
			t.Fatal(err)
		}
		opt.Step()
		nn.ZeroGrad(m)
	}
	after := eval()
	t.Logf("before %v, after %v", before, after)
	if !(after["color_error"] < before["color_error"]-2) || !(after["color_accuracy"] > before["color_accuracy"]+0.02) {
		t.Fatalf("training did not improve the copied colours: before %v, after %v", before, after)
	}
	if !(after["color_error"] < after["copy_color_error"]) {
		t.Fatalf("the learned pointer (error %.2f) does no better than copying the same position (%.2f)", after["color_error"], after["copy_color_error"])
	}
	x := tensor.New(3, 3, size, size)
	copy(x.Data, b.Views[0].Data[:x.Len()])
	emb, h, w, err := m.Embed(x)
	if err != nil {
		t.Fatal(err)
	}
	if h != size/4 || w != size/4 || emb.Dim(0) != 3 || emb.Dim(1) != h*w || emb.Dim(2) != 16 {
		t.Fatalf("embedding %v on a %dx%d map", emb.Shape(), w, h)
	}
	for i := range 3 * h * w {
		var s float64
		for _, v := range emb.Data[i*16 : (i+1)*16] {
			s += float64(v) * float64(v)
		}
		if math.Abs(s-1) > 1e-4 {
			t.Fatalf("embedding row %d has squared norm %v", i, s)
		}
	}
	if _, _, _, err := m.Embed(tensor.New(1, 3, 30, 30)); err == nil || !strings.Contains(err.Error(), "multiples of the stride 4") {
		t.Fatalf("30-pixel frames: %v", err)
	}
}

// The colour classes are saved with the model.
func TestVideoColorStateHoldsTheColours(t *testing.T) {
	m, err := Build(videoColorSpec(2, 16, `{"colors":6}`), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	st := nn.StateDict("", m)
	if c := st["color_centers"]; c == nil || c.Dim(0) != 6 || c.Dim(1) != 2 {
		t.Fatalf("color_centers %v", c)
	}
	if st["color_fitted"] == nil || st["encoder.conv1.weight"] == nil || st["embed.weight"] == nil {
		t.Fatal("missing state entries")
	}
}
