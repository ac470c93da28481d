package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"selfsup/eval"
	"selfsup/internal/atomicfile"
)

// RecordFile is the name of a run's evaluation results in its directory.
const RecordFile = "eval.json"

// RecordFormat tags the version of the format in every RecordFile.
const RecordFormat = "selfsup-eval/1"

// Kinds of runs.
const (
	KindMethod   = "method"   // a self-supervised method's pretraining run
	KindBaseline = "baseline" // raw pixels, a random-init or a supervised encoder
)

// Record is the content of eval.json: the evaluation suite's results for
// one encoder, and what the run was. Accuracies are fractions in [0, 1].
// A result that was not measured is absent (a nil pointer or an empty
// list), which the report shows as "-".
type Record struct {
	// Format is RecordFormat.
	Format string `json:"format"`
	// Name labels the run's row (e.g. "simclr", "random").
	Name string `json:"name"`
	// Kind is KindMethod or KindBaseline.
	Kind string `json:"kind"`
	// Method is the training method ("simclr", "supervised"; "pixels" and
	// "random" for those baselines).
	Method string `json:"method,omitempty"`
	// Backbone is the encoder's architecture ("" for raw pixels).
	Backbone string `json:"backbone,omitempty"`
	// Data is the data spec the encoder was trained and evaluated on.
	Data string `json:"data,omitempty"`
	// Encoder describes the evaluated encoder in words (for a random-init
	// encoder: which batch-norm statistics it used).
	Encoder string `json:"encoder,omitempty"`
	// Epochs, Steps and BatchSize are the training budget (0: none).
	Epochs    int   `json:"epochs,omitempty"`
	Steps     int64 `json:"steps,omitempty"`
	BatchSize int   `json:"batch_size,omitempty"`
	// PretrainSeconds is the training wall clock (0: not trained or not
	// known); EvalSeconds the evaluation suite's.
	PretrainSeconds float64 `json:"pretrain_seconds,omitempty"`
	EvalSeconds     float64 `json:"eval_seconds,omitempty"`
	// TrainImages and TestImages are the evaluation's split sizes.
	TrainImages int `json:"train_images,omitempty"`
	TestImages  int `json:"test_images,omitempty"`
	// KNN is the kNN classifier on frozen features.
	KNN *Accuracy `json:"knn,omitempty"`
	// Linear is the linear probe on the frozen pooled output.
	Linear *Accuracy `json:"linear,omitempty"`
	// Stages is the linear probe of every stage, stem first.
	Stages []eval.StageResult `json:"stages,omitempty"`
	// Labels is the label-efficiency curve (linear probe and, when
	// measured, fine-tuning, on class-balanced shares of the labels).
	Labels []eval.LabelPoint `json:"labels,omitempty"`
	// Finetune is end-to-end training with all labels (for the supervised
	// baseline: its own classifier).
	Finetune *Accuracy `json:"finetune,omitempty"`
	// Cluster is k-means on the test features scored against the classes.
	Cluster *Cluster `json:"cluster,omitempty"`
	// TSNE is the t-SNE map of test images.
	TSNE *TSNE `json:"tsne,omitempty"`
	// Pretext holds the run's last held-out pretext metrics (the
	// "heldout_*" values of metrics.jsonl, without the prefix).
	Pretext map[string]float64 `json:"pretext,omitempty"`
	// Created is when the record was written.
	Created time.Time `json:"created"`
}

// Accuracy is a classifier's test accuracy and how it was measured.
type Accuracy struct {
	Top1 float64 `json:"top1"`
	Top5 float64 `json:"top5,omitempty"`
	// Protocol says how (e.g. "cosine k=200 t=0.1", "L-BFGS, wd 1e-05").
	Protocol string `json:"protocol,omitempty"`
}

// Cluster is a k-means clustering of test features scored against the
// classes.
type Cluster struct {
	NMI      float64 `json:"nmi"`
	ARI      float64 `json:"ari"`
	Accuracy float64 `json:"accuracy"`
	K        int     `json:"k"`
}

// TSNE is a t-SNE map of test images drawn to files in the run directory.
type TSNE struct {
	// PNG and SVG are file names relative to the run directory.
	PNG string `json:"png"`
	SVG string `json:"svg,omitempty"`
	// Images is the number of points.
	Images int `json:"images"`
	// KNN5 is the leave-one-out 5-NN accuracy in the 2-D embedding.
	KNN5 float64 `json:"knn5,omitempty"`
}

// WriteRecord writes r as dir/eval.json, atomically, filling in Format and
// Created when empty. Non-finite numbers are an error (JSON has none).
func WriteRecord(dir string, r *Record) error {
	if r.Format == "" {
		r.Format = RecordFormat
	}
	if r.Created.IsZero() {
		r.Created = time.Now().UTC()
	}
	path := filepath.Join(dir, RecordFile)
	if err := r.check(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadRecord reads dir/eval.json. A missing file is an error wrapping
// fs.ErrNotExist; a malformed one is an error naming the file and the
// problem.
func ReadRecord(dir string) (*Record, error) {
	path := filepath.Join(dir, RecordFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not an evaluation record: %w", path, err)
	}
	if r.Format != RecordFormat {
		return nil, fmt.Errorf("%s: format %q, want %q", path, r.Format, RecordFormat)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// check reports the first value of r that cannot be right.
func (r *Record) check() error {
	if r.Kind != KindMethod && r.Kind != KindBaseline {
		return fmt.Errorf("kind %q is neither %q nor %q", r.Kind, KindMethod, KindBaseline)
	}
	frac := func(what string, v float64) error {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("%s is %v, want a fraction in [0, 1]", what, v)
		}
		return nil
	}
	acc := func(what string, a *Accuracy) error {
		if a == nil {
			return nil
		}
		if err := frac(what+" top-1", a.Top1); err != nil {
			return err
		}
		return frac(what+" top-5", a.Top5)
	}
	for _, a := range []struct {
		what string
		a    *Accuracy
	}{{"knn", r.KNN}, {"linear", r.Linear}, {"finetune", r.Finetune}} {
		if err := acc(a.what, a.a); err != nil {
			return err
		}
	}
	for _, s := range r.Stages {
		if err := frac(fmt.Sprintf("stage %d top-1", s.Stage), s.Top1); err != nil {
			return err
		}
	}
	for _, p := range r.Labels {
		if err := frac(fmt.Sprintf("label point %s %s top-1", p.Protocol, p.Budget), p.Top1); err != nil {
			return err
		}
	}
	if c := r.Cluster; c != nil {
		if !(c.NMI >= 0 && c.NMI <= 1) || !(c.ARI >= -1 && c.ARI <= 1) || c.K < 1 {
			return fmt.Errorf("cluster scores NMI %v, ARI %v, k %d are out of range", c.NMI, c.ARI, c.K)
		}
		if err := frac("cluster accuracy", c.Accuracy); err != nil {
			return err
		}
	}
	if t := r.TSNE; t != nil {
		if t.PNG == "" || filepath.IsAbs(t.PNG) {
			return errors.New("the t-SNE map's PNG must be a file name relative to the run directory")
		}
		if err := frac("t-SNE 5-NN accuracy", t.KNN5); err != nil {
			return err
		}
	}
	for k, v := range r.Pretext {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("pretext metric %s is %v", k, v)
		}
	}
	if r.PretrainSeconds < 0 || r.EvalSeconds < 0 || math.IsInf(r.PretrainSeconds+r.EvalSeconds, 0) || math.IsNaN(r.PretrainSeconds+r.EvalSeconds) {
		return fmt.Errorf("times %v and %v seconds", r.PretrainSeconds, r.EvalSeconds)
	}
	return nil
}
