//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"selfsup/checkpoint"
)

// TestPretrainInterrupt runs pretrain in a subprocess (this test binary
// acting as the command, see TestMain), sends it SIGINT once it has logged a
// step, and expects a clean exit with a checkpoint that --resume continues.
func TestPretrainInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	dir := filepath.Join(t.TempDir(), "run")
	common := []string{"pretrain", "--data", "mnist", "--subset", "256", "--batch", "32", "--out", dir, "--quiet"}
	cmd := exec.Command(os.Args[0], append(common, "--steps", "1000")...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	running := true
	defer func() {
		if running {
			cmd.Process.Kill()
			<-exited
		}
	}()

	// Wait for the first logged step.
	deadline := time.After(60 * time.Second)
	for logged := false; !logged; {
		select {
		case err := <-exited:
			running = false
			t.Fatalf("pretrain exited before the interrupt (%v)\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
		case <-deadline:
			t.Fatalf("no step logged in 60 s\nstderr: %s", &stderr)
		case <-time.After(20 * time.Millisecond):
			b, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
			logged = bytes.Contains(b, []byte(`"loss"`))
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		running = false
		if err != nil {
			t.Fatalf("pretrain after SIGINT: %v (want exit 0)\nstderr: %s", err, &stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("pretrain did not stop within 60 s of SIGINT\nstderr: %s", &stderr)
	}

	// "interrupted at step N; checkpoint saved in DIR; ..."
	msg := stderr.String()
	_, after, ok := strings.Cut(msg, "interrupted at step ")
	var step int64
	if ok {
		_, err := fmt.Sscanf(after, "%d", &step)
		ok = err == nil
	}
	if !ok || step < 1 || step >= 1000 {
		t.Fatalf("stderr does not report the interrupted step:\n%s", msg)
	}
	if !strings.Contains(msg, checkpoint.StepDir(dir, step)) || !strings.Contains(msg, "--resume") {
		t.Errorf("stderr should name the checkpoint %s and --resume:\n%s", checkpoint.StepDir(dir, step), msg)
	}
	if name, got := latestStep(t, dir); got != step {
		t.Fatalf("latest checkpoint %s is at step %d, want the interrupted step %d", name, got, step)
	}
	wantSteps(t, lossSteps(t, dir), step)

	// Resume for two more steps.
	target := step + 2
	out, _ := mustCLI(t, append(common, "--steps", strconv.FormatInt(target, 10), "--resume", "--json")...)
	res := decodeJSON(t, out)
	if res["steps"] != float64(target) || res["interrupted"] != false {
		t.Errorf("resumed run: %v, want %d steps", res, target)
	}
	if _, got := latestStep(t, dir); got != target {
		t.Errorf("after resuming the latest checkpoint is at step %d, want %d", got, target)
	}
	wantSteps(t, lossSteps(t, dir), target)
}
