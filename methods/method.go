// Package methods holds the self-supervised methods, one small file each,
// behind one interface: how a method makes its views, which heads it adds to
// the encoder, which loss it minimises, and what it updates after each
// optimizer step (momentum encoders, queues). The training loop, logging,
// checkpoints and evaluation live elsewhere, once.
package methods

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/nn"
)

// Method is a self-supervised objective together with its networks.
type Method interface {
	// Module reports every trainable parameter and buffer (encoder first,
	// under "encoder.", then the heads) and switches training mode.
	nn.Module
	// Encoder is the backbone whose features are evaluated and exported.
	Encoder() nn.Backbone
	// Views returns the augmentation of each view the loss needs per image.
	Views() []augment.Transform
	// Loss computes one batch's loss; r supplies any randomness the method
	// needs beyond the views (masks, shuffles), seeded per step by the
	// trainer so runs are reproducible.
	Loss(b loader.Batch, r *rand.Rand) Output
	// AfterStep runs after each optimizer step with the training progress
	// in [0, 1] (momentum updates, queues, schedules).
	AfterStep(progress float64)
}

// PretextEvaluator is implemented by methods whose pretext task has a
// metric of its own (rotation accuracy, reconstruction error): the first
// evaluation the lecture names. The trainer calls it, in evaluation mode
// and without gradients, on batches of held-out images (made with the
// method's Views) after every epoch and logs the averages under
// "heldout_<name>".
type PretextEvaluator interface {
	PretextMetrics(b loader.Batch, r *rand.Rand) map[string]float64
}

// Output is one step's loss and the extra numbers worth logging.
type Output struct {
	Loss    *autograd.Var
	Metrics map[string]float64
	// Embedding is the batch's embedding (a projector output) for the
	// trainer's collapse diagnostics, read before Backward; nil for methods
	// without one.
	Embedding *autograd.Var
}

// Spec fully describes a method instance; it is stored in checkpoints so the
// method (and its encoder) can be rebuilt.
type Spec struct {
	Method   string            `json:"method"`
	Backbone nn.BackboneConfig `json:"backbone"`
	// Params holds the method's own hyper-parameters as JSON; missing fields
	// take the method's defaults.
	Params json.RawMessage `json:"params,omitempty"`
}

// TrainDefaults are a method's recommended optimisation settings.
type TrainDefaults struct {
	Optimizer   string  // "sgd", "lars" or "adamw"
	LR          float64 // base learning rate for a batch of 256 (scaled linearly)
	WeightDecay float64
	Momentum    float64
	WarmupFrac  float64 // fraction of training spent warming up
	ClipGrad    float64 // gradient-norm clipping (0: none)
	Beta2       float64 // AdamW's second-moment decay (0: 0.999)
}

type registration struct {
	summary  string
	defaults TrainDefaults
	build    func(s Spec, r *rand.Rand) (Method, error)
	resolve  func(s Spec, info RunInfo) (Spec, error)
}

var registry = map[string]registration{}

func register(name, summary string, d TrainDefaults, build func(s Spec, r *rand.Rand) (Method, error)) {
	registry[name] = registration{summary: summary, defaults: d, build: build}
}

// registerResolver adds a method's check of its parameters against the run
// (batch size, dataset size), with the chance to fill defaults that depend
// on them.
func registerResolver(name string, resolve func(s Spec, info RunInfo) (Spec, error)) {
	reg := registry[name]
	reg.resolve = resolve
	registry[name] = reg
}

// RunInfo is what a method may need to know about the run before it is
// built: parameters that must agree with the batch or the dataset.
type RunInfo struct {
	BatchSize int
	DataLen   int
}

// Resolve checks s against the run and fills the defaults that depend on
// it (MoCo's queue size, say), before any training starts. The returned
// spec is the one to build and to store in checkpoints.
func Resolve(s Spec, info RunInfo) (Spec, error) {
	reg, ok := registry[s.Method]
	if !ok {
		return s, unknown(s.Method)
	}
	if reg.resolve == nil {
		return s, nil
	}
	return reg.resolve(s, info)
}

// Names lists the registered methods.
func Names() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Summary describes a method in one line.
func Summary(name string) string { return registry[name].summary }

// Defaults returns a method's recommended optimisation settings.
func Defaults(name string) (TrainDefaults, error) {
	reg, ok := registry[name]
	if !ok {
		return TrainDefaults{}, unknown(name)
	}
	return reg.defaults, nil
}

func unknown(name string) error {
	return fmt.Errorf("unknown method %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Build constructs the method a Spec describes, with fresh weights from r.
func Build(s Spec, r *rand.Rand) (Method, error) {
	reg, ok := registry[s.Method]
	if !ok {
		return nil, unknown(s.Method)
	}
	return reg.build(s, r)
}

// decodeParams fills dst (already holding the defaults) from the spec's
// JSON parameters, rejecting unknown fields so a typo is an error.
func decodeParams(s Spec, dst any) error {
	if len(s.Params) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(s.Params)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%s parameters: %w", s.Method, err)
	}
	return nil
}

// ParamsJSON encodes method parameters for a Spec.
func ParamsJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// viewSize is the side of the square views for a backbone config.
func viewSize(s Spec) int { return s.Backbone.ImageSize }
