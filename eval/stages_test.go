package eval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"selfsup/data"
	"selfsup/nn"
)

// bars is a small labelled dataset of 1 x size x size textures on a noisy
// background, told apart by orientation and frequency (what globally pooled
// features keep): class k%4 is horizontal bars, vertical bars, a
// checkerboard or noise alone, with a random phase; classes above 3 repeat
// those at half the frequency.
type bars struct {
	n, size, classes int
	seed             uint64
}

func (b bars) Name() string         { return fmt.Sprintf("bars/%d", b.n) }
func (b bars) Len() int             { return b.n }
func (b bars) Label(i int) int      { return i % b.classes }
func (b bars) Shape() (c, h, w int) { return 1, b.size, b.size }

func (b bars) Classes() []string {
	out := make([]string, b.classes)
	for k := range out {
		out[k] = fmt.Sprintf("texture%d", k)
	}
	return out
}

func (b bars) Image(i int, dst data.Image) (data.Image, error) {
	if i < 0 || i >= b.n {
		return dst, fmt.Errorf("%s: image index %d out of range", b.Name(), i)
	}
	s := b.size
	if len(dst.Pix) != s*s {
		dst = data.NewImage(1, s, s)
	}
	r := rand.New(rand.NewPCG(b.seed, uint64(i)))
	k := i % b.classes
	period := 4 * (1 + k/4)
	phase := r.IntN(period)
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			var on bool
			switch k % 4 {
			case 0:
				on = (y+phase)%period < period/2
			case 1:
				on = (x+phase)%period < period/2
			case 2:
				on = ((x+phase)%period < period/2) != ((y+phase)%period < period/2)
			}
			v := 0.3 * r.Float32()
			if on {
				v += 0.6
			}
			dst.Pix[y*s+x] = v
		}
	}
	return dst, nil
}

func newBackbone(t *testing.T, arch string, size int) nn.Backbone {
	t.Helper()
	enc, err := nn.NewBackbone(nn.BackboneConfig{Arch: arch, InChannels: 1, ImageSize: size, PatchSize: 4}, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// ExtractStages gives, in one pass, the features Extract gives stage by
// stage: the stem (Stage -1) first, then every stage, with the stage
// widths of the backbone.
func TestExtractStagesShapes(t *testing.T) {
	cases := []struct {
		arch string
		dims []int
	}{
		{"resnet-small", []int{32, 64, 128, 256}},
		{"vit-tiny", []int{192, 192, 192, 192, 192}},
	}
	ds := bars{n: 10, size: 16, classes: 4, seed: 1}
	for _, c := range cases {
		t.Run(c.arch, func(t *testing.T) {
			enc := newBackbone(t, c.arch, 16)
			all, err := ExtractStages(context.Background(), enc, ds, ExtractConfig{BatchSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(c.dims) || enc.NumStages()+1 != len(c.dims) {
				t.Fatalf("%d feature sets for %d stages, want %d", len(all), enc.NumStages(), len(c.dims))
			}
			for k, f := range all {
				if f.X.Dim(0) != ds.Len() || f.X.Dim(1) != c.dims[k] {
					t.Errorf("%s: features %v, want [%d %d]", StageName(k), f.X.Shape(), ds.Len(), c.dims[k])
				}
				stage := k
				if k == 0 {
					stage = -1
				}
				one, err := Extract(context.Background(), enc, ds, ExtractConfig{BatchSize: 4, Stage: stage})
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range one.X.Data {
					if math.Abs(float64(v-f.X.Data[i])) > 1e-4*(1+math.Abs(float64(v))) {
						t.Fatalf("%s: ExtractStages gives %v at %d, Extract(Stage %d) %v", StageName(k), f.X.Data[i], i, stage, v)
					}
				}
				for i, l := range f.Labels {
					if l != ds.Label(i) {
						t.Fatalf("label %d is %d, want %d", i, l, ds.Label(i))
					}
				}
			}
		})
	}
}

// A stage index the backbone does not have is an error naming the valid
// range, not a panic.
func TestExtractBadStage(t *testing.T) {
	ds := bars{n: 4, size: 16, classes: 4}
	for _, arch := range []string{"resnet-small", "vit-tiny"} {
		enc := newBackbone(t, arch, 16)
		n := enc.NumStages()
		for _, stage := range []int{n + 1, 7, -2} {
			_, err := Extract(context.Background(), enc, ds, ExtractConfig{Stage: stage})
			if err == nil {
				t.Fatalf("%s: stage %d accepted", arch, stage)
			}
			for _, w := range []string{fmt.Sprintf("stage %d", stage), fmt.Sprintf("%d stages", n), fmt.Sprintf("1..%d", n), ds.Name()} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s stage %d: error %q lacks %q", arch, stage, err, w)
				}
			}
		}
		for stage := -1; stage <= n; stage++ {
			if err := CheckStage(enc, stage); err != nil {
				t.Errorf("%s: stage %d rejected: %v", arch, stage, err)
			}
		}
	}
}

// StageProbes returns one row per stage, stem first, each with its width
// and a test accuracy; on images whose class is a bright bar, every stage
// of a random-init ResNet is far better than chance.
func TestStageProbes(t *testing.T) {
	enc := newBackbone(t, "resnet-small", 16)
	train := bars{n: 200, size: 16, classes: 4, seed: 1}
	test := bars{n: 80, size: 16, classes: 4, seed: 2}
	var seen []int
	res, err := StageProbes(context.Background(), enc, train, test, 4, StageProbeConfig{
		Extract: ExtractConfig{BatchSize: 64},
		Linear:  LinearConfig{SelectWeightDecay: true, MaxIterations: 100},
		OnStage: func(r StageResult) { seen = append(seen, r.Stage) },
	})
	if err != nil {
		t.Fatal(err)
	}
	dims := []int{32, 64, 128, 256}
	if len(res) != len(dims) || len(seen) != len(dims) {
		t.Fatalf("%d results, %d callbacks, want %d", len(res), len(seen), len(dims))
	}
	for k, r := range res {
		if r.Stage != k || r.Name != StageName(k) || r.Dim != dims[k] {
			t.Errorf("row %d: %+v, want stage %d (%s) of width %d", k, r, k, StageName(k), dims[k])
		}
		if r.Top1 < 0.5 || r.Top5 < r.Top1 {
			t.Errorf("%s: top-1 %v, top-5 %v; want well above chance (0.25)", r.Name, r.Top1, r.Top5)
		}
	}
}
