// Command loadtest drives a `selfsup serve` instance from a separate
// process: N concurrent clients post images to one endpoint for a fixed
// time, and it reports throughput, latency percentiles, failures and,
// given the server's PID, its resident memory before, during and after.
//
// Usage:
//
//	loadtest --url http://127.0.0.1:8080 --images DIR [--endpoint /search]
//	         [--clients 64] [--duration 30s] [--warmup 3s] [--pid PID] [--json]
//
// Every request is accounted for: a request counts as lost when it was
// sent and got no HTTP response (connection error, timeout); any status
// other than 200 counts as failed. The exit status is 1 if any request was
// lost or failed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// stats collects what the clients observe.
type stats struct {
	mu      sync.Mutex
	lat     []float64 // milliseconds, successful requests
	codes   map[int]int
	lost    int
	lostMsg string
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	endpoint := fs.String("endpoint", "/search", "endpoint to post images to (/search, /embed, /classify)")
	images := fs.String("images", "", "a folder of images (or one image file) to post, round-robin")
	clients := fs.Int("clients", 64, "concurrent clients")
	duration := fs.Duration("duration", 30*time.Second, "how long to send requests")
	warmup := fs.Duration("warmup", 3*time.Second, "requests before measuring (not counted)")
	pid := fs.Int("pid", 0, "server process ID, to sample its resident memory (Linux /proc)")
	limit := fs.Int("max-images", 1000, "images loaded at most")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *images == "" || *clients <= 0 || *duration <= 0 {
		return errors.New("--images is required, --clients and --duration must be positive")
	}
	bodies, err := loadImages(*images, *limit)
	if err != nil {
		return err
	}
	target := strings.TrimRight(*base, "/") + *endpoint
	client := &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConns: *clients, MaxIdleConnsPerHost: *clients, IdleConnTimeout: time.Minute},
	}
	rss := func() float64 { return rssMiB(*pid, "VmRSS") }

	// warm up (caches, connection pool, the server's buffer pools)
	if *warmup > 0 {
		var w stats
		w.codes = map[int]int{}
		drive(client, target, bodies, *clients, *warmup, &w)
	}
	before := rss()
	var st stats
	st.codes = map[int]int{}
	var peak atomic.Uint64
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // sample memory once a second
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if v := rss(); v > math.Float64frombits(peak.Load()) {
					peak.Store(math.Float64bits(v))
				}
			}
		}
	}()
	start := time.Now()
	sent := drive(client, target, bodies, *clients, *duration, &st)
	elapsed := time.Since(start).Seconds()
	cancel()
	after := rss()
	slices.Sort(st.lat)
	pct := func(p float64) float64 {
		if len(st.lat) == 0 {
			return math.NaN()
		}
		return st.lat[min(len(st.lat)-1, max(0, int(math.Ceil(p*float64(len(st.lat))))-1))]
	}
	ok := st.codes[200]
	failed := 0
	for c, n := range st.codes {
		if c != 200 {
			failed += n
		}
	}
	res := map[string]any{
		"url": target, "clients": *clients, "seconds": elapsed, "sent": sent, "ok": ok, "failed": failed, "lost": st.lost,
		"requests_per_second": float64(ok) / elapsed,
		"latency_ms_p50":      pct(0.50), "latency_ms_p90": pct(0.90), "latency_ms_p99": pct(0.99), "latency_ms_max": pct(1),
		"status_codes": st.codes, "images": len(bodies),
	}
	if *pid > 0 {
		res["rss_mib_before"], res["rss_mib_after"], res["rss_mib_peak_sampled"] = before, after, math.Max(math.Float64frombits(peak.Load()), after)
		res["rss_mib_high_water"] = rssMiB(*pid, "VmHWM")
	}
	for k, v := range res { // JSON has no NaN: unknown values become null
		if f, ok := v.(float64); ok && math.IsNaN(f) {
			res[k] = nil
		}
	}
	if *jsonOut {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "%s: %d clients for %.1fs: %d requests sent, %d ok, %d failed, %d lost\n", target, *clients, elapsed, sent, ok, failed, st.lost)
		fmt.Fprintf(stdout, "throughput %.1f requests/s; latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			float64(ok)/elapsed, pct(0.5), pct(0.9), pct(0.99), pct(1))
		if *pid > 0 {
			fmt.Fprintf(stdout, "server RSS: %.0f MiB before, %.0f MiB after, %.0f MiB peak sampled, high-water mark %.0f MiB\n",
				before, after, res["rss_mib_peak_sampled"], res["rss_mib_high_water"])
		}
		if st.lostMsg != "" {
			fmt.Fprintf(stdout, "first lost request: %s\n", st.lostMsg)
		}
	}
	if st.lost > 0 || failed > 0 {
		return fmt.Errorf("%d requests lost, %d failed", st.lost, failed)
	}
	return nil
}

// drive runs the clients for d and returns how many requests were sent;
// each request sent ends up in st (a status code or lost).
func drive(client *http.Client, target string, bodies [][]byte, clients int, d time.Duration, st *stats) int {
	deadline := time.Now().Add(d)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; time.Now().Before(deadline); i += clients {
				body := bodies[i%len(bodies)]
				sent.Add(1)
				t0 := time.Now()
				resp, err := client.Post(target, "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					st.mu.Lock()
					st.lost++
					if st.lostMsg == "" {
						st.lostMsg = err.Error()
					}
					st.mu.Unlock()
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ms := float64(time.Since(t0).Microseconds()) / 1000
				st.mu.Lock()
				if err != nil {
					st.lost++
				} else {
					st.codes[resp.StatusCode]++
					if resp.StatusCode == 200 {
						st.lat = append(st.lat, ms)
					}
				}
				st.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return int(sent.Load())
}

// loadImages reads the image files under path (or path itself).
func loadImages(path string, limit int) ([][]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var files []string
	if !st.IsDir() {
		files = []string{path}
	} else {
		filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && len(files) < limit {
				switch strings.ToLower(filepath.Ext(p)) {
				case ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp":
					files = append(files, p)
				}
			}
			return nil
		})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no image files", path)
	}
	out := make([][]byte, len(files))
	for i, f := range files {
		if out[i], err = os.ReadFile(f); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rssMiB reads a memory field (VmRSS, VmHWM) of a process from
// /proc/PID/status, in MiB; NaN when unavailable.
func rssMiB(pid int, field string) float64 {
	if pid <= 0 {
		return math.NaN()
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return math.NaN()
}
