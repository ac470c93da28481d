package methods

import (
	"fmt"
	"math"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/loss"
	"selfsup/nn"
	"selfsup/tensor"
)

// MoCoParams are MoCo v1/v2's hyper-parameters (He et al. 2020; Chen et
// al. 2020b).
type MoCoParams struct {
	// Version 1 has a linear head and MoCo v1's augmentations (tau 0.07);
	// version 2 an MLP head and SimCLR-style augmentations (tau 0.2).
	Version int `json:"version"`
	// Dim is the embedding width (128).
	Dim int `json:"dim"`
	// QueueSize is K, the number of negative keys (65536, or the largest
	// multiple of the batch size not above the dataset size when that is
	// smaller); it must be a multiple of the batch size.
	QueueSize int `json:"queue_size"`
	// Momentum of the key encoder (0.999).
	Momentum float64 `json:"momentum"`
	// Tau is the InfoNCE temperature (0 means 0.07 for v1, 0.2 for v2).
	Tau float32 `json:"tau"`
	// ShuffleGroups is the number of sub-batches the key encoder's batch
	// is shuffled into, emulating MoCo's shuffling BN on one device: each
	// sub-batch computes its own batch-norm statistics, so a query and its
	// key never share them and BN cannot leak the positive.
	ShuffleGroups int           `json:"shuffle_groups"`
	Augment       AugmentParams `json:"augment"`
}

// DefaultMoCoParams returns MoCo v2's defaults.
func DefaultMoCoParams() MoCoParams {
	return MoCoParams{Version: 2, Dim: 128, Momentum: 0.999, ShuffleGroups: 4, Augment: defaultAugment}
}

// MoCo learns by matching each query q = f_q(view 1) to its key
// k = f_k(view 2) among a queue of K keys of earlier batches, with InfoNCE;
// the key encoder f_k is an exponential moving average of f_q and never
// receives gradients, so the queue's keys stay consistent.
type MoCo struct {
	P     MoCoParams
	Query *branch
	Key   *branch
	// Queue holds K L2-normalised keys [K, Dim]; QueuePtr the next slot.
	Queue    *tensor.Tensor
	QueuePtr *tensor.Tensor
	views    []augment.Transform
	lastKeys *tensor.Tensor
}

func init() {
	register("moco", "MoCo v1/v2: momentum key encoder and a queue of negative keys, InfoNCE (He et al. 2020)",
		TrainDefaults{Optimizer: "sgd", LR: 0.03, WeightDecay: 1e-4, Momentum: 0.9, WarmupFrac: 0},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultMoCoParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewMoCo(s, p, r)
		})
	registerResolver("moco", func(s Spec, info RunInfo) (Spec, error) {
		p := DefaultMoCoParams()
		if err := decodeParams(s, &p); err != nil {
			return s, err
		}
		if p.QueueSize == 0 {
			p.QueueSize = min(65536, info.DataLen) / info.BatchSize * info.BatchSize
		}
		if p.QueueSize < info.BatchSize || p.QueueSize%info.BatchSize != 0 {
			return s, fmt.Errorf("moco: queue size %d must be a positive multiple of the batch size %d", p.QueueSize, info.BatchSize)
		}
		if p.ShuffleGroups > 0 && info.BatchSize/p.ShuffleGroups < 2 {
			return s, fmt.Errorf("moco: batch %d is too small for %d shuffled batch-norm groups (each needs 2 images)", info.BatchSize, p.ShuffleGroups)
		}
		s.Params = ParamsJSON(p)
		return s, nil
	})
}

// NewMoCo builds MoCo on the backbone s describes.
func NewMoCo(s Spec, p MoCoParams, r *rand.Rand) (*MoCo, error) {
	if p.Version != 1 && p.Version != 2 {
		return nil, fmt.Errorf("moco: version %d (1 or 2)", p.Version)
	}
	if p.Tau == 0 {
		p.Tau = 0.2
		if p.Version == 1 {
			p.Tau = 0.07
		}
	}
	if err := checkPositive("moco", "tau", float64(p.Tau)); err != nil {
		return nil, err
	}
	if p.QueueSize <= 0 {
		return nil, fmt.Errorf("moco: queue size %d must be positive (it defaults from the batch and dataset sizes in training)", p.QueueSize)
	}
	if p.Momentum < 0 || p.Momentum >= 1 {
		return nil, fmt.Errorf("moco: momentum %v outside [0, 1)", p.Momentum)
	}
	head := func() nn.MLPConfig { return nn.MLPConfig{Dims: []int{p.Dim}} }
	build := func() (*branch, error) {
		if p.Version == 1 {
			return newBranch(s, head(), r)
		}
		enc, err := nn.NewBackbone(s.Backbone, r)
		if err != nil {
			return nil, err
		}
		h, err := nn.NewMLP(nn.MLPConfig{Dims: []int{enc.OutDim(), enc.OutDim(), p.Dim}}, r)
		if err != nil {
			return nil, err
		}
		return &branch{Enc: enc, Head: h}, nil
	}
	q, err := build()
	if err != nil {
		return nil, err
	}
	k, err := momentumCopy(q, build)
	if err != nil {
		return nil, err
	}
	m := &MoCo{P: p, Query: q, Key: k, Queue: tensor.New(p.QueueSize, p.Dim), QueuePtr: tensor.New()}
	nn.Normal(m.Queue, 1, r)
	normalizeRows(m.Queue)
	var o augment.Options
	if p.Version == 1 {
		o = augment.Options{Size: viewSize(s), Scale: [2]float64{0.2, 1}, Ratio: augment.DefaultRatio, Flip: 0.5, Grayscale: 0.2,
			Jitter: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.4, P: 1}}
	} else {
		o = augment.MoCoV2Options(viewSize(s))
	}
	o = p.Augment.apply(o, s.Backbone.InChannels)
	m.views = []augment.Transform{o.Pipeline(), o.Pipeline()}
	return m, nil
}

// Encoder implements Method.
func (m *MoCo) Encoder() nn.Backbone { return m.Query.Enc }

// Views implements Method.
func (m *MoCo) Views() []augment.Transform { return m.views }

// Loss implements Method.
func (m *MoCo) Loss(b loader.Batch, r *rand.Rand) Output {
	q := autograd.L2Normalize(m.Query.forward(autograd.Const(b.Views[0])), 1e-12)
	k := noGrad(func() *autograd.Var { return shuffledForward(m.Key, b.Views[1], m.P.ShuffleGroups, r) })
	normalizeRows(k.Value)
	m.lastKeys = k.Value
	return Output{Loss: loss.InfoNCE(q, k, autograd.Const(m.Queue), m.P.Tau), Embedding: q}
}

// shuffledForward runs x through net in groups of a random partition of the
// batch (each group with its own batch-norm statistics) and returns the
// outputs in the original order.
func shuffledForward(net *branch, x *tensor.Tensor, groups int, r *rand.Rand) *autograd.Var {
	n := x.Dim(0)
	if groups <= 1 || n < 2*groups {
		return net.forward(autograd.Const(x))
	}
	perm := r.Perm(n)
	xs := autograd.IndexSelect(autograd.Const(x), perm)
	parts := make([]*autograd.Var, groups)
	for g := 0; g < groups; g++ {
		lo, hi := g*n/groups, (g+1)*n/groups
		parts[g] = net.forward(autograd.Narrow(xs, 0, lo, hi-lo))
	}
	out := autograd.Concat(0, parts...)
	inv := make([]int, n)
	for i, p := range perm {
		inv[p] = i
	}
	return autograd.IndexSelect(out, inv)
}

// AfterStep implements Method: the momentum update of the key encoder, then
// the batch's keys replace the oldest in the queue.
func (m *MoCo) AfterStep(float64) {
	if err := nn.EMAUpdate(m.Key, m.Query, float32(m.P.Momentum)); err != nil {
		panic(err)
	}
	if m.lastKeys != nil {
		enqueue(m.Queue, m.QueuePtr, m.lastKeys)
		m.lastKeys = nil
	}
}

// enqueue writes keys [N, D] into the ring buffer queue [K, D] at *ptr and
// advances it (K is a multiple of N, checked before training).
func enqueue(queue, ptr, keys *tensor.Tensor) {
	k, d := queue.Dim(0), queue.Dim(1)
	n := keys.Dim(0)
	p := int(ptr.Data[0])
	for i := 0; i < n; i++ {
		copy(queue.Data[((p+i)%k)*d:((p+i)%k+1)*d], keys.Data[i*d:(i+1)*d])
	}
	ptr.Data[0] = float32((p + n) % k)
}

// normalizeRows scales each row of t [N, D] to unit length in place.
func normalizeRows(t *tensor.Tensor) {
	d := t.Dim(-1)
	for r := 0; r < t.Len()/d; r++ {
		row := t.Data[r*d : (r+1)*d]
		var s float64
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(s))
		for i := range row {
			row[i] *= inv
		}
	}
}

// Collect implements nn.Module: the query network under "encoder."/
// "projector.", the key network under "momentum.", the queue as buffers.
func (m *MoCo) Collect(prefix string, s *nn.State) {
	m.Query.Collect(prefix, s)
	m.Key.Collect(prefix+"momentum.", s)
	s.Buffer(prefix+"queue", m.Queue)
	s.Buffer(prefix+"queue_ptr", m.QueuePtr)
}

// SetTraining implements nn.Module (the key encoder trains its batch norm
// too, as in MoCo's code).
func (m *MoCo) SetTraining(on bool) {
	m.Query.SetTraining(on)
	m.Key.SetTraining(on)
}
