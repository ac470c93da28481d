package checkpoint

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"selfsup/tensor"
)

type testConfig struct {
	LR    float64 `json:"lr"`
	Batch int     `json:"batch"`
}

func sampleCheckpoint(step int64) *Checkpoint {
	ck := &Checkpoint{
		Arch:    "resnet18-cifar",
		Method:  "simclr",
		Step:    step,
		Epoch:   int(step / 10),
		Metrics: map[string]float64{"loss": 1.5 + float64(step), "knn_top1": 0.42, "diverged": math.NaN(), "big": math.Inf(1)},
		Created: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Model: map[string]*tensor.Tensor{
			"conv1.weight":            filled(float32(step), 4, 3, 3, 3),
			"bn1.running_mean":        filled(2, 4),
			"bn1.num_batches_tracked": tensor.Scalar(float32(step)),
			"head.0.weight":           filled(3, 8, 4),
		},
		Optimizer: map[string]*tensor.Tensor{"conv1.weight.momentum": filled(4, 4, 3, 3, 3)},
	}
	if err := ck.SetConfig(testConfig{LR: 0.3, Batch: 256}); err != nil {
		panic(err)
	}
	return ck
}

func sameTensors(t *testing.T, what string, got, want map[string]*tensor.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for n, w := range want {
		g := got[n]
		if g == nil || !tensor.SameShape(g.Shape(), w.Shape()) || !sameBits(g.Data, w.Data) {
			t.Errorf("%s: tensor %q = %v, want %v", what, n, g, w)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	ck := sampleCheckpoint(100)
	if err := Save(dir, ck); err != nil {
		t.Fatal(err)
	}
	if ck.Dir != dir {
		t.Errorf("Save set Dir %q, want %q", ck.Dir, dir)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Arch != ck.Arch || got.Method != ck.Method || got.Step != 100 || got.Epoch != 10 || !got.Created.Equal(ck.Created) || got.Dir != dir {
		t.Errorf("loaded %+v", got)
	}
	if got.Version == "" {
		t.Error("no version recorded")
	}
	if got.Metrics["loss"] != 101.5 || got.Metrics["knn_top1"] != 0.42 || !math.IsNaN(got.Metrics["diverged"]) || !math.IsInf(got.Metrics["big"], 1) {
		t.Errorf("metrics %v", got.Metrics)
	}
	var cfg testConfig
	if err := got.DecodeConfig(&cfg); err != nil || cfg != (testConfig{0.3, 256}) {
		t.Errorf("config %+v, %v", cfg, err)
	}
	sameTensors(t, "model", got.Model, ck.Model)
	sameTensors(t, "optimizer", got.Optimizer, ck.Optimizer)

	w, err := LoadWeights(dir)
	if err != nil {
		t.Fatal(err)
	}
	if w.Optimizer != nil {
		t.Error("LoadWeights loaded the optimizer state")
	}
	sameTensors(t, "weights", w.Model, ck.Model)

	// The model file is a plain safetensors file that says what it holds.
	_, meta, err := ReadFile(filepath.Join(dir, ModelFile))
	if err != nil || meta["arch"] != "resnet18-cifar" || meta["content"] != "model" || meta["step"] != "100" {
		t.Errorf("model.safetensors metadata %v, %v", meta, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestSaveWithoutOptimizer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	ck := sampleCheckpoint(1)
	ck.Optimizer, ck.Config, ck.Metrics = nil, nil, nil
	if err := Save(dir, ck); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, OptimizerFile)); !os.IsNotExist(err) {
		t.Errorf("optimizer file written: %v", err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Optimizer != nil || got.Config != nil || len(got.Metrics) != 0 {
		t.Errorf("loaded %+v", got)
	}
	if err := got.DecodeConfig(&testConfig{}); err == nil {
		t.Error("DecodeConfig without a config succeeded")
	}
}

func TestSaveRefusesBadCheckpoints(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*Checkpoint)
		want   string
	}{
		{"no arch", func(c *Checkpoint) { c.Arch = "" }, "Arch is empty"},
		{"no model", func(c *Checkpoint) { c.Model = nil }, "Model is nil"},
		{"negative step", func(c *Checkpoint) { c.Step = -1 }, "negative step"},
		{"config not an object", func(c *Checkpoint) { c.Config = []byte(`[1]`) }, "not a JSON object"},
		{"config not JSON", func(c *Checkpoint) { c.Config = []byte(`{`) }, "not a JSON object"},
		{"nil model tensor", func(c *Checkpoint) { c.Model["x"] = nil }, `"x" is nil`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			ck := sampleCheckpoint(3)
			c.modify(ck)
			err := Save(filepath.Join(parent, "ck"), ck)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "ck") {
				t.Fatalf("err = %v, want %q and the directory", err, c.want)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
	if err := (&Checkpoint{}).SetConfig([]int{1}); err == nil {
		t.Error("SetConfig accepted a non-object")
	}
}

// TestFailedSaveKeepsOldCheckpoint: a save that fails after writing some of
// its files leaves the previous checkpoint whole and no debris.
func TestFailedSaveKeepsOldCheckpoint(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ck")
	old := sampleCheckpoint(1)
	if err := Save(dir, old); err != nil {
		t.Fatal(err)
	}
	bad := sampleCheckpoint(2)
	short := tensor.New(10)
	short.Data = short.Data[:3]
	bad.Optimizer["broken"] = short // fails after model.safetensors is written
	if err := Save(dir, bad); err == nil {
		t.Fatal("save of a broken checkpoint succeeded")
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != 1 {
		t.Errorf("step %d, want the old 1", got.Step)
	}
	sameTensors(t, "model", got.Model, old.Model)
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	// A good save then replaces it.
	if err := Save(dir, sampleCheckpoint(3)); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(dir); err != nil || got.Step != 3 {
		t.Fatalf("after replacing: %v, %v", got, err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestCrashStates recreates what a crash leaves at each point of a save and
// checks that Load sees a complete checkpoint and the next Save cleans up.
func TestCrashStates(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ck")
	if err := Save(dir, sampleCheckpoint(1)); err != nil {
		t.Fatal(err)
	}
	// Crash while building the new directory: a half-written temp dir.
	tmp := filepath.Join(parent, ".ck.tmp-123")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tmp, ModelFile), []byte("partial"), 0o644)
	if got, err := Load(dir); err != nil || got.Step != 1 {
		t.Fatalf("with a temp dir: %v, %v", got, err)
	}
	// Crash between moving the old checkpoint aside and moving the new in.
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil || got.Step != 1 || got.Dir != dir+".old" {
		t.Fatalf("with only %s.old: %v, %v", dir, got, err)
	}
	if err := Save(dir, sampleCheckpoint(2)); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(dir); err != nil || got.Step != 2 {
		t.Fatalf("after the next save: %v, %v", got, err)
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 || entries[0].Name() != "ck" {
		t.Errorf("left behind: %v", entries)
	}
}

func TestSaveRefusesToReplaceOtherDirectories(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "notes.txt")
	os.WriteFile(precious, []byte("keep me"), 0o644)
	err := Save(dir, sampleCheckpoint(1))
	if err == nil || !strings.Contains(err.Error(), "refusing to replace") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(precious); string(b) != "keep me" {
		t.Error("the directory's files were touched")
	}
	// An empty directory is fine.
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	if err := Save(empty, sampleCheckpoint(1)); err != nil {
		t.Errorf("saving into an empty directory: %v", err)
	}
}

func TestLoadDetectsDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"no meta.json", func(d string) { os.Remove(filepath.Join(d, MetaFile)) }, "no meta.json"},
		{"meta.json not JSON", func(d string) { os.WriteFile(filepath.Join(d, MetaFile), []byte("{"), 0o644) }, "meta.json"},
		{"other format", func(d string) { rewriteMeta(d, `"selfsup-checkpoint/1"`, `"selfsup-checkpoint/9"`) }, `format "selfsup-checkpoint/9"`},
		{"bad metric", func(d string) { rewriteMeta(d, `"NaN"`, `"oops"`) }, `"oops" is not NaN`},
		{"model missing", func(d string) { os.Remove(filepath.Join(d, ModelFile)) }, "no such file"},
		{"model bit flip", func(d string) { flipLastByte(filepath.Join(d, ModelFile)) }, "does not match the size and SHA-256"},
		{"optimizer bit flip", func(d string) { flipLastByte(filepath.Join(d, OptimizerFile)) }, "optimizer.safetensors does not match"},
		{"model truncated", func(d string) {
			p := filepath.Join(d, ModelFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-4], 0o644)
		}, "out of range"},
		{"model from another checkpoint", func(d string) {
			other := filepath.Join(filepath.Dir(d), "other")
			Save(other, sampleCheckpoint(7))
			b, _ := os.ReadFile(filepath.Join(other, ModelFile))
			os.WriteFile(filepath.Join(d, ModelFile), b, 0o644)
		}, "does not match the size and SHA-256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ck")
			if err := Save(dir, sampleCheckpoint(5)); err != nil {
				t.Fatal(err)
			}
			c.damage(dir)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("err = %v, want %q and the directory", err, c.want)
			}
		})
	}
}

func rewriteMeta(dir, old, new string) {
	p := filepath.Join(dir, MetaFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}

func flipLastByte(path string) {
	b, _ := os.ReadFile(path)
	b[len(b)-1] ^= 0x40
	os.WriteFile(path, b, 0o644)
}

func TestMetaJSONIsReadable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	if err := Save(dir, sampleCheckpoint(100)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"arch": "resnet18-cifar"`, `"method": "simclr"`, `"step": 100`, `"lr": 0.3`, `"diverged": "NaN"`, `"model.safetensors"`, `"sha256"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("meta.json lacks %s:\n%s", want, b)
		}
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{MetaFile, ModelFile, OptimizerFile}) {
		t.Errorf("files %v", names)
	}
}
