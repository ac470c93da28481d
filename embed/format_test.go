package embed_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"selfsup/embed"
)

// records returns n random records of dimension dim.
func records(n, dim int) ([]string, [][]float32) {
	r := rand.New(rand.NewPCG(uint64(n), uint64(dim)))
	ids := make([]string, n)
	vecs := make([][]float32, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("dir/image-%d-é.png", i)
		vecs[i] = make([]float32, dim)
		for j := range vecs[i] {
			vecs[i][j] = float32(r.NormFloat64())
		}
	}
	return ids, vecs
}

func TestFileRoundTrip(t *testing.T) {
	for _, format := range embed.Formats {
		for _, n := range []int{0, 1, 57} {
			t.Run(fmt.Sprintf("%s/%d", format, n), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "emb."+format)
				ids, vecs := records(n, 5)
				err := embed.WriteFile(path, format, 5, "abc123", true, func(w embed.RecordWriter) error {
					for i := range ids {
						if err := w.Write(ids[i], vecs[i]); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				got, err := embed.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if got.Dim != 5 || got.Count != int64(n) || got.EncoderID != "abc123" || !got.Normalized || len(got.IDs) != n {
					t.Fatalf("header %+v with %d IDs", got.Header, len(got.IDs))
				}
				for i := range ids {
					if got.IDs[i] != ids[i] || maxAbsDiff(got.Vector(i), vecs[i]) != 0 {
						t.Fatalf("record %d: %q %v, want %q %v", i, got.IDs[i], got.Vector(i), ids[i], vecs[i])
					}
				}
				if format == "npy" {
					raw, _ := os.ReadFile(path)
					hlen := int(binary.LittleEndian.Uint16(raw[8:]))
					if (10+hlen)%64 != 0 || !strings.Contains(string(raw[:10+hlen]), fmt.Sprintf("'shape': (%d, 5)", n)) {
						t.Errorf("npy header %q", raw[:10+hlen])
					}
					if len(raw) != 10+hlen+4*5*n {
						t.Errorf("npy file has %d bytes, want %d", len(raw), 10+hlen+20*n)
					}
				}
			})
		}
	}
}

// numpy, when installed, must read the .npy file.
func TestNPYReadableByNumpy(t *testing.T) {
	if exec.Command("python3", "-c", "import numpy").Run() != nil {
		t.Skip("python3 with numpy not available")
	}
	path := filepath.Join(t.TempDir(), "emb.npy")
	ids, vecs := records(7, 3)
	err := embed.WriteFile(path, "", 3, "x", false, func(w embed.RecordWriter) error {
		for i := range ids {
			if err := w.Write(ids[i], vecs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("python3", "-c", `import numpy, json, sys
a = numpy.load(sys.argv[1]); m = json.load(open(sys.argv[2]))
print(a.shape, a.dtype, len(m["ids"]), m["ids"][6], "%.6f" % a[6, 2])`, path, embed.IDsPath(path)).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	want := fmt.Sprintf("(7, 3) float32 7 %s %.6f", ids[6], vecs[6][2])
	if strings.TrimSpace(string(out)) != want {
		t.Errorf("numpy printed %q, want %q", out, want)
	}
}

// A writer that cannot seek leaves the count unknown; the reader then
// reads to the end.
func TestStreamWithoutSeek(t *testing.T) {
	var buf bytes.Buffer
	w, err := embed.NewWriter(&buf, 2, "id", false)
	if err != nil {
		t.Fatal(err)
	}
	w.Write("a", []float32{1, 2})
	w.Write("b", []float32{3, 4})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := embed.NewReader(bytes.NewReader(buf.Bytes()), "stream")
	if err != nil {
		t.Fatal(err)
	}
	if r.Header().Count != -1 {
		t.Errorf("count %d, want -1 (unknown)", r.Header().Count)
	}
	n := 0
	for {
		_, _, err := r.Next(nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("read %d records, want 2", n)
	}
}

func TestWriterRejects(t *testing.T) {
	var buf bytes.Buffer
	w, _ := embed.NewWriter(&buf, 2, "id", false)
	for _, tc := range []struct {
		id   string
		vec  []float32
		want string
	}{
		{"", []float32{1, 2}, "empty ID"},
		{"a", []float32{1}, "1 values, want 2"},
		{"a", []float32{1, float32(math.NaN())}, "NaN"},
		{"\xff", []float32{1, 2}, "UTF-8"},
	} {
		if err := w.Write(tc.id, tc.vec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Write(%q, %v): %v, want an error mentioning %q", tc.id, tc.vec, err, tc.want)
		}
	}
	if _, err := embed.NewWriter(&buf, 0, "", false); err == nil {
		t.Error("dimension 0 accepted")
	}
}

// Damaged files give errors that name the file and the problem.
func TestReadDamaged(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.bin")
	ids, vecs := records(3, 4)
	embed.WriteFile(good, "bin", 4, "enc", false, func(w embed.RecordWriter) error {
		for i := range ids {
			w.Write(ids[i], vecs[i])
		}
		return nil
	})
	raw, _ := os.ReadFile(good)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), raw...)) }
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", raw[:len(raw)-5], "truncated"},
		{"extra record", append(append([]byte(nil), raw...), raw[37:37+4+len(ids[0])+16]...), "more records"},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), "not an embeddings file"},
		{"future version", mutate(func(b []byte) []byte { b[8] = 9; return b }), "version 9"},
		{"zero dim", mutate(func(b []byte) []byte { copy(b[16:], []byte{0, 0, 0, 0}); return b }), "dimension 0"},
		{"short", raw[:10], "too short"},
		{"nan", mutate(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[len(b)-4:], math.Float32bits(float32(math.NaN())))
			return b
		}), "NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".bin")
			os.WriteFile(path, tc.data, 0o644)
			_, err := embed.ReadFile(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming %s and saying %q", err, path, tc.want)
			}
		})
	}
}

// A failing fill leaves no file behind and keeps an earlier one.
func TestWriteFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emb.npy")
	ok := func(w embed.RecordWriter) error { return w.Write("a", []float32{1}) }
	if err := embed.WriteFile(path, "", 1, "e", false, ok); err != nil {
		t.Fatal(err)
	}
	boom := fmt.Errorf("boom")
	err := embed.WriteFile(path, "", 1, "e", false, func(w embed.RecordWriter) error {
		w.Write("b", []float32{2})
		w.Write("c", []float32{3})
		return boom
	})
	if err == nil {
		t.Fatal("a failing fill reported success")
	}
	got, err := embed.ReadFile(path)
	if err != nil || got.Count != 1 || got.IDs[0] != "a" {
		t.Fatalf("after a failed rewrite: %v %+v", err, got)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want the .npy and its .ids.json only", names)
	}
}
