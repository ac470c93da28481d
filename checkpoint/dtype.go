package checkpoint

import (
	"encoding/binary"
	"math"
)

// DType names the element type of a tensor stored in a safetensors file,
// spelled as in the file's header ("F32", "BF16", ...).
type DType string

// The element types this package reads. F32 is the only type it writes; the
// others are converted to float32 when read (F64 is rounded to nearest).
const (
	F32  DType = "F32"
	F64  DType = "F64"
	F16  DType = "F16"
	BF16 DType = "BF16"
)

// dtypeRank lists every dtype of the reference implementation in the order
// of its Dtype enum, which is increasing alignment. Writers sort tensors by
// descending rank (then by name), so the rank of every type, even those this
// package cannot decode, decides the layout.
var dtypeRank = map[DType]int{
	"BOOL": 0, "F4": 1, "F6_E2M3": 2, "F6_E3M2": 3, "U8": 4, "I8": 5,
	"F8_E5M2": 6, "F8_E4M3": 7, "F8_E8M0": 8, "F8_E4M3FNUZ": 9, "F8_E5M2FNUZ": 10,
	"I16": 11, "U16": 12, F16: 13, BF16: 14, "I32": 15, "U32": 16, F32: 17,
	"C64": 18, F64: 19, "I64": 20, "U64": 21,
}

// size returns the bytes per element of a dtype this package decodes, or 0.
func (d DType) size() int {
	switch d {
	case F32:
		return 4
	case F64:
		return 8
	case F16, BF16:
		return 2
	}
	return 0
}

// decodeInto converts len(dst) little-endian elements of type d from src
// (which holds exactly len(dst)*d.size() bytes) into float32.
func (d DType) decodeInto(dst []float32, src []byte) {
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	case F16:
		for i := range dst {
			dst[i] = halfToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	}
}

// halfToFloat32 converts an IEEE 754 binary16 value to float32 exactly
// (every half value, subnormals and NaN payloads included, is a float32).
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // infinity or NaN: keep the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0: // zero or subnormal: mant * 2^-24, exact in float32
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
