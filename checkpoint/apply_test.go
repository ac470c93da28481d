package checkpoint

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"selfsup/tensor"
)

func model(shapes map[string][]int) map[string]*tensor.Tensor {
	m := map[string]*tensor.Tensor{}
	for n, s := range shapes {
		m[n] = tensor.New(s...)
	}
	return m
}

func TestApplyCopiesValuesInPlace(t *testing.T) {
	src := map[string]*tensor.Tensor{"w": filled(1, 2, 3), "b": filled(2, 3)}
	dst := model(map[string][]int{"w": {2, 3}, "b": {3}})
	wData := dst["w"].Data
	if err := Apply(dst, src, true); err != nil {
		t.Fatal(err)
	}
	if &dst["w"].Data[0] != &wData[0] {
		t.Error("Apply replaced the model's slice instead of copying into it")
	}
	if !sameBits(dst["w"].Data, src["w"].Data) || !sameBits(dst["b"].Data, src["b"].Data) {
		t.Error("values not copied")
	}
	src["w"].Data[0] = 99
	if dst["w"].Data[0] == 99 {
		t.Error("model shares memory with the checkpoint")
	}
}

func TestApplyErrors(t *testing.T) {
	m := map[string][]int{"conv.weight": {64, 64, 3, 3}, "bn.bias": {64}}
	many := map[string][]int{}
	for i := range 12 {
		many[fmt.Sprintf("extra%02d", i)] = []int{1}
	}
	cases := []struct {
		name     string
		src, dst map[string][]int
		strict   bool
		want     []string
		dontWant []string
	}{
		{"missing", map[string][]int{"conv.weight": {64, 64, 3, 3}}, m, true,
			[]string{"1 missing from the checkpoint: bn.bias"}, []string{"not in the model"}},
		{"missing is fine when not strict", map[string][]int{"conv.weight": {64, 64, 3, 3}}, m, false, nil, nil},
		{"unexpected", merge(m, map[string][]int{"fc.weight": {10, 64}}), m, true,
			[]string{"1 not in the model: fc.weight"}, []string{"missing"}},
		{"shape", map[string][]int{"conv.weight": {64, 64, 3, 3}, "bn.bias": {128}}, m, false,
			[]string{"bn.bias: shape [128] in checkpoint, [64] in model"}, nil},
		{"all at once", map[string][]int{"conv.weight": {32, 64, 3, 3}, "fc.bias": {10}}, m, true,
			[]string{"1 missing from the checkpoint: bn.bias", "1 not in the model: fc.bias", "conv.weight: shape [32 64 3 3] in checkpoint, [64 64 3 3] in model"}, nil},
		{"long lists are cut", many, m, true,
			[]string{"12 not in the model: extra00, extra01", "extra07, and 4 more"}, []string{"extra08"}},
		{"no overlap", many, m, false,
			[]string{"no tensor name in common (model has bn.bias, conv.weight; checkpoint has extra00"}, nil},
		{"extra prefix in checkpoint", map[string][]int{"encoder.conv.weight": {64, 64, 3, 3}, "encoder.bn.bias": {64}, "head.w": {3}}, m, true,
			[]string{`the checkpoint's names carry the extra prefix "encoder.": select them with WithPrefix(tensors, "encoder.")`}, nil},
		{"extra prefix in model", m, map[string][]int{"backbone.conv.weight": {64, 64, 3, 3}, "backbone.bn.bias": {64}}, true,
			[]string{`the model's names carry the extra prefix "backbone."`, "AddPrefix"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, dst := model(c.src), model(c.dst)
			for _, s := range src {
				for i := range s.Data {
					s.Data[i] = 7
				}
			}
			err := Apply(dst, src, c.strict)
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var me *MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("err = %v (%T), want a *MismatchError", err, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\nlacks %q", err, w)
				}
			}
			for _, w := range c.dontWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\nshould not say %q", err, w)
				}
			}
			for n, d := range dst {
				for _, v := range d.Data {
					if v != 0 {
						t.Fatalf("%s was written although Apply failed", n)
					}
				}
			}
		})
	}
}

func merge(a, b map[string][]int) map[string][]int {
	out := map[string][]int{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestApplyRejectsMalformedTensors(t *testing.T) {
	short := tensor.New(4)
	short.Data = short.Data[:2]
	cases := []struct {
		name     string
		dst, src map[string]*tensor.Tensor
		want     string
	}{
		{"nil in model", map[string]*tensor.Tensor{"w": nil}, map[string]*tensor.Tensor{"w": tensor.New(1)}, "model w"},
		{"nil in checkpoint", map[string]*tensor.Tensor{"w": tensor.New(1)}, map[string]*tensor.Tensor{"w": nil}, "checkpoint w"},
		{"short data", map[string]*tensor.Tensor{"w": tensor.New(4)}, map[string]*tensor.Tensor{"w": short}, "checkpoint w"},
	}
	for _, c := range cases {
		err := Apply(c.dst, c.src, false)
		if err == nil || !strings.Contains(err.Error(), "nil or malformed tensors: "+c.want) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}

// TestApplyToNamesCheckpointAndArchitectures checks the message the brief
// asks for when a checkpoint from one architecture meets another model.
func TestApplyToNamesCheckpointAndArchitectures(t *testing.T) {
	ck := &Checkpoint{
		Arch:  "resnet18-cifar",
		Dir:   "runs/x",
		Model: model(map[string][]int{"layer1.0.conv1.weight": {64, 64, 3, 3}}),
	}
	dst := model(map[string][]int{"layer1.0.conv1.weight": {128, 64, 3, 3}})
	err := ck.ApplyTo(dst, "resnet34-cifar", true)
	want := "checkpoint runs/x: layer1.0.conv1.weight: shape [64 64 3 3] in checkpoint, [128 64 3 3] in model (is this checkpoint from another architecture? it says resnet18-cifar, the model is resnet34-cifar)"
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
	// Same architecture: no architecture hint, and a fitting model loads.
	ck.Model["layer1.0.conv1.weight"] = filled(1, 128, 64, 3, 3)
	if err := ck.ApplyTo(dst, "resnet18-cifar", true); err != nil {
		t.Fatal(err)
	}
	if !sameBits(dst["layer1.0.conv1.weight"].Data, ck.Model["layer1.0.conv1.weight"].Data) {
		t.Error("values not copied")
	}
}

func TestPrefixes(t *testing.T) {
	full := map[string]*tensor.Tensor{
		"encoder.conv.weight": tensor.New(2),
		"encoder.bn.bias":     tensor.New(3),
		"head.0.weight":       tensor.New(4),
		"encoderX":            tensor.New(5),
	}
	enc := WithPrefix(full, "encoder.")
	if len(enc) != 2 || enc["conv.weight"] != full["encoder.conv.weight"] || enc["bn.bias"] != full["encoder.bn.bias"] {
		t.Errorf("WithPrefix = %v", enc)
	}
	back := AddPrefix(enc, "encoder.")
	if len(back) != 2 || back["encoder.bn.bias"] != full["encoder.bn.bias"] {
		t.Errorf("AddPrefix = %v", back)
	}
	if len(WithPrefix(full, "")) != len(full) {
		t.Error("empty prefix should select everything")
	}
}
