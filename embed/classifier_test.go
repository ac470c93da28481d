package embed_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"selfsup/embed"
	"selfsup/eval"
	"selfsup/tensor"
)

func TestClassifierRoundTrip(t *testing.T) {
	dir := t.TempDir()
	enc, err := embed.Load(saveCheckpoint(t, filepath.Join(dir, "ck"), 1, 28, 1))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := embed.Load(saveCheckpoint(t, filepath.Join(dir, "ck2"), 1, 28, 2))
	// two separable classes in the encoder's dimension
	r := rand.New(rand.NewPCG(1, 1))
	n, d := 40, enc.Dim()
	x := tensor.New(n, d)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		y[i] = i % 2
		for j := 0; j < d; j++ {
			x.Data[i*d+j] = float32(r.NormFloat64())
		}
		x.Data[i*d] += float32(4*y[i] - 2)
	}
	probe, _, err := eval.TrainLinear(x, y, 2, eval.LinearConfig{WeightDecay: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "clf")
	c := &embed.Classifier{Probe: probe, Info: embed.ClassifierInfo{EncoderID: enc.ID(), Checkpoint: enc.Checkpoint(), Classes: []string{"neg", "pos"}, PerClass: 20, TestTop1: -1}}
	if err := embed.SaveClassifier(out, c); err != nil {
		t.Fatal(err)
	}
	got, err := embed.LoadClassifier(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Info.EncoderID != enc.ID() || got.Info.Classes[1] != "pos" || got.Info.PerClass != 20 || got.Info.Created.IsZero() {
		t.Errorf("info %+v", got.Info)
	}
	if err := got.CheckEncoder(enc); err != nil {
		t.Errorf("CheckEncoder with its own encoder: %v", err)
	}
	if err := got.CheckEncoder(other); err == nil || !strings.Contains(err.Error(), other.ID()) {
		t.Errorf("CheckEncoder with another encoder: %v", err)
	}
	preds, err := got.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i, p := range preds {
		sum := 0.0
		for _, q := range p {
			sum += q.Probability
		}
		if math.Abs(sum-1) > 1e-4 || p[0].Probability < p[1].Probability {
			t.Fatalf("row %d: %+v", i, p)
		}
		if p[0].Index == y[i] && p[0].Class == []string{"neg", "pos"}[y[i]] {
			correct++
		}
	}
	if correct < n*9/10 {
		t.Errorf("%d of %d training rows right after the round trip", correct, n)
	}

	// damaged or foreign files are refused with a reason
	os.WriteFile(filepath.Join(dir, "junk.safetensors"), []byte("junk"), 0o644)
	if _, err := embed.LoadClassifier(filepath.Join(dir, "junk.safetensors")); err == nil {
		t.Error("junk loaded as a classifier")
	}
	if _, err := embed.LoadClassifier(filepath.Join(dir, "ck")); err == nil || !strings.Contains(err.Error(), "classifier") {
		t.Errorf("a checkpoint directory loaded as a classifier: %v", err)
	}
	c.Info.Classes = []string{"one"}
	if err := embed.SaveClassifier(out, c); err == nil {
		t.Error("saved a classifier with 1 name for 2 outputs")
	}
}
