package report

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"selfsup/checkpoint"
	"selfsup/runlog"
)

// Files a run directory may hold besides eval.json (the names train and
// finetune use).
const (
	metricsFile = "metrics.jsonl"
	configFile  = "config.json"
)

// Run is what the report knows about one run directory.
type Run struct {
	// Dir is the run directory.
	Dir string
	// Name labels the run's row: the record's name, or the directory's.
	Name string
	// Kind is KindMethod or KindBaseline ("" when unknown).
	Kind string
	// Method and Backbone name the training method and the architecture,
	// Data the data spec it trained on ("" when unknown).
	Method, Backbone, Data string
	// Epochs is the number of completed epochs; Steps the optimizer steps
	// (from the newest checkpoint, else the record).
	Epochs int
	Steps  int64
	// Wall is the training wall clock (0: unknown); WallApprox is set when
	// it was estimated from the metrics' timestamps.
	Wall       time.Duration
	WallApprox bool
	// Pretext holds the last held-out pretext metrics (without their
	// "heldout_" prefix).
	Pretext map[string]float64
	// LossSteps and Loss are the training loss curve (per step).
	LossSteps, Loss []float64
	// Record is the evaluation record (nil when the run has no eval.json).
	Record *Record
}

// LoadRun reads what dir holds: eval.json, metrics.jsonl, config.json and
// the newest checkpoint's meta.json, each optional. A directory with none
// of them is an error, as is a file that is there but malformed.
func LoadRun(dir string) (*Run, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("run %s: not a directory", dir)
	}
	r := &Run{Dir: dir, Name: filepath.Base(filepath.Clean(dir))}
	found := false
	rec, err := ReadRecord(dir)
	switch {
	case err == nil:
		r.Record, found = rec, true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if ok, err := r.readMetrics(); err != nil {
		return nil, err
	} else if ok {
		found = true
	}
	if ok, err := r.readConfig(); err != nil {
		return nil, err
	} else if ok {
		found = true
	}
	if ok, err := r.readCheckpoint(); err != nil {
		return nil, err
	} else if ok {
		found = true
	}
	if !found {
		return nil, fmt.Errorf("run %s: holds no %s, %s or checkpoint; is it a run directory?", dir, RecordFile, metricsFile)
	}
	if rec := r.Record; rec != nil {
		r.Name, r.Kind = rec.Name, rec.Kind
		if rec.Method != "" {
			r.Method = rec.Method
		}
		if rec.Backbone != "" && r.Backbone == "" {
			r.Backbone = rec.Backbone
		}
		if rec.Data != "" {
			r.Data = rec.Data
		}
		if r.Epochs == 0 {
			r.Epochs = rec.Epochs
		}
		if r.Steps == 0 {
			r.Steps = rec.Steps
		}
		if rec.PretrainSeconds > 0 {
			r.Wall, r.WallApprox = time.Duration(rec.PretrainSeconds*float64(time.Second)), false
		}
		if len(r.Pretext) == 0 && len(rec.Pretext) > 0 {
			r.Pretext = rec.Pretext
		}
	}
	return r, nil
}

// readMetrics takes the loss curve, the last held-out metrics and an
// estimate of the wall clock from metrics.jsonl.
func (r *Run) readMetrics() (bool, error) {
	path := filepath.Join(r.Dir, metricsFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	recs, err := runlog.ReadMetrics(path)
	if err != nil {
		return false, err
	}
	r.LossSteps, r.Loss = runlog.Series(recs, "loss")
	for _, rec := range recs {
		for _, f := range rec.Fields {
			if name, ok := strings.CutPrefix(f.Name, "heldout_"); ok {
				if r.Pretext == nil {
					r.Pretext = map[string]float64{}
				}
				r.Pretext[name] = f.Value
			}
		}
	}
	r.Wall, r.WallApprox = trainingSpan(recs), true
	return true, nil
}

// trainingSpan estimates the training wall clock from the step records'
// timestamps: their span, plus one mean step for the first. Pauses longer
// than an hour between records (a run stopped and resumed later) are left
// out.
func trainingSpan(recs []runlog.Record) time.Duration {
	var times []time.Time
	for _, rec := range recs {
		if _, ok := rec.Value("loss"); ok && !rec.Time.IsZero() {
			times = append(times, rec.Time)
		}
	}
	if len(times) < 2 {
		return 0
	}
	var span time.Duration
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d > 0 && d < time.Hour {
			span += d
		}
	}
	return span + span/time.Duration(len(times)-1)
}

// readConfig takes the method and backbone from config.json (train's or
// finetune's run record).
func (r *Run) readConfig() (bool, error) {
	path := filepath.Join(r.Dir, configFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	type run struct {
		Data string `json:"data"`
	}
	var cfg struct {
		Spec struct {
			Method   string `json:"method"`
			Backbone struct {
				Arch string `json:"arch"`
			} `json:"backbone"`
		} `json:"spec"`
		Train    run `json:"train"`
		Finetune run `json:"finetune"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	r.Method, r.Backbone = cfg.Spec.Method, cfg.Spec.Backbone.Arch
	r.Data = cmp.Or(cfg.Train.Data, cfg.Finetune.Data)
	return true, nil
}

// readCheckpoint takes the step, epoch, method and architecture from the
// newest checkpoint's meta.json.
func (r *Run) readCheckpoint() (bool, error) {
	dir, err := checkpoint.LatestIn(r.Dir)
	if err != nil {
		return false, nil
	}
	path := filepath.Join(dir, checkpoint.MetaFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return false, nil
	}
	var meta struct {
		Arch   string `json:"arch"`
		Method string `json:"method"`
		Step   int64  `json:"step"`
		Epoch  int    `json:"epoch"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	if meta.Method != "" {
		r.Method = meta.Method
	}
	if meta.Arch != "" {
		r.Backbone = meta.Arch
	}
	r.Steps, r.Epochs = meta.Step, meta.Epoch
	return true, nil
}

// StepsPerEpoch returns the run's steps per epoch when the checkpoint says
// (0 otherwise).
func (r *Run) StepsPerEpoch() float64 {
	if r.Epochs > 0 && r.Steps > 0 {
		return float64(r.Steps) / float64(r.Epochs)
	}
	return 0
}

// pretextNames returns the run's pretext metric names, sorted.
func (r *Run) pretextNames() []string {
	names := make([]string, 0, len(r.Pretext))
	for k := range r.Pretext {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
