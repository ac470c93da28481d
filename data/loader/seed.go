package loader

import (
	"math/bits"
	"math/rand/v2"
)

// Stream constants keep the order generator and the view generators apart.
const (
	orderStream = 0x6f72646572 // "order"
	viewStream  = 0x76696577   // "view"
)

// splitmix64 is a bijective 64-bit mixer (Steele et al.); chaining it over
// the inputs gives well-spread, independent-looking seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func mix(a, b uint64) uint64 { return splitmix64(a ^ splitmix64(b)) }

// SampleSeed returns the PCG seed of view v of dataset image i in the given
// epoch. The loader augments that view with
// rand.New(rand.NewPCG(SampleSeed(seed, epoch, i, v))), so a caller can
// reproduce any view outside the loader, for example to show what the
// network saw.
func SampleSeed(seed uint64, epoch, i, v int) (uint64, uint64) {
	hi := mix(mix(seed, uint64(epoch)), uint64(i))
	lo := mix(hi, viewStream+uint64(v))
	return hi, lo
}

// order returns the sample order of an epoch: a Fisher-Yates shuffle driven
// by a PCG seeded from (seed, epoch), written out here rather than taken
// from math/rand so that it never changes between Go releases.
func order(n int, shuffle bool, seed uint64, epoch int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if !shuffle {
		return idx
	}
	src := rand.NewPCG(mix(seed, uint64(epoch)), orderStream)
	for i := n - 1; i > 0; i-- {
		// Multiply-shift maps 64 random bits onto [0, i]; the bias is
		// below (i+1)/2^64.
		hi, _ := bits.Mul64(src.Uint64(), uint64(i+1))
		j := int(hi)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx
}
