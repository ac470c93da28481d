package methods

import (
	"fmt"
	"math/rand/v2"

	"selfsup/autograd"
	"selfsup/data/augment"
	"selfsup/data/loader"
	"selfsup/loss"
	"selfsup/nn"
	"selfsup/tensor"
)

// DINOParams are DINO's hyper-parameters (Caron et al. 2021; the output
// width of solo-learn's CIFAR runs).
type DINOParams struct {
	// OutDim is K, the width of the output distribution (65536 in the
	// paper; 4096 by default here).
	OutDim        int `json:"out_dim"`
	HiddenDim     int `json:"hidden_dim"`     // 2048
	BottleneckDim int `json:"bottleneck_dim"` // 256
	// StudentTau is the student temperature (0.1); the teacher's rises
	// linearly from TeacherTau to FinalTeacherTau over the first
	// TeacherWarmup fraction of training (0.04 -> 0.07 over 30%).
	StudentTau      float32 `json:"student_tau"`
	TeacherTau      float32 `json:"teacher_tau"`
	FinalTeacherTau float32 `json:"final_teacher_tau"`
	TeacherWarmup   float64 `json:"teacher_warmup"`
	// BaseMomentum of the teacher, raised to 1 along a cosine (0.996).
	BaseMomentum float64 `json:"base_momentum"`
	// CenterMomentum of the centre's EMA (0.9).
	CenterMomentum float32 `json:"center_momentum"`
	// NLocal local crops of LocalSize pixels (0: 3/7 of the image size, as
	// 96/224, rounded to the ViT patch size) besides the two global ones.
	NLocal    int           `json:"n_local"`
	LocalSize int           `json:"local_size"`
	Augment   AugmentParams `json:"augment"`
}

// DefaultDINOParams returns the defaults.
func DefaultDINOParams() DINOParams {
	return DINOParams{OutDim: 4096, HiddenDim: 2048, BottleneckDim: 256, StudentTau: 0.1, TeacherTau: 0.04,
		FinalTeacherTau: 0.07, TeacherWarmup: 0.3, BaseMomentum: 0.996, CenterMomentum: 0.9, NLocal: 6, Augment: defaultAugment}
}

// DINOHead is DINO's projection head: a GELU MLP down to a bottleneck,
// L2-normalised, then a weight-normalised linear layer to K outputs whose
// rows have unit norm (norm_last_layer: the gain is fixed at 1).
type DINOHead struct {
	MLP  *nn.MLP
	Last *autograd.Var // [K, bottleneck], used row-normalised
}

// NewDINOHead builds the head.
func NewDINOHead(in, hidden, bottleneck, out int, r *rand.Rand) (*DINOHead, error) {
	mlp, err := nn.NewMLP(nn.MLPConfig{Dims: []int{in, hidden, hidden, bottleneck}, GELU: true}, r)
	if err != nil {
		return nil, err
	}
	last := autograd.Param(tensor.New(out, bottleneck), "last_layer.weight_v")
	nn.TruncNormal(last.Value, 0.02, r)
	return &DINOHead{MLP: mlp, Last: last}, nil
}

// Forward returns the bottleneck embedding and the K logits.
func (h *DINOHead) Forward(x *autograd.Var) (bottleneck, logits *autograd.Var) {
	b := h.MLP.Forward(x)
	w := autograd.L2Normalize(h.Last, 1e-12)
	return b, autograd.MatMul(autograd.L2Normalize(b, 1e-12), w, false, true)
}

// Collect implements nn.Module.
func (h *DINOHead) Collect(prefix string, s *nn.State) {
	h.MLP.Collect(prefix+"mlp.", s)
	s.Param(prefix+"last_layer.weight_v", h.Last)
}

// SetTraining implements nn.Module (no mode-dependent layers).
func (h *DINOHead) SetTraining(bool) {}

// dinoNet is a backbone with a DINO head (student or teacher).
type dinoNet struct {
	Enc  nn.Backbone
	Head *DINOHead
}

func (d *dinoNet) forward(x *autograd.Var) (bottleneck, logits *autograd.Var) {
	h := d.Enc.Forward(x)
	b, l := d.Head.Forward(h)
	h.Free()
	return b, l
}

func (d *dinoNet) Collect(prefix string, s *nn.State) {
	d.Enc.Collect(prefix+"encoder.", s)
	d.Head.Collect(prefix+"head.", s)
}

func (d *dinoNet) SetTraining(on bool) {
	d.Enc.SetTraining(on)
	d.Head.SetTraining(on)
}

// DINO is self-distillation with no labels (Caron et al. 2021): a student
// sees every crop (two global, several local) and matches, by cross-entropy,
// the output distribution a teacher (an EMA of the student) gives to the
// global crops; the teacher's outputs are centred and sharpened so neither
// collapses.
type DINO struct {
	P       DINOParams
	Student *dinoNet
	Teacher *dinoNet
	// Center is the EMA of the teacher's mean output [K].
	Center      *tensor.Tensor
	views       []augment.Transform
	lastTeacher []*tensor.Tensor
	progress    float64
}

func init() {
	register("dino", "DINO: student/teacher self-distillation with centring, sharpening and multi-crop (Caron et al. 2021)",
		TrainDefaults{Optimizer: "adamw", LR: 5e-4, WeightDecay: 0.04, WarmupFrac: 0.1, ClipGrad: 3},
		func(s Spec, r *rand.Rand) (Method, error) {
			p := DefaultDINOParams()
			if err := decodeParams(s, &p); err != nil {
				return nil, err
			}
			return NewDINO(s, p, r)
		})
}

// NewDINO builds DINO on the backbone s describes.
func NewDINO(s Spec, p DINOParams, r *rand.Rand) (*DINO, error) {
	for _, c := range []struct {
		name string
		v    float32
	}{{"student_tau", p.StudentTau}, {"teacher_tau", p.TeacherTau}, {"final_teacher_tau", p.FinalTeacherTau}} {
		if err := checkPositive("dino", c.name, float64(c.v)); err != nil {
			return nil, err
		}
	}
	if p.NLocal < 0 {
		return nil, fmt.Errorf("dino: %d local crops", p.NLocal)
	}
	size := viewSize(s)
	if p.LocalSize == 0 {
		p.LocalSize = max(size*3/7, 4)
		if ps := vitPatch(s); ps > 0 {
			p.LocalSize = max(ps, (p.LocalSize+ps/2)/ps*ps)
		}
	}
	if ps := vitPatch(s); ps > 0 && p.LocalSize%ps != 0 {
		return nil, fmt.Errorf("dino: local crops of %d pixels are not a multiple of the ViT patch size %d", p.LocalSize, ps)
	}
	build := func() (*dinoNet, error) {
		enc, err := nn.NewBackbone(s.Backbone, r)
		if err != nil {
			return nil, err
		}
		head, err := NewDINOHead(enc.OutDim(), p.HiddenDim, p.BottleneckDim, p.OutDim, r)
		if err != nil {
			return nil, err
		}
		return &dinoNet{Enc: enc, Head: head}, nil
	}
	student, err := build()
	if err != nil {
		return nil, err
	}
	teacher, err := momentumCopy(student, build)
	if err != nil {
		return nil, err
	}
	mc := augment.DINOOptions(size, p.LocalSize, p.NLocal)
	ch := s.Backbone.InChannels
	mc.Global[0] = p.Augment.apply(mc.Global[0], ch)
	mc.Global[1] = p.Augment.apply(mc.Global[1], ch)
	mc.Local = p.Augment.apply(mc.Local, ch)
	return &DINO{P: p, Student: student, Teacher: teacher, Center: tensor.New(p.OutDim), views: mc.Views()}, nil
}

// vitPatch is the patch size of a ViT spec, 0 for other backbones.
func vitPatch(s Spec) int {
	if len(s.Backbone.Arch) < 3 || s.Backbone.Arch[:3] != "vit" {
		return 0
	}
	if s.Backbone.PatchSize > 0 {
		return s.Backbone.PatchSize
	}
	if s.Backbone.ImageSize > 64 {
		return 16
	}
	return 4
}

// Encoder implements Method (the student's backbone; the teacher's is
// usually slightly better and is saved under "momentum.").
func (m *DINO) Encoder() nn.Backbone { return m.Student.Enc }

// Views implements Method: two global crops, then the local ones.
func (m *DINO) Views() []augment.Transform { return m.views }

// teacherTau is the teacher temperature at the current point of training.
func (m *DINO) teacherTau() float32 {
	p := m.P
	if p.TeacherWarmup <= 0 || m.progress >= p.TeacherWarmup {
		return p.FinalTeacherTau
	}
	f := float32(m.progress / p.TeacherWarmup)
	return p.TeacherTau + f*(p.FinalTeacherTau-p.TeacherTau)
}

// Loss implements Method.
func (m *DINO) Loss(b loader.Batch, _ *rand.Rand) Output {
	n := b.Views[0].Dim(0)
	// student: the global crops as one batch, the local crops as another
	bottleneck, g := m.Student.forward(views2(b.Views[0], b.Views[1]))
	student := autograd.Split(g, 0, n, n)
	if len(b.Views) > 2 {
		_, l := m.Student.forward(autograd.Temp(concatViews(b.Views[2:]...)))
		sizes := make([]int, len(b.Views)-2)
		for i := range sizes {
			sizes[i] = n
		}
		student = append(student, autograd.Split(l, 0, sizes...)...)
	}
	// teacher: the global crops, no gradient
	var t *autograd.Var
	autograd.NoGrad(func() {
		x := autograd.Temp(concatViews(b.Views[0], b.Views[1]))
		_, t = m.Teacher.forward(x)
		x.Free()
	})
	k := m.P.OutDim
	m.lastTeacher = []*tensor.Tensor{
		tensor.FromData(t.Value.Data[:n*k], n, k),
		tensor.FromData(t.Value.Data[n*k:2*n*k], n, k),
	}
	l := loss.DINOLoss(student, m.lastTeacher, m.Center, m.P.StudentTau, m.teacherTau())
	return Output{Loss: l, Embedding: bottleneck, Metrics: map[string]float64{"teacher_tau": float64(m.teacherTau())}}
}

// AfterStep implements Method: the teacher's EMA update, then the centre's.
func (m *DINO) AfterStep(progress float64) {
	m.progress = progress
	if err := nn.EMAUpdate(m.Teacher, m.Student, cosineMomentum(m.P.BaseMomentum, progress)); err != nil {
		panic(err)
	}
	if m.lastTeacher != nil {
		loss.UpdateCenter(m.Center, m.lastTeacher, m.P.CenterMomentum)
		m.lastTeacher = nil
	}
}

// Collect implements nn.Module.
func (m *DINO) Collect(prefix string, s *nn.State) {
	m.Student.Collect(prefix, s)
	m.Teacher.Collect(prefix+"momentum.", s)
	s.Buffer(prefix+"center", m.Center)
}

// SetTraining implements nn.Module.
func (m *DINO) SetTraining(on bool) {
	m.Student.SetTraining(on)
	m.Teacher.SetTraining(on)
}
