package checkpoint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"selfsup/internal/atomicfile"
	"selfsup/tensor"
)

// The files of a checkpoint directory.
const (
	ModelFile     = "model.safetensors"
	OptimizerFile = "optimizer.safetensors"
	MetaFile      = "meta.json"
)

// Checkpoint is everything needed to resume training or to use a trained
// model: its tensors and the facts that say what they are.
type Checkpoint struct {
	// Arch names the architecture (e.g. "resnet18-cifar"); Apply's errors
	// quote it when a model does not fit. Required.
	Arch string
	// Method names the training method (e.g. "simclr").
	Method string
	// Config is the training configuration as a JSON object (see SetConfig
	// and DecodeConfig). It may be empty.
	Config json.RawMessage
	// Step is the number of optimizer steps taken; Epoch the number of
	// completed epochs.
	Step  int64
	Epoch int
	// Metrics holds named scalars at save time (losses, probe accuracies).
	// NaN and infinities survive the round trip.
	Metrics map[string]float64
	// Version is the selfsup version that wrote the checkpoint; Save fills
	// it from the build information when empty.
	Version string
	// Created is when the checkpoint was made; Save sets it to the current
	// time when zero.
	Created time.Time
	// Model holds the weights and buffers, by parameter name. Required.
	Model map[string]*tensor.Tensor
	// Optimizer holds optimizer state (momenta, moments), by name; nil
	// means none is saved. LoadWeights leaves it nil.
	Optimizer map[string]*tensor.Tensor
	// Dir is the directory the checkpoint was loaded from or saved to. It
	// is not stored.
	Dir string
}

// SetConfig stores v, marshalled to JSON, as the checkpoint's Config. v must
// marshal to a JSON object.
func (c *Checkpoint) SetConfig(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("checkpoint config: %w", err)
	}
	if err := checkConfig(b); err != nil {
		return err
	}
	c.Config = b
	return nil
}

// DecodeConfig unmarshals the checkpoint's Config into v.
func (c *Checkpoint) DecodeConfig(v any) error {
	if len(c.Config) == 0 {
		return fmt.Errorf("checkpoint %s: no config stored", c.Dir)
	}
	if err := json.Unmarshal(c.Config, v); err != nil {
		return fmt.Errorf("checkpoint %s: config: %w", c.Dir, err)
	}
	return nil
}

func checkConfig(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if !json.Valid(b) || bytes.TrimLeft(b, " \t\r\n")[0] != '{' {
		return fmt.Errorf("checkpoint config is not a JSON object: %.40s", b)
	}
	return nil
}

// Save writes ck as a checkpoint directory at dir and sets ck.Dir. The
// directory is built under a temporary sibling name (.<name>.tmp-*), every
// file synced, and then renamed to dir, so a crash leaves either no new
// checkpoint or a complete one. If dir already holds a checkpoint it is
// replaced: the old one is first renamed to <dir>.old, the new one moved
// into place, then the old one removed; should a crash fall between the two
// renames, Load(dir) finds the old one at <dir>.old. Save refuses to replace
// a non-empty directory that is not a checkpoint. One writer per dir at a
// time.
func Save(dir string, ck *Checkpoint) (err error) {
	if err := ck.check(); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	dir = filepath.Clean(dir)
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	if err := checkReplaceable(dir); err != nil {
		return err
	}
	removeStale(parent, "."+base+".tmp-")
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := ck.writeFiles(tmp); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	old := dir + ".old"
	_, statErr := os.Stat(dir)
	if statErr == nil {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("save checkpoint %s: %w", dir, err)
		}
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("save checkpoint %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if statErr == nil {
			os.Rename(old, dir) // put the previous checkpoint back
		}
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	syncDir(parent)
	os.RemoveAll(old)
	ck.Dir = dir
	return nil
}

func (c *Checkpoint) check() error {
	switch {
	case c == nil:
		return errors.New("nil checkpoint")
	case c.Arch == "":
		return errors.New("Arch is empty: a checkpoint must say which architecture its weights belong to")
	case c.Model == nil:
		return errors.New("Model is nil")
	case c.Step < 0 || c.Epoch < 0:
		return fmt.Errorf("negative step (%d) or epoch (%d)", c.Step, c.Epoch)
	}
	return checkConfig(c.Config)
}

// checkReplaceable refuses to let Save delete a directory that does not look
// like a checkpoint (a mistyped path must not cost anyone their files).
func checkReplaceable(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("save checkpoint %s: exists and is not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, MetaFile)); err == nil {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("save checkpoint %s: directory exists, is not empty and holds no %s; refusing to replace it", dir, MetaFile)
	}
	return nil
}

// removeStale removes leftovers of interrupted saves: entries of parent
// whose names start with prefix.
func removeStale(parent, prefix string) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}

// writeFiles writes the tensor files and then meta.json (with their sizes
// and digests) into dir.
func (c *Checkpoint) writeFiles(dir string) error {
	m := meta{
		Format:  formatTag,
		Arch:    c.Arch,
		Method:  c.Method,
		Config:  c.Config,
		Step:    c.Step,
		Epoch:   c.Epoch,
		Metrics: c.Metrics,
		Version: c.Version,
		Created: c.Created,
		Files:   map[string]fileInfo{},
	}
	if m.Version == "" {
		m.Version = moduleVersion()
	}
	if m.Created.IsZero() {
		m.Created = time.Now().UTC()
	}
	tensorMeta := map[string]string{"arch": c.Arch, "step": fmt.Sprint(c.Step)}
	files := []struct {
		name    string
		tensors map[string]*tensor.Tensor
		content string
	}{{ModelFile, c.Model, "model"}, {OptimizerFile, c.Optimizer, "optimizer"}}
	for _, f := range files {
		if f.tensors == nil {
			continue
		}
		tensorMeta["content"] = f.content
		info, err := writeHashed(filepath.Join(dir, f.name), f.tensors, tensorMeta)
		if err != nil {
			return err
		}
		m.Files[f.name] = info
	}
	b, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, MetaFile), append(b, '\n'), 0o644)
}

// writeHashed writes a safetensors file and returns its size and SHA-256.
func writeHashed(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) (fileInfo, error) {
	var info fileInfo
	h := sha256.New()
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		cw := &countingWriter{w: io.MultiWriter(w, h)}
		bw := bufio.NewWriterSize(cw, ioChunk)
		if err := Encode(bw, tensors, metadata); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		info.Size = cw.n
		return nil
	})
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	return info, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Load reads the checkpoint directory dir: meta.json, the model tensors and
// the optimizer state if one was saved. It checks each tensor file's size
// and SHA-256 against meta.json. If dir is missing but <dir>.old holds a
// checkpoint (a replacing Save was interrupted), that one is loaded.
func Load(dir string) (*Checkpoint, error) { return load(dir, true) }

// LoadWeights is Load without the optimizer state, for evaluation and
// feature extraction, which do not need it.
func LoadWeights(dir string) (*Checkpoint, error) { return load(dir, false) }

func load(dir string, withOptimizer bool) (*Checkpoint, error) {
	dir = resolveDir(filepath.Clean(dir))
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint %s: no %s (not a checkpoint directory, or its save never finished)", dir, MetaFile)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %s: %w", dir, MetaFile, err)
	}
	if m.Format != formatTag {
		return nil, fmt.Errorf("checkpoint %s: %s has format %q, this selfsup reads %q", dir, MetaFile, m.Format, formatTag)
	}
	if _, ok := m.Files[ModelFile]; !ok {
		return nil, fmt.Errorf("checkpoint %s: %s lists no %s", dir, MetaFile, ModelFile)
	}
	for name := range m.Files {
		if name != ModelFile && name != OptimizerFile {
			return nil, fmt.Errorf("checkpoint %s: %s lists an unknown file %q", dir, MetaFile, name)
		}
	}
	ck := &Checkpoint{
		Arch: m.Arch, Method: m.Method, Config: m.Config, Step: m.Step, Epoch: m.Epoch,
		Metrics: m.Metrics, Version: m.Version, Created: m.Created, Dir: dir,
	}
	if ck.Model, err = readVerified(dir, ModelFile, m.Files[ModelFile]); err != nil {
		return nil, err
	}
	if info, ok := m.Files[OptimizerFile]; ok && withOptimizer {
		if ck.Optimizer, err = readVerified(dir, OptimizerFile, info); err != nil {
			return nil, err
		}
	}
	return ck, nil
}

// resolveDir returns dir, or <dir>.old when dir has no meta.json and the
// .old directory does (see Save).
func resolveDir(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, MetaFile)); err == nil {
		return dir
	}
	if _, err := os.Stat(filepath.Join(dir+".old", MetaFile)); err == nil {
		return dir + ".old"
	}
	return dir
}

func readVerified(dir, name string, want fileInfo) (map[string]*tensor.Tensor, error) {
	path := filepath.Join(dir, name)
	h := sha256.New()
	f, err := decodeFile(path, h)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if st.Size() != want.Size || hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
		return nil, fmt.Errorf("checkpoint %s: %s does not match the size and SHA-256 recorded in %s (corrupted, or replaced by another checkpoint's file)", dir, name, MetaFile)
	}
	return f.Tensors, nil
}
