package methods

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"

	"selfsup/tensor"
)

// numTilePerms is 9!, the number of orders of the 3x3 jigsaw tiles.
const numTilePerms = 362880

// Permutation-set selection rules for JigsawPermutations.
const (
	// SelectMaxMin adds, at each step, the permutation whose smallest
	// Hamming distance to the chosen set is largest (farthest-point
	// selection): it maximises the set's minimum distance, so that no two
	// classes are puzzles that differ in only a few tiles.
	SelectMaxMin = "maxmin"
	// SelectMaxMean adds the permutation whose summed distance to the
	// chosen set is largest: Noroozi & Favaro's Algorithm 1, which
	// maximises the average distance (their 1000-permutation set has a
	// minimum distance of only 2 or 3).
	SelectMaxMean = "maxmean"
)

var (
	allPermsOnce sync.Once
	allPerms     []uint64 // every permutation of 0..8, 4 bits a position, lexicographic

	permCacheMu sync.Mutex
	permCache   = map[permKey][][9]uint8{}
)

type permKey struct {
	n         int
	seed      uint64
	selection string
}

// tilePerms enumerates the 9! permutations in lexicographic order, each
// packed into the low 36 bits of a uint64 (position k in bits 4k..4k+3).
func tilePerms() []uint64 {
	allPermsOnce.Do(func() {
		allPerms = make([]uint64, 0, numTilePerms)
		p := [9]uint8{0, 1, 2, 3, 4, 5, 6, 7, 8}
		for {
			allPerms = append(allPerms, packPerm(p))
			// next permutation in lexicographic order
			i := 7
			for i >= 0 && p[i] >= p[i+1] {
				i--
			}
			if i < 0 {
				break
			}
			j := 8
			for p[j] <= p[i] {
				j--
			}
			p[i], p[j] = p[j], p[i]
			for a, b := i+1, 8; a < b; a, b = a+1, b-1 {
				p[a], p[b] = p[b], p[a]
			}
		}
	})
	return allPerms
}

func packPerm(p [9]uint8) uint64 {
	var v uint64
	for k, t := range p {
		v |= uint64(t) << (4 * k)
	}
	return v
}

func unpackPerm(v uint64) [9]uint8 {
	var p [9]uint8
	for k := range p {
		p[k] = uint8(v >> (4 * k) & 15)
	}
	return p
}

// hamming counts the positions where two packed permutations differ: the
// nibbles of a^b that are not zero.
func hamming(a, b uint64) int {
	x := a ^ b
	x |= x >> 1
	x |= x >> 2
	return bits.OnesCount64(x & 0x111111111)
}

// Hamming is the number of tile positions where two permutations differ.
func Hamming(a, b [9]uint8) int { return hamming(packPerm(a), packPerm(b)) }

// MinHamming is the smallest Hamming distance between two permutations of
// the set (10 for a set of fewer than two).
func MinHamming(perms [][9]uint8) int {
	best := 10
	for i := range perms {
		for j := i + 1; j < len(perms); j++ {
			best = min(best, Hamming(perms[i], perms[j]))
		}
	}
	return best
}

// maxPermsAtDistance bounds the size of a set of permutations of 9 with
// pairwise Hamming distance at least d: two of them that agree on 10-d
// positions differ somewhere there, so the set has at most 9!/(d-1)!
// members (9 for d = 9: each position takes a different tile in each).
func maxPermsAtDistance(d int) int {
	m := numTilePerms
	for f := 2; f < d; f++ {
		m /= f
	}
	return m
}

// JigsawPermutations chooses n of the 9! orders of the 3x3 jigsaw tiles
// greedily (Noroozi & Favaro 2016, section 3.3): it starts from a random
// permutation and repeatedly adds the one farthest from those chosen, by
// the rule selection names (SelectMaxMin or SelectMaxMean); ties go to the
// first after a random starting point. The result depends only on n, seed
// and selection; each step costs one pass over the 9! permutations (about
// a second for n = 1000), and results are cached.
func JigsawPermutations(n int, seed uint64, selection string) ([][9]uint8, error) {
	if n < 2 || n > numTilePerms {
		return nil, fmt.Errorf("jigsaw: %d permutations; want 2 to 9! = %d", n, numTilePerms)
	}
	if selection != SelectMaxMin && selection != SelectMaxMean {
		return nil, fmt.Errorf("jigsaw: selection %q; want %q or %q", selection, SelectMaxMin, SelectMaxMean)
	}
	key := permKey{n, seed, selection}
	permCacheMu.Lock()
	cached, ok := permCache[key]
	permCacheMu.Unlock()
	if !ok {
		cached = selectPerms(n, seed, selection)
		permCacheMu.Lock()
		permCache[key] = cached
		permCacheMu.Unlock()
	}
	return append([][9]uint8(nil), cached...), nil
}

// selectPerms runs the selection JigsawPermutations caches.
func selectPerms(n int, seed uint64, selection string) [][9]uint8 {
	return greedyPerms(n, rand.New(rand.NewPCG(seed, 0x6a165a)), selection == SelectMaxMean)
}

// greedyPerms is JigsawPermutations' selection. score[i] is permutation
// i's smallest distance to the chosen set (maxmin) or its summed distance
// (maxmean, with chosen ones marked so they are not picked again); one
// parallel pass per step folds the newest pick into the scores and finds
// the best candidate for the next.
func greedyPerms(n int, r *rand.Rand, mean bool) [][9]uint8 {
	all := tilePerms()
	score := make([]uint32, numTilePerms)
	chosen := make([]bool, numTilePerms)
	if !mean {
		for i := range score {
			score[i] = 10 // above any distance: the first pass sets it
		}
	}
	type cand struct {
		score uint32
		rank  int // distance after the random starting point, for ties
		idx   int
	}
	workers := make([]cand, tensor.Workers())
	pick := r.IntN(numTilePerms)
	out := make([][9]uint8, 0, n)
	for {
		chosen[pick] = true
		out = append(out, unpackPerm(all[pick]))
		if len(out) == n {
			return out
		}
		last, start := all[pick], r.IntN(numTilePerms)
		for w := range workers {
			workers[w] = cand{idx: -1}
		}
		tensor.ParallelFor(numTilePerms, 1<<13, func(w, lo, hi int) {
			best := workers[w]
			for i := lo; i < hi; i++ {
				d := uint32(hamming(all[i], last))
				s := score[i]
				if mean {
					s += d
				} else {
					s = min(s, d)
				}
				score[i] = s
				if (best.idx >= 0 && s < best.score) || chosen[i] {
					continue
				}
				rank := i - start
				if rank < 0 {
					rank += numTilePerms
				}
				if best.idx < 0 || s > best.score || (s == best.score && rank < best.rank) {
					best = cand{s, rank, i}
				}
			}
			workers[w] = best
		})
		best := cand{idx: -1}
		for _, c := range workers {
			if c.idx >= 0 && (best.idx < 0 || c.score > best.score || (c.score == best.score && c.rank < best.rank)) {
				best = c
			}
		}
		pick = best.idx
	}
}

// checkDistanceBound reports, before any selection runs, a minimum
// distance out of range or a set larger than can exist at that distance.
func checkDistanceBound(n, d int) error {
	if d < 0 || d > 9 {
		return fmt.Errorf("jigsaw: min_distance %d outside 0..9 (two orders of 9 tiles differ in 2 to 9 positions)", d)
	}
	if d > 0 {
		if bound := maxPermsAtDistance(d); n > bound {
			return fmt.Errorf("jigsaw: %d permutations with minimum Hamming distance %d are more than exist (at most 9!/(%d-1)! = %d); lower permutations or min_distance", n, d, d, bound)
		}
	}
	return nil
}

// checkMinDistance reports a chosen set that misses the minimum distance
// asked although such a set may exist: the greedy selection did not find
// one.
func checkMinDistance(perms [][9]uint8, d int, selection string) error {
	if d == 0 {
		return nil
	}
	if got := MinHamming(perms); got < d {
		return fmt.Errorf("jigsaw: the %s selection of %d permutations reaches minimum Hamming distance %d, less than min_distance %d; lower permutations or min_distance", selection, len(perms), got, d)
	}
	return nil
}
