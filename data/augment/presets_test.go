package augment

import (
	"testing"

	"selfsup/data"
)

func TestPresetShapes(t *testing.T) {
	cases := []struct {
		name    string
		views   []Transform
		c, h, w int
		want    [][3]int
	}{
		{"SimCLR CIFAR", []Transform{SimCLR(32, 0.5)}, 3, 32, 32, [][3]int{{3, 32, 32}}},
		{"SimCLR MNIST", []Transform{SimCLR(28, 0.5)}, 1, 28, 28, [][3]int{{1, 28, 28}}},
		{"MoCo v2", []Transform{MoCoV2(64)}, 3, 96, 96, [][3]int{{3, 64, 64}}},
		{"BYOL", BYOL(48), 3, 64, 80, [][3]int{{3, 48, 48}, {3, 48, 48}}},
		{"multi-crop", MultiCrop(32, 16, 3), 3, 64, 64, [][3]int{{3, 32, 32}, {3, 32, 32}, {3, 16, 16}, {3, 16, 16}, {3, 16, 16}}},
		{"eval small", []Transform{Eval(32)}, 3, 32, 32, [][3]int{{3, 32, 32}}},
		{"eval ImageNet", []Transform{Eval(224)}, 3, 375, 500, [][3]int{{3, 224, 224}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.views) != len(tc.want) {
				t.Fatalf("%d views, want %d", len(tc.views), len(tc.want))
			}
			src := randomImage(tc.c, tc.h, tc.w, 1)
			for i, v := range tc.views {
				c, h, w, err := v.OutShape(tc.c, tc.h, tc.w)
				if err != nil || [3]int{c, h, w} != tc.want[i] {
					t.Fatalf("view %d OutShape = %d %d %d %v, want %v", i, c, h, w, err, tc.want[i])
				}
				out := v.Apply(data.Image{}, src, newRand(uint64(i)))
				assertShape(t, "view", out, tc.want[i][0], tc.want[i][1], tc.want[i][2])
			}
		})
	}
}

func TestPresetSettings(t *testing.T) {
	s := SimCLROptions(224, 1)
	if s.Jitter != (ColorJitter{Brightness: 0.8, Contrast: 0.8, Saturation: 0.8, Hue: 0.2, P: 0.8}) ||
		s.Grayscale != 0.2 || s.Blur.P != 0.5 || s.Scale != DefaultScale || s.Mean != nil {
		t.Errorf("SimCLR ImageNet settings: %+v", s)
	}
	if c := SimCLROptions(32, 0.5); c.Blur.P != 0 || c.Jitter.Brightness != 0.4 || c.Jitter.Hue != 0.1 {
		t.Errorf("SimCLR CIFAR settings: %+v", c)
	}
	b := BYOLOptions(224)
	if b[0].Blur.P != 1 || b[0].Solarize != 0 || b[1].Blur.P != 0.1 || b[1].Solarize != 0.2 {
		t.Errorf("BYOL views not asymmetric as in the paper: %+v / %+v", b[0], b[1])
	}
	d := DINOOptions(224, 96, 8)
	if d.Global[0].Scale != [2]float64{0.4, 1} || d.Local.Scale != [2]float64{0.05, 0.4} ||
		d.Global[0].Blur.P != 1 || d.Global[1].Solarize != 0.2 || d.Local.Blur.P != 0.5 || d.NLocal != 8 {
		t.Errorf("DINO settings: %+v", d)
	}
	if m := MoCoV2Options(224); m.Scale != [2]float64{0.2, 1} || m.Jitter.Saturation != 0.4 {
		t.Errorf("MoCo v2 settings: %+v", m)
	}
	if e := EvalDefaults(224); e.CropFraction != 0.875 {
		t.Errorf("ImageNet eval crop fraction %v", e.CropFraction)
	}
}

// TestSimCLRViewsDiffer checks that two views of one image from different
// generators differ, which is the point of the augmentation.
func TestSimCLRViewsDiffer(t *testing.T) {
	src := randomImage(3, 32, 32, 2)
	p := SimCLR(32, 0.5)
	a := p.Apply(data.Image{}, src, newRand(1))
	b := p.Apply(data.Image{}, src, newRand(2))
	if maxDiff(a.Pix, b.Pix) < 0.05 {
		t.Error("two SimCLR views are nearly identical")
	}
	for i, v := range a.Pix {
		if v < 0 || v > 1 {
			t.Fatalf("unnormalised SimCLR view value %d = %v outside [0, 1]", i, v)
		}
	}
}

func BenchmarkSimCLR32(b *testing.B)  { benchPipeline(b, SimCLR(32, 0.5), 32) }
func BenchmarkSimCLR224(b *testing.B) { benchPipeline(b, SimCLR(224, 1), 256) }

func benchPipeline(b *testing.B, p *Pipeline, in int) {
	src := randomImage(3, in, in, 1)
	r := newRand(1)
	var dst data.Image
	b.ReportAllocs()
	for b.Loop() {
		dst = p.Apply(dst, src, r)
	}
}
