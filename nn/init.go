package nn

import (
	"math"
	"math/rand/v2"

	"selfsup/tensor"
)

// Uniform fills t with draws from U(-bound, bound).
func Uniform(t *tensor.Tensor, bound float64, r *rand.Rand) {
	for i := range t.Data {
		t.Data[i] = float32((r.Float64()*2 - 1) * bound)
	}
}

// Normal fills t with draws from N(0, std^2).
func Normal(t *tensor.Tensor, std float64, r *rand.Rand) {
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64() * std)
	}
}

// TruncNormal fills t with N(0, std^2) draws redrawn outside +-2 std (the
// timm / MAE initialisation of ViT weights).
func TruncNormal(t *tensor.Tensor, std float64, r *rand.Rand) {
	for i := range t.Data {
		v := r.NormFloat64()
		for v < -2 || v > 2 {
			v = r.NormFloat64()
		}
		t.Data[i] = float32(v * std)
	}
}

// KaimingNormalFanOut is torchvision's ResNet convolution initialisation:
// N(0, 2/fan_out), fan_out = out_channels * kernel area.
func KaimingNormalFanOut(t *tensor.Tensor, r *rand.Rand) {
	s := t.Shape()
	fanOut := s[0]
	for _, d := range s[2:] {
		fanOut *= d
	}
	Normal(t, math.Sqrt(2/float64(fanOut)), r)
}

// XavierUniform fills a [out, in] weight with U(+-sqrt(6/(in+out))).
func XavierUniform(t *tensor.Tensor, r *rand.Rand) {
	s := t.Shape()
	fanIn, fanOut := s[1], s[0]
	for _, d := range s[2:] {
		fanIn *= d
		fanOut *= d
	}
	Uniform(t, math.Sqrt(6/float64(fanIn+fanOut)), r)
}

// fanIn is the number of inputs feeding one output of a weight [out, in, ...].
func fanIn(shape []int) int {
	n := 1
	for _, d := range shape[1:] {
		n *= d
	}
	return n
}
