package methods

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"selfsup/autograd"
	"selfsup/checkpoint"
	"selfsup/data/loader"
	"selfsup/nn"
	"selfsup/tensor"
)

// The greedy sets: valid distinct permutations, the minimum distances
// measured for the max-min rule (7 for 64, 6 for 100, 5 for 1000), and
// the same set from the same seed.
func TestJigsawPermutationSets(t *testing.T) {
	cases := []struct {
		n         int
		selection string
		minDist   int
	}{
		{64, SelectMaxMin, 7},
		{100, SelectMaxMin, 6},
		{1000, SelectMaxMin, 5},
		{100, SelectMaxMean, 2}, // the paper's rule trades the minimum for the mean
	}
	for _, c := range cases {
		perms, err := JigsawPermutations(c.n, 0, c.selection)
		if err != nil {
			t.Fatal(err)
		}
		if len(perms) != c.n {
			t.Fatalf("%d permutations, want %d", len(perms), c.n)
		}
		seen := map[[9]uint8]bool{}
		for _, p := range perms {
			var used [9]bool
			for _, v := range p {
				if v > 8 || used[v] {
					t.Fatalf("%v is not a permutation of 0..8", p)
				}
				used[v] = true
			}
			if seen[p] {
				t.Fatalf("%v chosen twice", p)
			}
			seen[p] = true
		}
		if got := MinHamming(perms); got < c.minDist {
			t.Fatalf("%s %d: minimum Hamming distance %d, want at least %d", c.selection, c.n, got, c.minDist)
		}
		if c.n > 100 {
			continue // a second selection of 1000 takes a while
		}
		again := selectPerms(c.n, 0, c.selection) // not from the cache
		other := selectPerms(c.n, 1, c.selection)
		same := true
		for i := range perms {
			if again[i] != perms[i] {
				t.Fatalf("seed 0 gave a different set the second time")
			}
			same = same && other[i] == perms[i]
		}
		if same {
			t.Fatalf("seeds 0 and 1 gave the same set")
		}
	}
}

// The max-min selection is greedy: each pick is at least as far from the
// set before it as the next one, and when it stops no permutation left out
// is farther from the set than the last one added.
func TestJigsawPermutationsAreGreedy(t *testing.T) {
	for _, n := range []int{16, 64} {
		perms, err := JigsawPermutations(n, 3, SelectMaxMin)
		if err != nil {
			t.Fatal(err)
		}
		distTo := func(q uint64, set [][9]uint8) int {
			d := 10
			for _, p := range set {
				d = min(d, hamming(q, packPerm(p)))
			}
			return d
		}
		prev := 10
		for k := 1; k < n; k++ {
			d := distTo(packPerm(perms[k]), perms[:k])
			if d > prev {
				t.Fatalf("n=%d: pick %d is %d from the set, farther than pick %d (%d)", n, k, d, k-1, prev)
			}
			prev = d
		}
		for _, q := range tilePerms() {
			if d := distTo(q, perms); d > prev {
				t.Fatalf("n=%d: %v is %d from the set, farther than the last pick (%d)", n, unpackPerm(q), d, prev)
			}
		}
	}
}

func TestJigsawRejectsBadParams(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	cases := []struct{ params, want string }{
		{`{"permutations":1000,"min_distance":9}`, "1000 permutations with minimum Hamming distance 9 are more than exist (at most 9!/(9-1)! = 9)"},
		{`{"permutations":100,"min_distance":8}`, "are more than exist (at most 9!/(8-1)! = 72)"},
		{`{"permutations":64,"min_distance":8}`, "reaches minimum Hamming distance 7, less than min_distance 8"},
		{`{"permutations":64,"min_distance":10}`, "min_distance 10 outside 0..9"},
		{`{"permutations":1}`, "permutations = 1"},
		{`{"permutations":400000}`, "permutations = 400000"},
		{`{"selection":"best"}`, `selection "best"`},
		{`{"patch":10}`, "need 36 pixels, but the images have 28"},
	}
	for _, c := range cases {
		_, err := Build(pretextSpec("jigsaw", 28, c.params), r)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "jigsaw") {
			t.Errorf("%s: err = %v, want one mentioning %q", c.params, err, c.want)
		}
	}
	if _, err := Build(pretextSpec("jigsaw", 28, `{"permutations":64,"min_distance":7,"hidden_dim":8}`), r); err != nil {
		t.Fatalf("64 permutations at distance 7: %v", err)
	}
}

// Every tile is cut from its image, and the cells the tiles came from,
// in input order, are the permutation of the label.
func TestJigsawTilesMatchLabels(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	m, err := Build(pretextSpec("jigsaw", 28, `{"normalize":false,"hidden_dim":8}`), r)
	if err != nil {
		t.Fatal(err)
	}
	j := m.(*Jigsaw)
	g := j.Grid
	if slack := g.Size - g.Extent(); slack+2*g.Jitter >= g.Patch+g.Gap {
		t.Fatalf("grid %+v too loose for reading cells back from positions", g)
	}
	n := 6
	tiles, labels := j.Tiles(positionImage(n, 28), r)
	sz := g.Patch * g.Patch
	if tiles.Dim(0) != 9*n || len(labels) != n {
		t.Fatalf("%d tiles and %d labels for %d images", tiles.Dim(0), len(labels), n)
	}
	for i := 0; i < n; i++ {
		var order [9]uint8
		for k := 0; k < 9; k++ {
			img, y, x := decodePosition(tiles.Data[(9*i+k)*sz])
			if img != i {
				t.Fatalf("tile %d of image %d cut from image %d", k, i, img)
			}
			order[k] = uint8(y/(g.Patch+g.Gap)*3 + x/(g.Patch+g.Gap))
		}
		got, ok := j.Label(order)
		if !ok || got != labels[i] {
			t.Fatalf("image %d: tiles in order %v read back as label %d (%v), labelled %d", i, order, got, ok, labels[i])
		}
	}
	tensor.Buffers.Put(tiles)
}

// The permutation set is a buffer of the state dict, so a loaded model
// keeps the puzzles it was trained on even if the selection changes.
func TestJigsawCheckpointKeepsPermutations(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	spec := pretextSpec("jigsaw", 16, `{"permutations":8,"hidden_dim":8}`)
	m, err := Build(spec, r)
	if err != nil {
		t.Fatal(err)
	}
	j := m.(*Jigsaw)
	if nn.StateDict("", m)["permutations"] != j.Perms {
		t.Fatal("the permutation set is not in the state dict")
	}
	// swap two puzzles: a loaded model must see the saved order, not a
	// fresh selection
	for k := 0; k < 9; k++ {
		j.Perms.Data[k], j.Perms.Data[9+k] = j.Perms.Data[9+k], j.Perms.Data[k]
	}
	want0 := j.Permutation(0)
	ck := &checkpoint.Checkpoint{Arch: "resnet-small", Method: "jigsaw", Model: nn.StateDict("", m)}
	if err := ck.SetConfig(map[string]any{"spec": spec}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ck")
	if err := checkpoint.Save(dir, ck); err != nil {
		t.Fatal(err)
	}
	loaded, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := loaded.(*Jigsaw).Permutation(0); got != want0 {
		t.Fatalf("loaded puzzle 0 is %v, saved %v", got, want0)
	}
}

// A damaged permutation buffer stops the step with an error the trainer
// can report, not an index panic.
func TestJigsawRejectsDamagedPermutations(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	m, err := Build(pretextSpec("jigsaw", 16, `{"permutations":8,"hidden_dim":8}`), r)
	if err != nil {
		t.Fatal(err)
	}
	j := m.(*Jigsaw)
	j.Perms.Data[9*3+4] = j.Perms.Data[9*3+5] // a repeated tile in puzzle 3
	x := tensor.New(2, 1, 16, 16)
	err = autograd.Guard(func() error {
		m.Loss(loader.Batch{Views: []*tensor.Tensor{x}}, r)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "permutation 3") {
		t.Fatalf("err = %v, want one naming permutation 3", err)
	}
}
