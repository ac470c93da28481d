package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"selfsup/tensor"
)

// filled returns a tensor of the given shape whose elements are distinct
// (and include a negative zero and a NaN with a payload when large enough).
func filled(seed float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = seed + float32(i)*0.37 - 3
	}
	if len(t.Data) > 2 {
		t.Data[1] = float32(math.Copysign(0, -1))
		t.Data[2] = math.Float32frombits(0x7fc01234)
	}
	return t
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	cases := map[string]map[string]*tensor.Tensor{
		"none":   {},
		"scalar": {"s": tensor.Scalar(-1.25)},
		"empty":  {"e0": tensor.New(0), "e1": tensor.New(3, 0, 2)},
		"mixed": {
			"layer1.0.conv1.weight": filled(1, 8, 3, 3, 3),
			"layer1.0.bn1.bias":     filled(2, 8),
			"fc.weight":             filled(3, 10, 64),
			"scalar":                tensor.Scalar(float32(math.Inf(-1))),
			"empty":                 tensor.New(0, 4),
			"ünïcode \"name\"\n":    filled(4, 2, 2),
		},
		"large": {"big": filled(5, 70000)}, // spans several I/O chunks
	}
	for name, tensors := range cases {
		t.Run(name, func(t *testing.T) {
			meta := map[string]string{"arch": "test", "quote\"": "tab\tvalue"}
			path := filepath.Join(t.TempDir(), "x.safetensors")
			if err := WriteFile(path, tensors, meta); err != nil {
				t.Fatal(err)
			}
			f, err := DecodeFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Tensors) != len(tensors) || len(f.Names) != len(tensors) {
				t.Fatalf("read %d tensors (%d names), wrote %d", len(f.Tensors), len(f.Names), len(tensors))
			}
			for n, want := range tensors {
				got := f.Tensors[n]
				if got == nil {
					t.Fatalf("tensor %q missing", n)
				}
				if !tensor.SameShape(got.Shape(), want.Shape()) || got.Dims() != want.Dims() {
					t.Errorf("%q: shape %v, want %v", n, got.Shape(), want.Shape())
				}
				if !sameBits(got.Data, want.Data) {
					t.Errorf("%q: values differ", n)
				}
				if f.DTypes[n] != F32 {
					t.Errorf("%q: dtype %s", n, f.DTypes[n])
				}
			}
			if len(f.Metadata) != len(meta) || f.Metadata["quote\""] != "tab\tvalue" {
				t.Errorf("metadata %v, want %v", f.Metadata, meta)
			}
		})
	}
}

// TestReferenceLayout checks the layout rules on the cases the reference
// implementation's own tests pin down.
func TestReferenceLayout(t *testing.T) {
	six := tensor.FromData([]float32{0, 1, 2, 3, 4, 5}, 1, 2, 3)
	sixData := []byte{0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64}
	cases := []struct {
		name    string
		tensors map[string]*tensor.Tensor
		meta    map[string]string
		header  string // before padding
		data    []byte
	}{
		{"empty", nil, nil, `{}`, nil},
		{"empty with metadata", nil, map[string]string{"framework": "pt"}, `{"__metadata__":{"framework":"pt"}}`, nil},
		{"no padding needed", map[string]*tensor.Tensor{"attn.0": six}, nil,
			`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`, sixData},
		{"padding", map[string]*tensor.Tensor{"attn0": six.Reshape(1, 1, 2, 3)}, nil,
			`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}`, sixData},
		{"sorted by name, metadata keys sorted", map[string]*tensor.Tensor{"b": tensor.Scalar(1), "a": tensor.New(0), "B": tensor.New(1)},
			map[string]string{"z": "1", "a": "2"},
			`{"__metadata__":{"a":"2","z":"1"},"B":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}`,
			[]byte{0, 0, 0, 0, 0, 0, 128, 63}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Encode(&buf, c.tensors, c.meta); err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()
			n := binary.LittleEndian.Uint64(out)
			if n%8 != 0 {
				t.Errorf("header length %d is not a multiple of 8", n)
			}
			hdr := string(out[8 : 8+n])
			if strings.TrimRight(hdr, " ") != c.header || len(hdr)-len(c.header) >= 8 {
				t.Errorf("header\n%q\nwant\n%q padded with fewer than 8 spaces", hdr, c.header)
			}
			if !bytes.Equal(out[8+n:], c.data) {
				t.Errorf("data %v, want %v", out[8+n:], c.data)
			}
			if _, err := Decode(out); err != nil {
				t.Errorf("cannot read back: %v", err)
			}
		})
	}
}

func TestEncodeRefusesBadInput(t *testing.T) {
	bad := tensor.New(2, 3)
	bad.Data = bad.Data[:5]
	cases := []struct {
		name    string
		tensors map[string]*tensor.Tensor
		meta    map[string]string
		want    string
	}{
		{"nil tensor", map[string]*tensor.Tensor{"w": nil}, nil, `"w" is nil`},
		{"short data", map[string]*tensor.Tensor{"w": bad}, nil, `"w" has 5 elements for shape [2 3]`},
		{"reserved name", map[string]*tensor.Tensor{"__metadata__": tensor.New(1)}, nil, "cannot be named"},
		{"bad utf-8 name", map[string]*tensor.Tensor{"w\xff": tensor.New(1)}, nil, "not valid UTF-8"},
		{"bad utf-8 metadata", nil, map[string]string{"k": "\xfe"}, "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, c.tensors, c.meta)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

type failWriter struct{ left int }

var errDiskFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errDiskFull
	}
	w.left -= len(p)
	return len(p), nil
}

func TestEncodeReportsWriteErrors(t *testing.T) {
	for _, at := range []int{0, 8, 100, 5000} {
		err := Encode(&failWriter{left: at}, map[string]*tensor.Tensor{"w": filled(0, 3000)}, nil)
		if !errors.Is(err, errDiskFull) {
			t.Errorf("failing after %d bytes: err = %v", at, err)
		}
	}
}

func TestHalfToFloat32Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		exp, mant := (h>>10)&0x1f, h&0x3ff
		got := halfToFloat32(uint16(h))
		var want float64
		switch {
		case exp == 0x1f && mant == 0:
			want = math.Inf(int(sign))
		case exp == 0x1f:
			if !math.IsNaN(float64(got)) || math.Float32bits(got)>>13&0x3ff != uint32(mant) || math.Signbit(float64(got)) != (sign < 0) {
				t.Fatalf("half %#04x: got %#08x, want a NaN with payload %#x", h, math.Float32bits(got), mant)
			}
			continue
		case exp == 0:
			want = sign * math.Ldexp(float64(mant), -24)
		default:
			want = sign * math.Ldexp(1+float64(mant)/1024, exp-15)
		}
		if float64(got) != want || math.Signbit(float64(got)) != (sign < 0) {
			t.Fatalf("half %#04x: got %v, want %v", h, got, want)
		}
	}
}
