package main

import (
	"bytes"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"selfsup/checkpoint"
	"selfsup/data"
	"selfsup/embed"
	"selfsup/index"
	"selfsup/methods"
	"selfsup/nn"
)

// encoderCheckpoint saves a random-init SimCLR resnet-small checkpoint for
// MNIST-shaped images (quicker than pretraining, enough for plumbing).
func encoderCheckpoint(t *testing.T, dir string, seed uint64) string {
	t.Helper()
	spec := methods.Spec{Method: "simclr", Backbone: nn.BackboneConfig{Arch: "resnet-small", InChannels: 1, ImageSize: 28}}
	m, err := methods.Build(spec, rand.New(rand.NewPCG(seed, 3)))
	if err != nil {
		t.Fatal(err)
	}
	ck := &checkpoint.Checkpoint{Arch: spec.Backbone.Arch, Method: spec.Method, Model: nn.StateDict("", m)}
	ck.SetConfig(map[string]any{"spec": spec})
	if err := checkpoint.Save(dir, ck); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mnistPNG writes MNIST test image i as a PNG file and returns its path.
func mnistPNG(t *testing.T, dir string, i int) string {
	t.Helper()
	ds, err := data.Open("mnist", data.OpenOptions{Split: "test"})
	if err != nil {
		t.Fatal(err)
	}
	x, err := ds.Image(i, data.Image{})
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, x.W, x.H))
	for k, v := range x.Pix {
		img.Pix[k] = uint8(v*255 + 0.5)
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	p := filepath.Join(dir, "digit.png")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEmbedIndexCLI(t *testing.T) {
	dir := t.TempDir()
	ck := encoderCheckpoint(t, filepath.Join(dir, "ck"), 1)
	other := encoderCheckpoint(t, filepath.Join(dir, "ck2"), 2)
	bin := filepath.Join(dir, "train.bin")
	out, _ := mustCLI(t, "embed", "--ckpt", ck, "--data", "mnist", "--subset", "300", "--out", bin, "--json", "--quiet")
	res := decodeJSON(t, out)
	if res["count"] != 300.0 || res["dim"] != 256.0 || res["format"] != "bin" {
		t.Fatalf("embed: %v", res)
	}
	emb, err := embed.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if emb.Count != 300 || emb.IDs[0] != "0" || emb.IDs[299] != "299" || emb.Normalized {
		t.Fatalf("embeddings file: %+v, IDs %v...", emb.Header, emb.IDs[:3])
	}

	npy := filepath.Join(dir, "test.npy")
	out, _ = mustCLI(t, "embed", "--ckpt", ck, "--data", "mnist", "--split", "test", "--subset", "50", "--normalize", "--out", npy, "--json", "--quiet")
	if res := decodeJSON(t, out); res["format"] != "npy" || res["ids"] != embed.IDsPath(npy) {
		t.Fatalf("embed npy: %v", res)
	}
	q, err := embed.ReadFile(npy)
	if err != nil || q.Count != 50 || !q.Normalized || q.EncoderID != emb.EncoderID {
		t.Fatalf("npy embeddings: %v %+v", err, q)
	}

	idx := filepath.Join(dir, "train.idx")
	out, _ = mustCLI(t, "index", "build", "--embeddings", bin, "--kind", "ivf", "--out", idx, "--json")
	if res := decodeJSON(t, out); res["kind"] != "ivf" || res["vectors"] != 300.0 || res["nlist"] != 17.0 {
		t.Fatalf("index build: %v", res)
	}
	out, _ = mustCLI(t, "index", "eval", "--index", idx, "--queries", npy, "--n-queries", "5", "--json")
	if res := decodeJSON(t, out); res["recall"] == nil || res["single_query_ms_p50"] == nil {
		t.Fatalf("index eval: %v", res)
	}
	out, _ = mustCLI(t, "index", "remove", "--index", idx, "--json", "3", "4", "nope")
	if res := decodeJSON(t, out); res["removed"] != 2.0 || res["vectors"] != 298.0 {
		t.Fatalf("index remove: %v", res)
	}
	// adding what is already there is refused, --replace replaces
	code, _, stderr := cli(t, "index", "add", "--index", idx, "--embeddings", bin)
	if code != 1 || !strings.Contains(stderr, "already in the index") {
		t.Errorf("index add of duplicates: exit %d, %s", code, stderr)
	}
	out, _ = mustCLI(t, "index", "add", "--index", idx, "--embeddings", bin, "--replace", "--json")
	if res := decodeJSON(t, out); res["vectors"] != 300.0 || res["replaced"] != 298.0 {
		t.Errorf("index add --replace: %v", res)
	}
	ix, err := index.Load(idx)
	if err != nil || ix.Len() != 300 || !ix.Has("3") {
		t.Fatalf("index after add: %v %v", err, ix)
	}

	// embeddings of another encoder are refused, saying why
	wrong := filepath.Join(dir, "other.bin")
	mustCLI(t, "embed", "--ckpt", other, "--data", "mnist", "--subset", "10", "--out", wrong, "--quiet")
	code, _, stderr = cli(t, "index", "add", "--index", idx, "--embeddings", wrong)
	if code != 1 || !strings.Contains(stderr, "rebuild the index") {
		t.Errorf("index add from another encoder: exit %d, %s", code, stderr)
	}
	code, _, stderr = cli(t, "serve", "--ckpt", other, "--index", idx)
	if code != 1 || !strings.Contains(stderr, "was built with encoder") {
		t.Errorf("serve with another encoder: exit %d, %s", code, stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"embed", "--ckpt", ck, "--data", "mnist"}, "--out are required"},
		{[]string{"embed", "--ckpt", ck, "--data", "mnist", "--out", "x.parquet", "--format", "parquet"}, "not implemented"},
		{[]string{"index", "build", "--embeddings", bin}, "--out INDEX"},
		{[]string{"index", "build", "--embeddings", bin, "--out", idx, "--kind", "hnsw"}, "unknown index kind"},
		{[]string{"index", "frobnicate"}, "unknown sub-command"},
		{[]string{"index", "eval", "--index", idx}, "--queries"},
	} {
		if code, _, stderr := cli(t, tc.args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %s", tc.args, code, stderr)
		}
	}
	if code, _, stderr := cli(t, "index", "info", "--index", bin); code != 1 || !strings.Contains(stderr, "not an index file") {
		t.Errorf("index info of an embeddings file: exit %d, %s", code, stderr)
	}
}

func TestClassifyCLI(t *testing.T) {
	dir := t.TempDir()
	ck := encoderCheckpoint(t, filepath.Join(dir, "ck"), 1)
	model := filepath.Join(dir, "probe")
	out, _ := mustCLI(t, "classify-train", "--ckpt", ck, "--data", "mnist", "--subset", "1000", "--per-class", "5", "--out", model, "--baselines", "--json", "--quiet")
	res := decodeJSON(t, out)
	for _, key := range []string{"test_top1", "pixels_top1", "random_top1"} {
		v, ok := res[key].(float64)
		if !ok || v < 0.15 || v > 1 { // ten classes: chance is 0.1
			t.Errorf("%s = %v, want a test accuracy above chance", key, res[key])
		}
	}
	if res["train_images"] != 50.0 || res["test_images"] != 1000.0 {
		t.Errorf("classify-train: %v", res)
	}
	img := mnistPNG(t, dir, 0) // a 7
	out, _ = mustCLI(t, "classify", "--model", model, "--top", "10", img)
	if !strings.HasPrefix(out, img+": ") || strings.Count(out, ",") != 9 {
		t.Errorf("classify printed %q", out)
	}
	// a classifier refuses another encoder
	other := encoderCheckpoint(t, filepath.Join(dir, "ck2"), 2)
	if code, _, stderr := cli(t, "classify", "--model", model, "--ckpt", other, img); code != 1 || !strings.Contains(stderr, "classify-train") {
		t.Errorf("classify with another encoder: exit %d, %s", code, stderr)
	}
	notImage := filepath.Join(dir, "notes.txt")
	os.WriteFile(notImage, []byte("not an image"), 0o644)
	if code, _, stderr := cli(t, "classify", "--model", model, notImage); code != 1 || !strings.Contains(stderr, "not a supported image") || !strings.Contains(stderr, notImage) {
		t.Errorf("classify of a text file: exit %d, %s", code, stderr)
	}
}
