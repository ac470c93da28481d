package loss

import (
	"fmt"

	"selfsup/autograd"
	"selfsup/tensor"
)

// DINOLoss is DINO's self-distillation objective (Caron et al. 2021) for
// the student outputs of every view [N, K] and the teacher outputs of the
// global views [N, K] (computed without gradient): for every pair of a
// teacher view t and a different student view s,
//
//	H(softmax((t - center)/teacherTau), log_softmax(s/studentTau))
//
// averaged over pairs and images. Centering (subtracting an EMA of the
// teacher's mean output) and sharpening (the low teacher temperature)
// together keep the teacher from collapsing to one dimension or to the
// uniform distribution. Teacher view i and student view i are the same
// crop and are not paired.
func DINOLoss(student []*autograd.Var, teacher []*tensor.Tensor, center *tensor.Tensor, studentTau, teacherTau float32) *autograd.Var {
	if len(teacher) == 0 || len(student) < 2 {
		panic(&autograd.OpError{Op: "DINOLoss", Msg: fmt.Sprintf("%d teacher and %d student views: need at least one and two", len(teacher), len(student))})
	}
	if studentTau <= 0 || teacherTau <= 0 {
		panic(&autograd.OpError{Op: "DINOLoss", Msg: fmt.Sprintf("temperatures %v, %v must be positive", studentTau, teacherTau)})
	}
	if teacher[0].Dims() != 2 {
		panic(&autograd.OpError{Op: "DINOLoss", Msg: fmt.Sprintf("teacher outputs must be [N, K], got %v", teacher[0].Shape())})
	}
	n, k := teacher[0].Dim(0), teacher[0].Dim(1)
	for i, s := range student {
		if ss := s.Shape(); len(ss) != 2 || ss[0] != n || ss[1] != k {
			panic(&autograd.OpError{Op: "DINOLoss", Msg: fmt.Sprintf("student view %d is %v, the teacher outputs are [%d %d]", i, ss, n, k)})
		}
	}
	if center.Len() != k {
		panic(&autograd.OpError{Op: "DINOLoss", Msg: fmt.Sprintf("centre of %d for outputs of %d", center.Len(), k)})
	}
	// teacher targets: softmax((t - c)/tau_t), constants
	targets := make([]*autograd.Var, len(teacher))
	for i, t := range teacher {
		if t.Dims() != 2 || t.Dim(0) != n || t.Dim(1) != k {
			panic(&autograd.OpError{Op: "DINOLoss", Msg: fmt.Sprintf("teacher view %d is %v, view 0 is [%d %d]", i, t.Shape(), n, k)})
		}
		p := tensor.New(n, k)
		for r := 0; r < n; r++ {
			row, out := t.Data[r*k:(r+1)*k], p.Data[r*k:(r+1)*k]
			for j, v := range row {
				out[j] = (v - center.Data[j]) / teacherTau
			}
		}
		tensor.SoftmaxRows(p.Data, p.Data, n, k, false)
		targets[i] = autograd.Const(p)
	}
	var total *autograd.Var
	pairs := 0
	for si, s := range student {
		logp := autograd.LogSoftmax(autograd.Scale(s, 1/studentTau))
		for ti, q := range targets {
			if ti == si {
				continue
			}
			// -sum_j q_j log p_j, mean over the batch
			ce := autograd.Scale(autograd.Sum(autograd.Mul(q, logp)), -1/float32(n))
			if total == nil {
				total = ce
			} else {
				total = autograd.Add(total, ce)
			}
			pairs++
		}
	}
	return autograd.Scale(total, 1/float32(pairs))
}

// UpdateCenter moves DINO's centre towards the batch mean of the teacher
// outputs (all global views): c = m*c + (1-m)*mean(t).
func UpdateCenter(center *tensor.Tensor, teacher []*tensor.Tensor, m float32) {
	k := center.Len()
	mean := make([]float64, k)
	rows := 0
	for _, t := range teacher {
		n := t.Dim(0)
		for r := 0; r < n; r++ {
			for j, v := range t.Data[r*k : (r+1)*k] {
				mean[j] += float64(v)
			}
		}
		rows += n
	}
	for j := range center.Data {
		center.Data[j] = m*center.Data[j] + (1-m)*float32(mean[j]/float64(rows))
	}
}
