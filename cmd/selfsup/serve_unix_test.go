//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServeShutdown runs `selfsup serve` in a subprocess, queries it over
// loopback, then sends SIGTERM and expects a clean exit.
func TestServeShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	dir := t.TempDir()
	ck := encoderCheckpoint(t, filepath.Join(dir, "ck"), 1)
	bin := filepath.Join(dir, "emb.bin")
	mustCLI(t, "embed", "--ckpt", ck, "--data", "mnist", "--subset", "100", "--out", bin, "--quiet")
	idx := filepath.Join(dir, "emb.idx")
	mustCLI(t, "index", "build", "--embeddings", bin, "--out", idx)
	model := filepath.Join(dir, "probe")
	mustCLI(t, "classify-train", "--ckpt", ck, "--data", "mnist", "--subset", "500", "--per-class", "3", "--out", model, "--quiet")

	cmd := exec.Command(os.Args[0], "serve", "--ckpt", ck, "--index", idx, "--classifier", model, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr syncBuffer
	cmd.Stderr = &stderr
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
	re := regexp.MustCompile(`serving (http://\S+)/`)
	var base string
	for deadline := time.Now().Add(60 * time.Second); base == ""; {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the server did not start:\n%s", &stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	img, _ := os.ReadFile(mnistPNG(t, dir, 3))
	resp, err := http.Post(base+"/classify", "image/png", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(v["predictions"].([]any)) != 10 {
		t.Fatalf("classify: %d %v", resp.StatusCode, v)
	}
	resp, err = http.Post(base+"/search", "application/json", strings.NewReader(`{"id": "7", "k": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(v["neighbors"].([]any)) != 5 {
		t.Fatalf("search: %d %v", resp.StatusCode, v)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		running = false
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, &stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30 s of SIGTERM\n%s", &stderr)
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("stderr: %s", &stderr)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
