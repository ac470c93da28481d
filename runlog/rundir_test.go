package runlog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareRunDir(t *testing.T) {
	type setup int
	const (
		missing setup = iota
		empty
		full
		file
	)
	tests := []struct {
		name        string
		setup       setup
		mode        RunDirMode
		describe    func(string) string
		wantResumed bool
		wantErr     string
		wantKept    bool // the old file is still there
	}{
		{"missing dir is created", missing, NewRun, nil, false, "", false},
		{"empty dir is used", empty, NewRun, nil, false, "", false},
		{"resume with nothing to resume", empty, ResumeRun, nil, false, "", false},
		{"non-empty dir is refused", full, NewRun, nil, false,
			"exists and is not empty; use --resume to continue the run or --force to start over", true},
		{"refusal says what the dir holds", full, NewRun, func(string) string { return "holds a checkpoint at step 1200" }, false,
			"exists (holds a checkpoint at step 1200); use --resume to continue it or --force to overwrite", true},
		{"resume keeps the files", full, ResumeRun, nil, true, "", true},
		{"force empties the dir", full, ForceRun, nil, false, "", false},
		{"a file is not a run dir", file, ResumeRun, nil, false, "exists and is not a directory", false},
		{"bad mode", empty, RunDirMode(7), nil, false, "unknown mode", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "runs", "x")
			old := filepath.Join(dir, "sub", "metrics.jsonl")
			switch tt.setup {
			case empty:
				os.MkdirAll(dir, 0o755)
			case full:
				os.MkdirAll(filepath.Dir(old), 0o755)
				os.WriteFile(old, []byte("{}\n"), 0o644)
			case file:
				os.MkdirAll(filepath.Dir(dir), 0o755)
				os.WriteFile(dir, nil, 0o644)
			}
			var opts []RunDirOption
			if tt.describe != nil {
				opts = append(opts, WithDescribe(tt.describe))
			}
			resumed, err := PrepareRunDir(dir, tt.mode, opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("err = %v, want one naming %s and containing %q", err, dir, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if resumed != tt.wantResumed {
				t.Errorf("resumed = %v, want %v", resumed, tt.wantResumed)
			}
			if _, err := os.Stat(old); (err == nil) != tt.wantKept {
				t.Errorf("old file kept = %v, want %v", err == nil, tt.wantKept)
			}
			if tt.wantErr == "" {
				if st, err := os.Stat(dir); err != nil || !st.IsDir() {
					t.Errorf("run dir missing afterwards: %v", err)
				}
			}
		})
	}
}

func TestRunDirExistsErrorType(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	_, err := PrepareRunDir(dir, NewRun)
	var e *RunDirExistsError
	if !errors.As(err, &e) || e.Dir != dir {
		t.Fatalf("err = %#v, want a *RunDirExistsError for %s", err, dir)
	}
}

func TestForceRefusesCurrentDirAndParents(t *testing.T) {
	base := t.TempDir()
	inner := filepath.Join(base, "a", "b")
	os.MkdirAll(inner, 0o755)
	keep := filepath.Join(base, "a", "keep.txt")
	os.WriteFile(keep, nil, 0o644)
	os.WriteFile(filepath.Join(inner, "keep.txt"), nil, 0o644)
	t.Chdir(inner)
	for _, dir := range []string{".", "..", filepath.Join(base, "a")} {
		_, err := PrepareRunDir(dir, ForceRun)
		if err == nil || !strings.Contains(err.Error(), "current directory") {
			t.Errorf("force %s: err = %v, want a refusal", dir, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("force deleted a parent's files: %v", err)
	}
	// Checked on the guard itself: a bug here must not delete anything.
	if err := refuseToClear("/"); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf("guard let / through: %v", err)
	}
	if home, err := os.UserHomeDir(); err == nil {
		if err := refuseToClear(home); err == nil {
			t.Errorf("guard let the home directory %s through", home)
		}
	}
}

func TestModeFromFlags(t *testing.T) {
	tests := []struct {
		resume, force bool
		want          RunDirMode
		wantErr       bool
	}{
		{false, false, NewRun, false},
		{true, false, ResumeRun, false},
		{false, true, ForceRun, false},
		{true, true, NewRun, true},
	}
	for _, tt := range tests {
		got, err := ModeFromFlags(tt.resume, tt.force)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ModeFromFlags(%v, %v) = %v, %v", tt.resume, tt.force, got, err)
		}
	}
}
