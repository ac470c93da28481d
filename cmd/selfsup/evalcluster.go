package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"selfsup/data"
	"selfsup/eval"
	"selfsup/nn"
	"selfsup/tensor"
)

// runEvalCluster is `selfsup eval cluster`: k-means on the L2-normalised
// features of the test split, scored against its classes with NMI, ARI and
// the accuracy of the best matching of clusters to classes.
func runEvalCluster(ctx context.Context, e *evalSetup, f evalFlags, stdout, stderr io.Writer) error {
	start := time.Now()
	d, err := e.open(stderr)
	if err != nil {
		return err
	}
	test, err := data.Labeled(d.test)
	if err != nil {
		return err
	}
	k := d.classes
	if f.set["k"] {
		k = *f.kn
	}
	if k < 1 || k > test.Len() {
		return usageError("--k %d: want 1 to the number of test images (%d)", k, test.Len())
	}
	enc, what, info, err := e.encoder(ctx, d, stderr)
	if err != nil {
		return err
	}
	feats, err := splitFeatures(ctx, enc, test, e.stage, e.progress(stderr), "features test")
	if err != nil {
		return err
	}
	km, err := eval.KMeans(l2Rows(feats.X), eval.KMeansConfig{K: k, Seed: e.seed})
	if err != nil {
		return err
	}
	s, err := eval.ScoreClusters(feats.Labels, km.Assign)
	if err != nil {
		return err
	}
	if e.jsonOut {
		out := map[string]any{"protocol": "cluster", "encoder": what, "data": e.df.spec,
			"nmi": s.NMI, "ari": s.ARI, "accuracy": s.Accuracy, "k": k, "classes": s.Classes,
			"test_images": feats.X.Dim(0), "feature_dim": feats.X.Dim(1), "inertia": km.Inertia,
			"iterations": km.Iterations, "restarts": eval.DefaultKMeansRestarts, "seed": e.seed,
			"seconds": time.Since(start).Seconds()}
		if e.stage != 0 {
			out["stage"] = e.stage
		}
		for key, v := range info {
			out[key] = v
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "cluster on %s, %s: NMI %.4f, ARI %.4f, accuracy %.2f%% (k-means, k=%d, best of %d restarts, on %d L2-normalised %d-d test features of %d classes, %s)\n",
		e.df.spec, what, s.NMI, s.ARI, 100*s.Accuracy, k, eval.DefaultKMeansRestarts, feats.X.Dim(0), feats.X.Dim(1), s.Classes,
		time.Since(start).Round(time.Second))
	printSupervisedInfo(stdout, info)
	return nil
}

// splitFeatures extracts the features of one dataset with enc at the given
// stage (raw pixels when enc is nil).
func splitFeatures(ctx context.Context, enc nn.Backbone, ds data.Dataset, stage int, progress io.Writer, label string) (*eval.Features, error) {
	if enc == nil {
		return eval.PixelFeatures(ds)
	}
	return eval.Extract(ctx, enc, ds, eval.ExtractConfig{Stage: stage, Progress: progress, Label: label})
}

// l2Rows returns a copy of x with every row scaled to unit length (zero
// rows stay zero): k-means on it clusters by direction, matching the cosine
// similarity of the kNN protocol.
func l2Rows(x *tensor.Tensor) *tensor.Tensor {
	n, d := x.Dim(0), x.Dim(1)
	out := tensor.New(n, d)
	for i := 0; i < n; i++ {
		row, dst := x.Data[i*d:(i+1)*d], out.Data[i*d:(i+1)*d]
		s := 0.0
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(s))
		for j, v := range row {
			dst[j] = v * inv
		}
	}
	return out
}
