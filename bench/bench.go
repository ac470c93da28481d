// Package bench runs the engine workloads of DESIGN.md on random inputs and
// reports throughput in the JSON line shape of shared/bench/torch_reference.py,
// so one command pair gives a side-by-side ratio on one machine.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"selfsup/autograd"
	"selfsup/loss"
	"selfsup/methods"
	"selfsup/nn"
	"selfsup/optim"
	"selfsup/tensor"
)

// Result is one workload's measurement, printed as one JSON line.
type Result struct {
	Workload   string  `json:"workload"`
	Engine     string  `json:"engine"`
	Throughput float64 `json:"throughput"`
	Unit       string  `json:"unit"`
	Threads    int     `json:"threads"`
	Batch      int     `json:"batch"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// StepSeconds is the median step time.
	StepSeconds float64 `json:"step_seconds"`
}

// Options controls a run.
type Options struct {
	Batch, Warmup, Iters int
}

// DefaultOptions matches torch_reference.py's defaults.
var DefaultOptions = Options{Batch: 128, Warmup: 2, Iters: 5}

type workload struct {
	unit  string
	setup func(o Options) (step func() error, items int, err error)
}

var workloads = map[string]workload{
	"simclr-resnet-small": {"views/s", func(o Options) (func() error, int, error) { return simclrStep("resnet-small", o) }},
	"simclr-resnet18":     {"views/s", func(o Options) (func() error, int, error) { return simclrStep("resnet18-cifar", o) }},
	"mae-vit-tiny":        {"images/s", maeStep},
	"embed-resnet18":      {"images/s", embedStep},
}

// Workloads lists the workload names in the order they run.
func Workloads() []string {
	return []string{"simclr-resnet-small", "simclr-resnet18", "mae-vit-tiny", "embed-resnet18"}
}

// Run measures one workload in this process.
func Run(name string, o Options) (Result, error) {
	w, ok := workloads[name]
	if !ok {
		names := Workloads()
		sort.Strings(names)
		return Result{}, fmt.Errorf("unknown workload %q (known: %s)", name, strings.Join(names, ", "))
	}
	if o.Batch < 2 || o.Iters < 1 || o.Warmup < 0 {
		return Result{}, fmt.Errorf("bench: batch %d, warmup %d, iters %d: need batch >= 2, iters >= 1", o.Batch, o.Warmup, o.Iters)
	}
	step, items, err := w.setup(o)
	if err != nil {
		return Result{}, err
	}
	var times []float64
	for i := 0; i < o.Warmup+o.Iters; i++ {
		t0 := time.Now()
		if err := step(); err != nil {
			return Result{}, fmt.Errorf("%s: %w", name, err)
		}
		if i >= o.Warmup {
			times = append(times, time.Since(t0).Seconds())
		}
	}
	sort.Float64s(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	return Result{
		Workload: name, Engine: "selfsup-go-" + tensor.KernelName(), Throughput: round2(float64(items) / med),
		Unit: w.unit, Threads: runtime.GOMAXPROCS(0), Batch: o.Batch, PeakRSSMiB: PeakRSSMiB(), StepSeconds: med,
	}, nil
}

// Print writes r as one JSON line.
func (r Result) Print(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

// PeakRSSMiB reads the process's peak resident set size (VmHWM) from
// /proc/self/status; 0 where that file does not exist.
func PeakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return round2(kb / 1024)
			}
		}
	}
	return 0
}

func randomImages(r *rand.Rand, n int) *tensor.Tensor {
	t := tensor.New(n, 3, 32, 32)
	nn.Normal(t, 1, r)
	return t
}

// simclrStep is SimCLR on random views: backbone, MLP D-D-ReLU-128,
// NT-Xent tau 0.5, SGD momentum 0.9 weight decay 5e-4 (on every parameter,
// as torch.optim.SGD does), 2*batch views.
func simclrStep(arch string, o Options) (func() error, int, error) {
	r := rand.New(rand.NewPCG(0, 0))
	enc, err := nn.NewBackbone(nn.BackboneConfig{Arch: arch, InChannels: 3, ImageSize: 32}, r)
	if err != nil {
		return nil, 0, err
	}
	d := enc.OutDim()
	head, err := nn.NewMLP(nn.MLPConfig{Dims: []int{d, d, 128}}, r)
	if err != nil {
		return nil, 0, err
	}
	model := &nn.Sequential{Layers: []nn.Layer{enc, head}}
	params := nn.Parameters(model)
	opt := optim.NewSGD(params, optim.SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, DecayAll: true})
	views := autograd.Const(randomImages(r, 2*o.Batch))
	step := func() error {
		optim.ZeroGrad(params)
		l := loss.NTXent(model.Forward(views), 0.5)
		if err := l.Backward(); err != nil {
			return err
		}
		opt.Step()
		_ = l.Item()
		return nil
	}
	return step, 2 * o.Batch, nil
}

// maeStep is MAE with ViT-tiny (patch 4 on 32x32, dim 192, depth 12, 3
// heads), 75% masking, decoder 128 x 2 (4 heads), AdamW.
func maeStep(o Options) (func() error, int, error) {
	r := rand.New(rand.NewPCG(0, 0))
	enc, err := nn.NewViT(nn.ViTConfig{ImageSize: 32, PatchSize: 4, InChannels: 3, Dim: 192, Depth: 12, Heads: 3, MLPRatio: 4}, r)
	if err != nil {
		return nil, 0, err
	}
	m, err := methods.NewMAEModel(enc, methods.MAEConfig{MaskRatio: 0.75, DecoderDim: 128, DecoderDepth: 2, DecoderHeads: 4}, r)
	if err != nil {
		return nil, 0, err
	}
	params := nn.Parameters(m)
	opt := optim.NewAdamW(params, optim.AdamWConfig{LR: 1.5e-4, WeightDecay: 0.05, DecayAll: true})
	imgs := randomImages(r, o.Batch)
	step := func() error {
		optim.ZeroGrad(params)
		out := m.Forward(imgs, r)
		if err := out.Loss.Backward(); err != nil {
			return err
		}
		opt.Step()
		_ = out.Loss.Item()
		return nil
	}
	return step, o.Batch, nil
}

// embedStep is the CIFAR ResNet-18 forward pass in evaluation mode on 256
// images (twice the batch option, as the reference uses 256).
func embedStep(o Options) (func() error, int, error) {
	r := rand.New(rand.NewPCG(0, 0))
	enc, err := nn.NewBackbone(nn.BackboneConfig{Arch: "resnet18-cifar", InChannels: 3, ImageSize: 32}, r)
	if err != nil {
		return nil, 0, err
	}
	enc.SetTraining(false)
	n := 2 * o.Batch
	x := autograd.Const(randomImages(r, n))
	step := func() error {
		autograd.NoGrad(func() {
			f := enc.Forward(x)
			f.Free()
		})
		return nil
	}
	return step, n, nil
}
