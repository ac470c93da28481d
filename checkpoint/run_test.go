package checkpoint

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func TestSaveStepKeepsLastK(t *testing.T) {
	cases := []struct {
		keep  int
		steps []int64
		want  []string
	}{
		{0, []int64{10, 20, 30, 40}, []string{"step-000000030", "step-000000040"}},
		{1, []int64{10, 20, 30}, []string{"step-000000030"}},
		{3, []int64{10, 20, 30, 40, 50}, []string{"step-000000030", "step-000000040", "step-000000050"}},
		{-1, []int64{10, 20, 30}, []string{"step-000000010", "step-000000020", "step-000000030"}},
		// Resuming from an earlier step: the newest save is kept even though
		// its step is lower than older ones.
		{1, []int64{10, 20, 15}, []string{"step-000000015"}},
		{2, []int64{10, 20, 15}, []string{"step-000000015", "step-000000020"}},
		// Saving the same step twice replaces it.
		{2, []int64{10, 10}, []string{"step-000000010"}},
	}
	for _, c := range cases {
		run := t.TempDir()
		var last string
		for _, s := range c.steps {
			dir, err := SaveStep(run, sampleCheckpoint(s), c.keep)
			if err != nil {
				t.Fatal(err)
			}
			last = dir
		}
		all, err := List(run)
		if err != nil {
			t.Fatal(err)
		}
		if got := baseNames(all); !slices.Equal(got, c.want) {
			t.Errorf("keep %d, steps %v: kept %v, want %v", c.keep, c.steps, got, c.want)
		}
		latest, err := LatestIn(run)
		if err != nil || latest != last {
			t.Errorf("keep %d, steps %v: latest %q (%v), want %q", c.keep, c.steps, latest, err, last)
		}
		ck, err := Load(latest)
		if err != nil || ck.Step != c.steps[len(c.steps)-1] {
			t.Errorf("loading latest: %v, %v", ck, err)
		}
	}
}

func TestLatestInFallsBack(t *testing.T) {
	run := t.TempDir()
	for _, s := range []int64{5, 7} {
		if _, err := SaveStep(run, sampleCheckpoint(s), -1); err != nil {
			t.Fatal(err)
		}
	}
	want := filepath.Join(run, "step-000000007")
	pointers := map[string]string{
		"missing":           "",
		"names a lost step": "step-000000099\n",
		"path traversal":    "../../etc\n",
		"garbage":           "hello",
	}
	for name, content := range pointers {
		p := filepath.Join(run, LatestFile)
		os.Remove(p)
		if content != "" {
			os.WriteFile(p, []byte(content), 0o644)
		}
		if got, err := LatestIn(run); err != nil || got != want {
			t.Errorf("%s: LatestIn = %q, %v; want %q", name, got, err, want)
		}
	}
	// Incomplete or foreign directories are not checkpoints.
	os.MkdirAll(filepath.Join(run, "step-000000100"), 0o755)
	os.MkdirAll(filepath.Join(run, ".step-000000200.tmp-1"), 0o755)
	os.MkdirAll(filepath.Join(run, "step-3x"), 0o755)
	if got, err := LatestIn(run); err != nil || got != want {
		t.Errorf("with debris: LatestIn = %q, %v; want %q", got, err, want)
	}
	if _, err := SaveStep(run, sampleCheckpoint(8), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(run, ".step-000000200.tmp-1")); !os.IsNotExist(err) {
		t.Error("a stale temporary directory survived pruning")
	}
}

func TestLatestInEmpty(t *testing.T) {
	run := t.TempDir()
	if _, err := LatestIn(run); err == nil || !strings.Contains(err.Error(), "no checkpoint in "+run) {
		t.Errorf("err = %v", err)
	}
	if _, err := LatestIn(filepath.Join(run, "nope")); err == nil {
		t.Error("missing run directory: no error")
	}
}
