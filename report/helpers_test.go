package report

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"selfsup/eval"
	"selfsup/runlog"
)

// writeMetrics writes a metrics.jsonl of steps step records (loss falling
// from 2, one second apart) with an epoch record holding heldout values.
func writeMetrics(t *testing.T, dir string, steps int, heldout map[string]float64) {
	t.Helper()
	m, err := runlog.OpenMetrics(filepath.Join(dir, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for s := 1; s <= steps; s++ {
		rec := runlog.Record{Step: int64(s), Time: t0.Add(time.Duration(s) * time.Second),
			Fields: []runlog.Field{runlog.F("loss", 2/float64(s)), runlog.F("lr", 0.1)}}
		if err := m.LogRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	var fields []runlog.Field
	for k, v := range heldout {
		fields = append(fields, runlog.F("heldout_"+k, v))
	}
	fields = append(fields, runlog.F("epoch_loss", 1))
	if err := m.LogRecord(runlog.Record{Step: int64(steps), Epoch: 1, Time: t0.Add(time.Duration(steps) * time.Second), Fields: fields}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// fullRecord is a record with every result filled in.
func fullRecord(name string) *Record {
	return &Record{
		Name: name, Kind: KindMethod, Method: "simclr", Backbone: "resnet-small", Data: "mnist", Encoder: "simclr encoder",
		Epochs: 1, Steps: 10, BatchSize: 128, PretrainSeconds: 95, EvalSeconds: 12, TrainImages: 600, TestImages: 500,
		KNN:    &Accuracy{Top1: 0.9123, Top5: 0.99, Protocol: "cosine"},
		Linear: &Accuracy{Top1: 0.9456},
		Stages: []eval.StageResult{{Stage: 0, Name: "stem", Dim: 32, Top1: 0.81}, {Stage: 1, Name: "stage 1", Dim: 64, Top1: 0.87}},
		Labels: []eval.LabelPoint{
			{Protocol: "linear", Budget: eval.LabelBudget{Fraction: 0.1}, Images: 60, Top1: 0.7},
			{Protocol: "linear", Budget: eval.LabelBudget{Fraction: 0.01}, Images: 10, Top1: 0.4},
			{Protocol: "finetune", Budget: eval.LabelBudget{Fraction: 0.1}, Images: 60, Top1: 0.75},
		},
		Finetune: &Accuracy{Top1: 0.97},
		Cluster:  &Cluster{NMI: 0.61, ARI: 0.5, Accuracy: 0.7, K: 10},
		TSNE:     &TSNE{PNG: "tsne.png", Images: 200, KNN5: 0.88},
	}
}

// writePNG writes a small solid PNG.
func writePNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
