package cam

import (
	"math"
	"math/rand/v2"
	"testing"

	"selfsup/autograd"
	"selfsup/data"
	"selfsup/nn"
	"selfsup/optim"
)

// tinyResNet is a narrow resnet-small (stem 16, stages 16-32-64, each
// stride 2) for quick tests on 1-channel images.
func tinyResNet(t *testing.T, seed uint64) *nn.ResNet {
	t.Helper()
	enc, err := nn.NewResNet(nn.ResNetConfig{Blocks: []int{1, 1, 1}, Widths: []int{16, 32, 64}, StemWidth: 16, FirstStride: 2, InChannels: 1},
		rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// headed is an encoder with a linear classifier head, for trainSupervised.
type headed struct {
	enc  nn.Backbone
	head *nn.Linear
}

func (h headed) Collect(prefix string, s *nn.State) {
	h.enc.Collect(prefix+"encoder.", s)
	h.head.Collect(prefix+"head.", s)
}

func (h headed) SetTraining(on bool) { h.enc.SetTraining(on) }

// trainSupervised trains enc with a fresh linear head by SGD (momentum
// 0.9, cosine learning rate) on steps batches of the labelled images of
// ds, drawn at random: a minimal supervised loop for tests that need a
// model trained in seconds.
func trainSupervised(t *testing.T, enc nn.Backbone, ds data.Dataset, steps, batch int, lr float64, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	m := headed{enc: enc, head: nn.NewLinear(enc.OutDim(), len(ds.Classes()), true, r)}
	params := nn.Parameters(m)
	opt := optim.NewSGD(params, optim.SGDConfig{LR: lr, Momentum: 0.9, WeightDecay: 1e-4})
	enc.SetTraining(true)
	idx := make([]int, batch)
	for step := 0; step < steps; step++ {
		for i := range idx {
			idx[i] = r.IntN(ds.Len())
		}
		x, labels, err := readBatch(ds, idx)
		if err != nil {
			t.Fatal(err)
		}
		opt.SetLR(lr * 0.5 * (1 + cosPi(float64(step)/float64(steps))))
		err = autograd.Guard(func() error {
			h := enc.Forward(autograd.Const(x))
			loss := autograd.CrossEntropy(m.head.Forward(h), labels, 0)
			if err := loss.Backward(); err != nil {
				return err
			}
			opt.Step()
			optim.ZeroGrad(params)
			return nil
		})
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
}

func cosPi(x float64) float64 { return math.Cos(math.Pi * x) }
