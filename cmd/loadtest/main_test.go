package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// The tool must account for every request: successes with latencies,
// failures by status code, and an error exit when any failed.
func TestAccounting(t *testing.T) {
	var served atomic.Int64
	var failEvery atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := served.Add(1)
		if f := failEvery.Load(); f > 0 && n%f == 0 {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer ts.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.png"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("y"), 0o644)

	var out bytes.Buffer
	err := run([]string{"--url", ts.URL, "--images", dir, "--clients", "4", "--duration", "300ms", "--warmup", "0", "--json"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res["sent"] != res["ok"] || res["ok"].(float64) < 4 || res["lost"] != 0.0 || res["images"] != 1.0 || float64(served.Load()) != res["sent"] {
		t.Errorf("result %v, server saw %d", res, served.Load())
	}
	failEvery.Store(3)
	out.Reset()
	err = run([]string{"--url", ts.URL, "--images", dir, "--clients", "2", "--duration", "200ms", "--warmup", "0"}, &out)
	if err == nil || !strings.Contains(err.Error(), "failed") || !strings.Contains(out.String(), "failed") {
		t.Errorf("with failing requests: %v\n%s", err, &out)
	}
}
