package nn

import (
	"math/rand/v2"
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
