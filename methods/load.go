package methods

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"selfsup/checkpoint"
	"selfsup/nn"
)

// Load rebuilds the method saved in a checkpoint directory (a step
// directory, or a run directory whose newest checkpoint is taken) with its
// trained weights. It reads no optimizer state.
func Load(dir string) (Method, *checkpoint.Checkpoint, error) {
	if latest, err := checkpoint.LatestIn(dir); err == nil {
		dir = latest
	}
	ck, err := checkpoint.LoadWeights(dir)
	if err != nil {
		return nil, nil, err
	}
	var rec struct {
		Spec Spec `json:"spec"`
	}
	if err := json.Unmarshal(ck.Config, &rec); err != nil || rec.Spec.Method == "" {
		return nil, nil, fmt.Errorf("checkpoint %s: its config does not describe a selfsup method (%v)", dir, err)
	}
	m, err := Build(rec.Spec, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if err := ck.ApplyTo(nn.StateDict("", m), rec.Spec.Backbone.Arch, true); err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return m, ck, nil
}

// SpecOf returns the method spec stored in a loaded checkpoint.
func SpecOf(ck *checkpoint.Checkpoint) (Spec, error) {
	var rec struct {
		Spec Spec `json:"spec"`
	}
	if err := json.Unmarshal(ck.Config, &rec); err != nil {
		return Spec{}, fmt.Errorf("checkpoint %s: %w", ck.Dir, err)
	}
	return rec.Spec, nil
}
