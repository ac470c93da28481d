package optim

import "math"

// Schedule maps a step number to a value (a learning rate, a momentum).
type Schedule interface {
	At(step int64) float64
}

// WarmupCosine rises linearly over Warmup steps (Base*(step+1)/Warmup, so
// the first step already moves and step Warmup-1 reaches Base), then
// follows a half cosine from Base down to Final at step Total (and stays
// there): the schedule of SimCLR, MoCo v2/v3, BYOL, DINO and MAE, one step
// ahead of the Base*step/Warmup convention, whose first step is wasted.
type WarmupCosine struct {
	Base, Final   float64
	Warmup, Total int64
}

// At implements Schedule.
func (s WarmupCosine) At(step int64) float64 {
	if step < s.Warmup {
		return s.Base * float64(step+1) / float64(s.Warmup)
	}
	if s.Total <= s.Warmup || step >= s.Total {
		if step >= s.Total {
			return s.Final
		}
		return s.Base
	}
	p := float64(step-s.Warmup) / float64(s.Total-s.Warmup)
	return s.Final + (s.Base-s.Final)*0.5*(1+math.Cos(math.Pi*p))
}

// Constant is a schedule that never changes.
type Constant float64

// At implements Schedule.
func (c Constant) At(int64) float64 { return float64(c) }
