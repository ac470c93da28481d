package embed

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"selfsup/checkpoint"
	"selfsup/eval"
	"selfsup/tensor"
)

// ClassifierFile is the file a classifier directory holds: the probe's
// tensors in safetensors format, its description (ClassifierInfo, JSON) in
// the file's metadata under ClassifierMetaKey. One file, written
// atomically, so a reader never sees the tensors of one classifier with
// the description of another.
const ClassifierFile = "classifier.safetensors"

// ClassifierMetaKey is the safetensors metadata key holding ClassifierInfo.
const ClassifierMetaKey = "selfsup_classifier"

// ClassifierInfo describes a saved classifier.
type ClassifierInfo struct {
	// Format and Version identify the layout ("selfsup-linear-probe", 1).
	Format  string `json:"format"`
	Version int    `json:"version"`
	// EncoderID is the ID of the encoder whose embeddings the probe reads;
	// loading it next to another encoder is refused.
	EncoderID string `json:"encoder_id"`
	// Checkpoint is the absolute path of the encoder's checkpoint, the
	// reference Classify uses to find the encoder again.
	Checkpoint string `json:"checkpoint"`
	// Arch is the encoder's backbone.
	Arch string `json:"arch"`
	// Classes names the classes, in the order of the probe's outputs.
	Classes []string `json:"classes"`
	// Data, PerClass and TrainImages say what it was trained on.
	Data        string `json:"data,omitempty"`
	PerClass    int    `json:"per_class,omitempty"`
	TrainImages int    `json:"train_images,omitempty"`
	// WeightDecay is the probe's L2 coefficient.
	WeightDecay float64 `json:"weight_decay"`
	// TestTop1 is the accuracy on the test split when measured (-1: not).
	TestTop1 float64 `json:"test_top1"`
	// Created is when it was saved.
	Created time.Time `json:"created"`
}

const classifierFormat = "selfsup-linear-probe"

// Classifier is a linear probe over an encoder's embeddings: the
// few-label classifier that classify-train writes and classify and the
// server apply.
type Classifier struct {
	Info  ClassifierInfo
	Probe *eval.LinearClassifier
}

// Prediction is one class with its probability.
type Prediction struct {
	Class       string  `json:"class"`
	Index       int     `json:"index"`
	Probability float64 `json:"probability"`
}

// SaveClassifier writes c to dir/ClassifierFile (creating dir), atomically.
func SaveClassifier(dir string, c *Classifier) error {
	if c == nil || c.Probe == nil {
		return errors.New("save classifier: nothing to save")
	}
	if len(c.Info.Classes) != c.Probe.NumClasses() {
		return fmt.Errorf("save classifier %s: %d class names for %d outputs", dir, len(c.Info.Classes), c.Probe.NumClasses())
	}
	info := c.Info
	info.Format, info.Version = classifierFormat, 1
	if info.Created.IsZero() {
		info.Created = time.Now().UTC()
	}
	meta, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save classifier: %w", err)
	}
	return checkpoint.WriteFile(filepath.Join(dir, ClassifierFile), c.Probe.Tensors(), map[string]string{ClassifierMetaKey: string(meta)})
}

// LoadClassifier reads a classifier directory written by SaveClassifier
// (or the classifier file itself).
func LoadClassifier(dir string) (*Classifier, error) {
	path := dir
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		path = filepath.Join(dir, ClassifierFile)
	}
	tensors, meta, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load classifier: %w", err)
	}
	raw, ok := meta[ClassifierMetaKey]
	if !ok {
		return nil, fmt.Errorf("load classifier %s: not a selfsup classifier (no %q metadata)", path, ClassifierMetaKey)
	}
	c := &Classifier{}
	if err := json.Unmarshal([]byte(raw), &c.Info); err != nil {
		return nil, fmt.Errorf("load classifier %s: %w", path, err)
	}
	if c.Info.Format != classifierFormat || c.Info.Version != 1 {
		return nil, fmt.Errorf("load classifier %s: format %q version %d, want %q version 1", path, c.Info.Format, c.Info.Version, classifierFormat)
	}
	if c.Probe, err = eval.LinearClassifierFromTensors(tensors); err != nil {
		return nil, fmt.Errorf("load classifier %s: %w", path, err)
	}
	if len(c.Info.Classes) != c.Probe.NumClasses() {
		return nil, fmt.Errorf("load classifier %s: %d class names for %d outputs", path, len(c.Info.Classes), c.Probe.NumClasses())
	}
	return c, nil
}

// CheckEncoder reports, as an error that says what to do, whether enc is
// not the encoder the classifier was trained on.
func (c *Classifier) CheckEncoder(enc *Encoder) error {
	if enc.ID() != c.Info.EncoderID || enc.Dim() != c.Probe.Dim() {
		return fmt.Errorf("the classifier was trained on encoder %s (%d-d, %s), not on this one (%s, %d-d, %s): train it again with classify-train --ckpt",
			c.Info.EncoderID, c.Probe.Dim(), c.Info.Checkpoint, enc.ID(), enc.Dim(), enc.Checkpoint())
	}
	return nil
}

// Predict returns the class probabilities of each embedding (rows of vecs,
// [N, Dim], raw encoder output), most likely first.
func (c *Classifier) Predict(vecs *tensor.Tensor) ([][]Prediction, error) {
	p, err := c.Probe.Probabilities(vecs)
	if err != nil {
		return nil, err
	}
	k := c.Probe.NumClasses()
	out := make([][]Prediction, p.Dim(0))
	for i := range out {
		row := make([]Prediction, k)
		for j := range row {
			row[j] = Prediction{Class: c.Info.Classes[j], Index: j, Probability: roundProb(p.Data[i*k+j])}
		}
		sort.SliceStable(row, func(a, b int) bool { return row[a].Probability > row[b].Probability })
		out[i] = row
	}
	return out, nil
}

// roundProb keeps six decimals so that printed probabilities stay short.
func roundProb(v float32) float64 { return math.Round(float64(v)*1e6) / 1e6 }
