package checkpoint

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"selfsup/internal/atomicfile"
)

// DefaultKeep is how many checkpoints SaveStep keeps in a run directory when
// asked to keep 0: the newest, and one before it in case the newest turns
// out to be bad (a diverged loss, say).
const DefaultKeep = 2

// LatestFile names the file in a run directory that holds the name of the
// newest checkpoint's step directory.
const LatestFile = "latest"

const stepPrefix = "step-"

// StepDir returns the directory SaveStep uses for a step in runDir,
// e.g. runs/x/step-000001000.
func StepDir(runDir string, step int64) string {
	return filepath.Join(runDir, fmt.Sprintf("%s%09d", stepPrefix, step))
}

// SaveStep saves ck into StepDir(runDir, ck.Step) with Save, then atomically
// points runDir/latest at it, then prunes the run to the newest keep
// checkpoints (keep 0 means DefaultKeep, a negative keep keeps all). It
// returns the checkpoint's directory. A crash at any point leaves latest
// naming a complete checkpoint (the previous one or the new one). When only
// the pruning fails, the returned directory is valid and the error says what
// could not be removed.
func SaveStep(runDir string, ck *Checkpoint, keep int) (string, error) {
	if ck != nil && ck.Step < 0 {
		return "", fmt.Errorf("save checkpoint in %s: negative step %d", runDir, ck.Step)
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return "", fmt.Errorf("save checkpoint in %s: %w", runDir, err)
	}
	var step int64
	if ck != nil {
		step = ck.Step
	}
	dir := StepDir(runDir, step)
	if err := Save(dir, ck); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(runDir, LatestFile), []byte(filepath.Base(dir)+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	if err := Prune(runDir, keep); err != nil {
		return dir, err
	}
	return dir, nil
}

// List returns the complete checkpoints (step directories holding a
// meta.json) in runDir, oldest step first.
func List(runDir string) ([]string, error) {
	entries, err := os.ReadDir(runDir)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	type stepDir struct {
		step int64
		path string
	}
	var found []stepDir
	for _, e := range entries {
		step, ok := parseStepDir(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		p := filepath.Join(runDir, e.Name())
		if _, err := os.Stat(filepath.Join(p, MetaFile)); err == nil {
			found = append(found, stepDir{step, p})
		}
	}
	slices.SortFunc(found, func(a, b stepDir) int { return cmp.Compare(a.step, b.step) })
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.path
	}
	return out, nil
}

// parseStepDir recognises "step-<digits>" and returns the step.
func parseStepDir(name string) (int64, bool) {
	digits, ok := strings.CutPrefix(name, stepPrefix)
	if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}

// LatestIn returns the directory of the newest complete checkpoint in
// runDir: the one the latest file names, or, when that file is missing or
// names no complete checkpoint, the highest step found by List. It fails
// when runDir holds no checkpoint.
func LatestIn(runDir string) (string, error) {
	if dir, ok := latestPointer(runDir); ok {
		return dir, nil
	}
	all, err := List(runDir)
	if err != nil {
		return "", err
	}
	if len(all) == 0 {
		return "", fmt.Errorf("no checkpoint in %s", runDir)
	}
	return all[len(all)-1], nil
}

// latestPointer reads runDir/latest and returns the checkpoint it names, if
// that name is a plain step directory holding a complete checkpoint (or its
// .old copy, see Save).
func latestPointer(runDir string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(runDir, LatestFile))
	if err != nil {
		return "", false
	}
	name := strings.TrimSpace(string(b))
	if _, ok := parseStepDir(name); !ok {
		return "", false
	}
	dir := resolveDir(filepath.Join(runDir, name))
	if _, err := os.Stat(filepath.Join(dir, MetaFile)); err != nil {
		return "", false
	}
	return dir, true
}

// Prune removes all but the newest keep checkpoints of runDir (keep 0 means
// DefaultKeep, a negative keep removes none), never the one latest names,
// and clears leftovers of interrupted saves.
func Prune(runDir string, keep int) error {
	if keep == 0 {
		keep = DefaultKeep
	}
	entries, err := os.ReadDir(runDir)
	if err != nil {
		return fmt.Errorf("prune checkpoints: %w", err)
	}
	latest, _ := latestPointer(runDir)
	for _, e := range entries {
		// Temporary directories of interrupted saves; .old copies are
		// stale once the step directory itself is complete again.
		name := e.Name()
		if strings.HasPrefix(name, "."+stepPrefix) && strings.Contains(name, ".tmp-") {
			os.RemoveAll(filepath.Join(runDir, name))
		}
		if base, ok := strings.CutSuffix(name, ".old"); ok && strings.HasPrefix(base, stepPrefix) {
			if _, err := os.Stat(filepath.Join(runDir, base, MetaFile)); err == nil {
				os.RemoveAll(filepath.Join(runDir, name))
			}
		}
	}
	if keep < 0 {
		return nil
	}
	all, err := List(runDir)
	if err != nil {
		return err
	}
	var errs []error
	kept := 0
	for i := len(all) - 1; i >= 0; i-- {
		if all[i] == latest {
			continue // always kept, counted below
		}
		if kept < keep-boolInt(latest != "") {
			kept++
			continue
		}
		if err := os.RemoveAll(all[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prune checkpoints in %s: %w", runDir, err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
