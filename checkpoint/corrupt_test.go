package checkpoint

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawFile assembles a safetensors file from a header text and dataLen zero
// bytes of data, without any checks.
func rawFile(header string, dataLen int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, dataLen)...)
}

func TestCorruptFiles(t *testing.T) {
	const w = `"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`
	withLen := func(n uint64, rest string) []byte {
		return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", nil, "file is 0 bytes, too short"},
		{"seven bytes", []byte{1, 2, 3, 4, 5, 6, 7}, "file is 7 bytes, too short"},
		{"header longer than file", withLen(100, `{}`), "header length 100 is larger than the rest of the file (2 bytes)"},
		{"header over the limit", withLen(1<<40, `{}`), "over the 100000000-byte limit"},
		{"header length overflows", withLen(1<<63+5, `{}`), "over the 100000000-byte limit"},
		{"not JSON", rawFile(`hello   `, 0), "header is not JSON"},
		{"not an object", rawFile(`[1,2,3] `, 0), "not a JSON object"},
		{"truncated JSON", rawFile(`{"w":{"dtype":"F32"`, 0), "header is not JSON: unexpected EOF"},
		{"invalid UTF-8", rawFile("{\"w\xff\":1}", 0), "not valid UTF-8"},
		{"text after the object", rawFile(`{}  x    `, 0), "non-space text after its JSON object"},
		{"duplicate tensor", rawFile(`{`+w+`,`+w+`}`, 8), `names "w" twice`},
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, 0), `names "__metadata__" twice`},
		{"duplicate metadata key", rawFile(`{"__metadata__":{"a":"1","a":"2"}}`, 0), `names "a" twice`},
		{"metadata value not a string", rawFile(`{"__metadata__":{"a":1}}`, 0), `value of "a" is not a string`},
		{"metadata not an object", rawFile(`{"__metadata__":"x"}`, 0), "not an object of strings"},
		{"entry not an object", rawFile(`{"w":3}`, 0), `tensor "w": header entry is a JSON number, not a {dtype, shape, data_offsets} object`},
		{"dtype not a string", rawFile(`{"w":{"dtype":5,"shape":[],"data_offsets":[0,4]}}`, 4), `tensor "w": dtype is a JSON number`},
		{"no dtype", rawFile(`{"w":{"shape":[],"data_offsets":[0,4]}}`, 4), `tensor "w": header entry has no dtype`},
		{"no shape", rawFile(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, 4), `tensor "w": header entry has no shape`},
		{"no offsets", rawFile(`{"w":{"dtype":"F32","shape":[]}}`, 4), `tensor "w": header entry has no data_offsets`},
		{"unknown dtype", rawFile(`{"w":{"dtype":"F33","shape":[],"data_offsets":[0,4]}}`, 4), `tensor "w": unknown dtype "F33"`},
		{"unsupported dtype", rawFile(`{"w":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, 8), `tensor "w": dtype I64 is not supported`},
		{"negative dimension", rawFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "dimension -1 that is not a non-negative integer"},
		{"fractional dimension", rawFile(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), "dimension 1.5"},
		{"string dimension", rawFile(`{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}`, 8), `dimension "2"`},
		{"three offsets", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 8), "data_offsets has 3 numbers"},
		{"negative offset", rawFile(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[-4,-4]}}`, 0), "data offset -4"},
		{"end before begin", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, 8), "end before they begin"},
		{"size does not match shape", rawFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), `tensor "w": data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12`},
		{"shape overflows", rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, 8), "needs more than 2^64"},
		{"out of range", rawFile(`{`+w+`}`, 4), `tensor "w": data_offsets [0, 8] are out of range: the data buffer after the header is 4 bytes`},
		{"overlap", rawFile(`{`+w+`,"v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `tensors "w" [0, 8] and "v" [4, 8] overlap`},
		{"gap", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `tensor "w" begins at 4, leaving a 4-byte gap`},
		{"trailing bytes", rawFile(`{`+w+`}`, 12), "4 trailing bytes after the last tensor"},
		{"trailing bytes, no tensors", rawFile(`{}`, 3), "3 trailing bytes"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := ReadFile(path)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want a *FormatError", err, err)
			}
			if fe.File != path || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if !strings.Contains(fe.Problem, c.want) {
				t.Errorf("problem %q, want it to contain %q", fe.Problem, c.want)
			}
			// The in-memory decoder must agree.
			if _, err := Decode(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Decode: err = %v", err)
			}
		})
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := ReadFile(filepath.Join(dir, "missing.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
	if _, _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: err = %v", err)
	}
}

// TestReaderAcceptsForeignLayouts: other writers may order the header keys
// differently, pad with other whitespace or not at all; the data layout is
// what counts.
func TestReaderAcceptsForeignLayouts(t *testing.T) {
	hdr := "{\"b\":{\"data_offsets\":[4,8],\"shape\":[],\"dtype\":\"F32\"},\n \"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{}}\t\n"
	f, err := Decode(rawFile(hdr, 8))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Names, ",") != "a,b" {
		t.Errorf("names %v, want data order a,b", f.Names)
	}
	if f.Tensors["b"].Dims() != 0 || f.Tensors["a"].Dim(0) != 1 {
		t.Errorf("shapes %v %v", f.Tensors["a"].Shape(), f.Tensors["b"].Shape())
	}
}
