package eval

import (
	"context"
	"fmt"

	"selfsup/data"
	"selfsup/nn"
)

// StageResult is the linear probe of one stage of an encoder: one row of
// the per-layer tables of the RotNet and split-brain papers.
type StageResult struct {
	// Stage is 0 for the stem (a ViT's patch embedding) and k for the
	// output of stage k.
	Stage int `json:"stage"`
	// Name is "stem" or "stage k".
	Name string `json:"name"`
	// Dim is the width of the globally pooled features.
	Dim int `json:"dim"`
	// Top1 and Top5 are the probe's test accuracies in [0, 1].
	Top1 float64 `json:"top1"`
	Top5 float64 `json:"top5"`
	// WeightDecay is the probe's weight decay (the selected one when
	// LinearConfig.SelectWeightDecay is set).
	WeightDecay float64 `json:"weight_decay"`
	// TrainLoss is the probe's final training objective.
	TrainLoss float64 `json:"train_loss"`
}

// StageName names stage k of StageResult: "stem" for 0, "stage k" above.
func StageName(k int) string {
	if k == 0 {
		return "stem"
	}
	return fmt.Sprintf("stage %d", k)
}

// StageProbeConfig sets up StageProbes.
type StageProbeConfig struct {
	// Extract controls the feature extraction (its Stage is ignored).
	Extract ExtractConfig
	// Linear is the probe of every stage (the protocol of LinearProbe; set
	// SelectWeightDecay for eval linear's default).
	Linear LinearConfig
	// OnStage, when set, is called after each stage's probe (to print a
	// table row as it comes).
	OnStage func(StageResult)
}

// StageProbes measures how linearly decodable the classes are after every
// stage of a frozen encoder: it extracts the globally pooled features of
// the stem and of each stage in one pass over train and over test (see
// ExtractStages), then fits one linear probe per stage on the train
// features and evaluates it on the test features. Results come stem first.
// classes is the number of classes of the labels; every image of train and
// test must be labelled.
func StageProbes(ctx context.Context, enc nn.Backbone, train, test data.Dataset, classes int, cfg StageProbeConfig) ([]StageResult, error) {
	ec := cfg.Extract
	if ec.Label == "" {
		ec.Label = "stage features train"
	}
	tr, err := ExtractStages(ctx, enc, train, ec)
	if err != nil {
		return nil, err
	}
	if cfg.Extract.Label == "" {
		ec.Label = "stage features test"
	}
	te, err := ExtractStages(ctx, enc, test, ec)
	if err != nil {
		return nil, err
	}
	out := make([]StageResult, 0, len(tr))
	for k := range tr {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		pr, err := LinearProbe(tr[k].X, tr[k].Labels, te[k].X, te[k].Labels, classes, cfg.Linear)
		if err != nil {
			return out, fmt.Errorf("probe of %s: %w", StageName(k), err)
		}
		r := StageResult{Stage: k, Name: StageName(k), Dim: tr[k].X.Dim(1), Top1: pr.Test.Top1, Top5: pr.Test.Top5,
			WeightDecay: pr.Fit.WeightDecay, TrainLoss: pr.Fit.Loss}
		// the stage's features are no longer needed
		tr[k], te[k] = nil, nil
		out = append(out, r)
		if cfg.OnStage != nil {
			cfg.OnStage(r)
		}
	}
	return out, nil
}
