package runlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// RunDirMode says what PrepareRunDir may do with a directory that already
// holds an earlier run.
type RunDirMode int

const (
	// NewRun refuses a directory that exists and is not empty.
	NewRun RunDirMode = iota
	// ResumeRun keeps what the directory holds, so the run can continue.
	ResumeRun
	// ForceRun deletes what the directory holds and starts over.
	ForceRun
)

// String returns the flag that selects the mode.
func (m RunDirMode) String() string {
	switch m {
	case NewRun:
		return "new"
	case ResumeRun:
		return "--resume"
	case ForceRun:
		return "--force"
	}
	return fmt.Sprintf("RunDirMode(%d)", int(m))
}

// ModeFromFlags turns the CLI's --resume and --force flags into a mode;
// both at once is an error.
func ModeFromFlags(resume, force bool) (RunDirMode, error) {
	switch {
	case resume && force:
		return NewRun, errors.New("--resume and --force contradict each other: choose one")
	case resume:
		return ResumeRun, nil
	case force:
		return ForceRun, nil
	}
	return NewRun, nil
}

// RunDirExistsError is returned by PrepareRunDir in NewRun mode when the
// directory already holds something. Its message tells the user what to do.
type RunDirExistsError struct {
	// Dir is the directory as given.
	Dir string
	// Detail describes what the directory holds, e.g. "holds a checkpoint
	// at step 1200"; empty when unknown.
	Detail string
}

// Error says that the directory is taken and which flag to use.
func (e *RunDirExistsError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s exists (%s); use --resume to continue it or --force to overwrite", e.Dir, e.Detail)
	}
	return fmt.Sprintf("%s exists and is not empty; use --resume to continue the run or --force to start over", e.Dir)
}

// RunDirOption adjusts PrepareRunDir.
type RunDirOption func(*runDirConfig)

type runDirConfig struct {
	describe func(dir string) string
}

// WithDescribe supplies a function that says what a non-empty run
// directory holds (for instance the checkpoint package reporting the last
// step), so that the refusal can say it too. An empty answer keeps the
// generic message.
func WithDescribe(describe func(dir string) string) RunDirOption {
	return func(c *runDirConfig) { c.describe = describe }
}

// PrepareRunDir makes dir ready for a run and reports whether it kept an
// earlier run's files (only in ResumeRun mode, and only when there were
// any). A missing directory is created; an empty one is used as is. A
// non-empty one is refused with a *RunDirExistsError in NewRun mode, kept
// in ResumeRun mode, and emptied in ForceRun mode (which refuses to empty
// the current directory, one of its parents, the home directory or the
// filesystem root).
func PrepareRunDir(dir string, mode RunDirMode, opts ...RunDirOption) (resumed bool, err error) {
	var cfg runDirConfig
	for _, o := range opts {
		o(&cfg)
	}
	if dir == "" {
		return false, errors.New("run directory: empty path")
	}
	if mode < NewRun || mode > ForceRun {
		return false, fmt.Errorf("run directory %s: unknown mode %v", dir, mode)
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("run directory: %w", err)
		}
		return false, nil
	case err != nil:
		return false, fmt.Errorf("run directory: %w", err)
	case !st.IsDir():
		return false, fmt.Errorf("run directory %s exists and is not a directory", dir)
	}
	empty, err := isEmptyDir(dir)
	if err != nil {
		return false, fmt.Errorf("run directory: %w", err)
	}
	if empty {
		return false, nil
	}
	switch mode {
	case ResumeRun:
		return true, nil
	case ForceRun:
		return false, clearDir(dir)
	}
	e := &RunDirExistsError{Dir: dir}
	if cfg.describe != nil {
		e.Detail = cfg.describe(dir)
	}
	return false, e
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

// clearDir removes everything inside dir but keeps dir itself.
func clearDir(dir string) error {
	if err := refuseToClear(dir); err != nil {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("run directory %s: --force could not remove the old run: %w", dir, err)
		}
	}
	return nil
}

// refuseToClear guards --force against a mistyped directory that would
// wipe far more than a run.
func refuseToClear(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("run directory %s: %w", dir, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	bad := ""
	if abs == filepath.VolumeName(abs)+string(filepath.Separator) {
		bad = "the filesystem root"
	}
	if home, err := os.UserHomeDir(); err == nil && bad == "" {
		if h, err := filepath.EvalSymlinks(home); err == nil && h == abs {
			bad = "your home directory"
		}
	}
	if wd, err := os.Getwd(); err == nil && bad == "" {
		if w, err := filepath.EvalSymlinks(wd); err == nil {
			wd = w
		}
		if wd == abs || strings.HasPrefix(wd, abs+string(filepath.Separator)) {
			bad = "the current directory or one of its parents"
		}
	}
	if bad != "" {
		return fmt.Errorf("run directory %s is %s; refusing to delete its contents with --force", dir, bad)
	}
	return nil
}
