package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"selfsup/tensor"
)

// The fixtures in testdata/ are written by testdata/make_safetensors.py,
// which follows the format by hand with numpy the way the official Python
// package (through its Rust core) writes it.

// pythonF32Tensors builds, from the same formulas as f32_fixture() in
// make_safetensors.py, the tensors of testdata/f32.safetensors.
func pythonF32Tensors() (map[string]*tensor.Tensor, map[string]string) {
	conv := tensor.New(2, 3, 2, 2)
	for i := range conv.Data {
		conv.Data[i] = float32((float64(i) - 11.5) * 0.125)
	}
	bn := tensor.New(3)
	for i := range bn.Data {
		bn.Data[i] = float32(float64(i+1) / 3)
	}
	special := tensor.FromData([]float32{
		float32(math.Copysign(0, -1)),
		float32(math.Inf(1)),
		float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00000),
		math.Float32frombits(1),
		math.MaxFloat32,
		1e-38,
	}, 7)
	return map[string]*tensor.Tensor{
			"conv.weight":                       conv,
			"bn.running_var":                    bn,
			"scalar":                            tensor.Scalar(float32(math.Pi)),
			"empty":                             tensor.New(2, 0),
			"special":                           special,
			"odd \"name\"\\\t\x01\u00fcn\u00ef": tensor.FromData([]float32{1.5, -2}, 1, 2),
		}, map[string]string{
			"source": "make_safetensors.py",
			"format": "pt",
		}
}

func TestPythonFixtureF32(t *testing.T) {
	const path = "testdata/f32.safetensors"
	want, wantMeta := pythonF32Tensors()
	got, meta, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if g == nil {
			t.Fatalf("tensor %q missing", name)
		}
		if !tensor.SameShape(g.Shape(), w.Shape()) || !sameBits(g.Data, w.Data) {
			t.Errorf("%q: got %v, want %v", name, g, w)
		}
	}
	if len(meta) != len(wantMeta) || meta["source"] != wantMeta["source"] || meta["format"] != wantMeta["format"] {
		t.Errorf("metadata %v, want %v", meta, wantMeta)
	}

	// The other direction: the same tensors written here give the same bytes.
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, want, wantMeta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), file) {
		t.Errorf("Go writes\n%q\nPython wrote\n%q", buf.Bytes(), file)
	}
}

func TestPythonFixtureMixed(t *testing.T) {
	const path = "testdata/mixed.safetensors"
	f, err := DecodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Descending dtype alignment, then name: F64, F32, BF16, F16.
	wantOrder := []string{"d", "d.empty", "b.expect", "d.expect", "h.expect", "b", "h"}
	if !slices.Equal(f.Names, wantOrder) {
		t.Errorf("order %v, want %v", f.Names, wantOrder)
	}
	if f.Metadata != nil {
		t.Errorf("metadata %v, want none", f.Metadata)
	}
	for name, dt := range map[string]DType{"h": F16, "b": BF16, "d": F64} {
		if f.DTypes[name] != dt {
			t.Errorf("%s: dtype %s, want %s", name, f.DTypes[name], dt)
		}
		got, want := f.Tensors[name], f.Tensors[name+".expect"]
		if !tensor.SameShape(got.Shape(), want.Shape()) || !sameBits(got.Data, want.Data) {
			t.Errorf("%s: converted to %v, numpy/torch say %v", name, got, want)
		}
	}
	// Spot values, so that a wrong fixture cannot pass by agreeing with itself.
	h := f.Tensors["h"].Data
	if h[0] != 1 || h[1] != -2.5 || h[2] != 65504 || !math.IsInf(float64(h[4]), 1) || !math.Signbit(float64(h[5])) {
		t.Errorf("F16 values %v", h)
	}
	if d := f.Tensors["d"].Data; d[0] != float32(0.1) || !math.IsInf(float64(d[1]), 1) || d[3] != float32(2.0/3) {
		t.Errorf("F64 values %v", d)
	}
	if b := f.Tensors["b"].Data; b[0] != 1 || math.Abs(float64(b[1])-3.14159) > 0.01 || b[1] == float32(3.14159) {
		t.Errorf("BF16 values %v", b)
	}
	if e := f.Tensors["d.empty"]; e.Len() != 0 || !tensor.SameShape(e.Shape(), []int{0}) {
		t.Errorf("d.empty: %v", e)
	}

	// The writer's layout rules reproduce this header, entries in any order.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	entries, meta, err := parseHeader(raw[8 : 8+n])
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(entries)
	rand.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	for i := range entries {
		entries[i].End -= entries[i].Begin
		entries[i].Begin = 0
	}
	layout(entries)
	for i := range want {
		if entries[i].Name != want[i].Name || entries[i].Begin != want[i].Begin || entries[i].End != want[i].End {
			t.Errorf("entry %d: laid out as %+v, file has %+v", i, entries[i], want[i])
		}
	}
	if got := encodeHeader(entries, meta); !bytes.Equal(got, raw[8:8+n]) {
		t.Errorf("header\n%s\nfile has\n%s", got, raw[8:8+n])
	}
}

// findPython returns a Python interpreter with numpy, or "".
func findPython() string {
	candidates := []string{os.Getenv("SELFSUP_PYTHON"), "python3", "/usr/bin/python3"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if exec.Command(c, "-c", "import numpy").Run() == nil {
			return c
		}
	}
	return ""
}

// TestPythonReadsGoFile has the Python reader in testdata check a file
// written here (layout rules, offsets, padding) and report its values.
func TestPythonReadsGoFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python")
	}
	py := findPython()
	if py == "" {
		t.Skip("no Python with numpy (set SELFSUP_PYTHON)")
	}
	tensors, _ := pythonF32Tensors()
	tensors["layer1.0.conv1.weight"] = filled(7, 4, 3, 3, 3)
	tensors["z"] = tensor.Scalar(-7)
	meta := map[string]string{"arch": "resnet18-cifar", "é": "ü"}
	path := filepath.Join(t.TempDir(), "go.safetensors")
	if err := WriteFile(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "testdata/make_safetensors.py", "check", path).CombinedOutput()
	if err != nil {
		t.Fatalf("python check: %v\n%s", err, out)
	}
	var report struct {
		Metadata map[string]string
		Order    []string
		Tensors  map[string]struct {
			DType string
			Shape []int
			Bits  []uint32
		}
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(report.Metadata) != 2 || report.Metadata["é"] != "ü" {
		t.Errorf("python sees metadata %v", report.Metadata)
	}
	names := slices.Sorted(maps.Keys(tensors))
	if !slices.Equal(report.Order, names) {
		t.Errorf("python sees order %q, want %q", report.Order, names)
	}
	for name, want := range tensors {
		got, ok := report.Tensors[name]
		if !ok {
			t.Errorf("python does not see %q", name)
			continue
		}
		bits := make([]uint32, len(want.Data))
		for i, v := range want.Data {
			bits[i] = math.Float32bits(v)
		}
		if got.DType != "F32" || !slices.Equal(got.Shape, want.Shape()) || !slices.Equal(got.Bits, bits) {
			t.Errorf("%q: python sees %s %v %v", name, got.DType, got.Shape, got.Bits)
		}
	}
	if t.Failed() {
		t.Logf("python output: %s", strings.TrimSpace(string(out)))
	}
}
