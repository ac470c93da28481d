package runlog

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMetricsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "metrics.jsonl")
	m, err := OpenMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	in := []Record{
		{Step: 100, Epoch: 1, Time: t0, Fields: []Field{{"loss", 2.25}, {"lr", 0.1}, {"acc", 0.125}}},
		{Step: 200, Epoch: 1, Time: t0.Add(time.Minute), Fields: []Field{{"loss", math.NaN()}, {"grad_norm", math.Inf(1)}, {"min", math.Inf(-1)}}},
		{Step: 300, Epoch: 2, Time: t0.Add(2 * time.Minute), Fields: []Field{{"lr", 1e-5}},
			Extra: map[string]any{"phase": "warmup", "ok": true}},
	}
	for _, r := range in {
		if err := m.LogRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Log(map[string]any{"step": 400, "time": t0, "val_acc": float32(0.75), "n": uint8(7), "note": "eval"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := m.LogRecord(Record{Step: 1}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("log after close: %v", err)
	}

	out, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 {
		t.Fatalf("read %d records, want 4", len(out))
	}
	for i, r := range in {
		got := out[i]
		if got.Step != r.Step || got.Epoch != r.Epoch || !got.Time.Equal(r.Time) {
			t.Errorf("record %d: step/epoch/time %d/%d/%v, want %d/%d/%v", i, got.Step, got.Epoch, got.Time, r.Step, r.Epoch, r.Time)
		}
		if len(got.Fields) != len(r.Fields) {
			t.Fatalf("record %d: fields %v, want %v", i, got.Fields, r.Fields)
		}
		for j, f := range r.Fields {
			g := got.Fields[j]
			if g.Name != f.Name || !(g.Value == f.Value || math.IsNaN(g.Value) && math.IsNaN(f.Value)) {
				t.Errorf("record %d field %d: %v, want %v", i, j, g, f)
			}
		}
	}
	if out[2].Extra["phase"] != "warmup" || out[2].Extra["ok"] != true {
		t.Errorf("extra values lost: %v", out[2].Extra)
	}
	last := out[3]
	if last.Step != 400 || !last.Time.Equal(t0) || last.Extra["note"] != "eval" {
		t.Errorf("map record: %+v", last)
	}
	// Map keys: step and time first, the rest sorted.
	names := []string{}
	for _, f := range last.Fields {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "n,val_acc" {
		t.Errorf("map field order %q, want n,val_acc", got)
	}
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if want := `{"step":100,"epoch":1,"time":"2026-03-04T05:06:07.890Z","loss":2.25,"lr":0.1,"acc":0.125}`; lines[0] != want {
		t.Errorf("line 1:\n got %s\nwant %s", lines[0], want)
	}
	if want := `{"step":400,"time":"2026-03-04T05:06:07.890Z","n":7,"note":"eval","val_acc":0.75}`; lines[3] != want {
		t.Errorf("line 4:\n got %s\nwant %s", lines[3], want)
	}

	steps, vals := Series(out, "lr")
	if len(steps) != 2 || steps[0] != 100 || steps[1] != 300 || vals[0] != 0.1 || vals[1] != 1e-5 {
		t.Errorf("Series(lr) = %v %v", steps, vals)
	}
}

func TestMetricsResumeAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	for run := 0; run < 3; run++ {
		m, err := OpenMetrics(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			if err := m.LogRecord(Record{Step: int64(run*5 + i), Fields: []Field{{"loss", 1}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 15 {
		t.Fatalf("%d records, want 15", len(recs))
	}
	for i, r := range recs {
		if r.Step != int64(i) {
			t.Fatalf("record %d has step %d", i, r.Step)
		}
		if r.Time.IsZero() {
			t.Fatalf("record %d has no time", i)
		}
	}
}

func TestMetricsTruncatedTail(t *testing.T) {
	good := `{"step":1,"loss":0.5}` + "\n" + `{"step":2,"loss":0.4}` + "\n"
	tests := []struct {
		name      string
		content   string
		wantRead  int // records ReadMetrics returns
		wantAfter int // records after reopening and logging one more
	}{
		{"clean", good, 2, 3},
		{"cut mid-line", good + `{"step":3,"lo`, 2, 3},
		{"zero-filled tail", good + "\x00\x00\x00\x00", 2, 3},
		{"whole last line without newline", good + `{"step":3,"loss":0.3}`, 3, 4},
		{"only a partial line", `{"st`, 0, 1},
		{"blank lines", "\n" + good + "\n\n", 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.jsonl")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			recs, err := ReadMetrics(path)
			if err != nil {
				t.Fatalf("ReadMetrics: %v", err)
			}
			if len(recs) != tt.wantRead {
				t.Fatalf("read %d records, want %d", len(recs), tt.wantRead)
			}
			m, err := OpenMetrics(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.LogRecord(Record{Step: 99, Fields: []Field{{"loss", 0.1}}}); err != nil {
				t.Fatal(err)
			}
			m.Close()
			recs, err = ReadMetrics(path)
			if err != nil {
				t.Fatalf("after append: %v", err)
			}
			if len(recs) != tt.wantAfter || recs[len(recs)-1].Step != 99 {
				t.Fatalf("after append: %d records (last %+v), want %d ending at step 99", len(recs), recs[len(recs)-1], tt.wantAfter)
			}
		})
	}
}

func TestReadMetricsErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"corrupt middle line", "{\"step\":1}\n{\"step\":2,\"lo\n{\"step\":3}\n", "metrics.jsonl:2: "},
		{"complete bad last line", "{\"step\":1}\n[1,2]\n", "metrics.jsonl:2: not a JSON object"},
		{"fractional step", "{\"step\":1.5}\n{\"step\":2}\n", "metrics.jsonl:1: step is 1.5"},
		{"bad time", "{\"step\":1,\"time\":\"yesterday\"}\n{}\n", "metrics.jsonl:1: time"},
		{"two objects", "{\"step\":1}{\"step\":2}\n{}\n", "metrics.jsonl:1: bad JSON: text after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.jsonl")
			os.WriteFile(path, []byte(tt.content), 0o644)
			_, err := ReadMetrics(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want one naming %s and containing %q", err, path, tt.want)
			}
		})
	}
	if _, err := ReadMetrics(filepath.Join(t.TempDir(), "missing.jsonl")); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestMetricsRejectsBadRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	m, err := OpenMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bad := []struct {
		name string
		log  func() error
		want string
	}{
		{"duplicate field", func() error { return m.LogRecord(Record{Fields: []Field{{"a", 1}, {"a", 2}}}) }, "twice"},
		{"reserved field", func() error { return m.LogRecord(Record{Fields: []Field{{"step", 1}}}) }, "reserved"},
		{"empty name", func() error { return m.LogRecord(Record{Fields: []Field{{"", 1}}}) }, "empty name"},
		{"field and extra", func() error {
			return m.LogRecord(Record{Fields: []Field{{"a", 1}}, Extra: map[string]any{"a": "x"}})
		}, "both"},
		{"fractional step in map", func() error { return m.Log(map[string]any{"step": 1.5}) }, "step is 1.5"},
		{"unencodable value", func() error { return m.Log(map[string]any{"f": func() {}}) }, `value of "f"`},
	}
	for _, b := range bad {
		if err := b.log(); err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want one naming the file and containing %q", b.name, err, b.want)
		}
	}
	if err := m.Log(map[string]any{"step": 3, "loss": math.NaN()}); err != nil {
		t.Fatal(err)
	}
	m.Sync()
	recs, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Step != 3 {
		t.Fatalf("rejected records were written: %+v", recs)
	}
}

func TestMetricsSyncPolicy(t *testing.T) {
	clk := newFakeClock()
	m, err := OpenMetrics(filepath.Join(t.TempDir(), "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.now = clk.Now
	m.lastSync = clk.Now()
	for i := 1; i < SyncEveryLines; i++ {
		m.LogRecord(Record{Step: int64(i)})
	}
	if m.pending != SyncEveryLines-1 {
		t.Fatalf("pending = %d before the batch is full", m.pending)
	}
	m.LogRecord(Record{Step: 100})
	if m.pending != 0 {
		t.Fatalf("no fsync after %d lines", SyncEveryLines)
	}
	m.LogRecord(Record{Step: 101})
	clk.Advance(SyncEveryInterval)
	m.LogRecord(Record{Step: 102})
	if m.pending != 0 {
		t.Fatalf("no fsync after %v", SyncEveryInterval)
	}
}
