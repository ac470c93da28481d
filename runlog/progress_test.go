package runlog

import (
	"bytes"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockedBuffer is a bytes.Buffer safe for the concurrency test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func TestProgressTerminalLine(t *testing.T) {
	clk := newFakeClock()
	var buf bytes.Buffer
	p := NewProgress(&buf, 2700, "train", WithTerminal(true), WithClock(clk.Now), WithBarWidth(10))

	clk.Advance(100 * time.Second)
	p.Set(1234)
	// First sample: 1234 items in 100 s = 12.34 it/s; ETA 1466/12.34 = 118.8 s.
	want := "\rtrain [====>     ] 45% 1234/2700 12.3 it/s elapsed 1m40s ETA 1m59s\x1b[K"
	if got := buf.String(); got != want {
		t.Fatalf("first draw:\n got %q\nwant %q", got, want)
	}

	// Within the redraw interval nothing is written.
	buf.Reset()
	p.SetFields(F("loss", 0.523), F("lr", 0.1))
	clk.Advance(50 * time.Millisecond)
	p.Add(1)
	if buf.Len() != 0 {
		t.Fatalf("redrew after 50ms: %q", buf.String())
	}

	// After it, the line is redrawn with the fields in the order they were set.
	clk.Advance(60 * time.Millisecond)
	p.SetFields(F("lr", 0.05), F("loss", 0.5))
	p.Add(1)
	got := buf.String()
	if !strings.HasPrefix(got, "\rtrain [====>     ] 45% 1236/2700 ") || !strings.HasSuffix(got, " loss=0.5 lr=0.05\x1b[K") {
		t.Fatalf("second draw: %q", got)
	}
	if strings.Contains(got, "\n") {
		t.Fatalf("terminal redraw contains a newline: %q", got)
	}

	buf.Reset()
	clk.Advance(120 * time.Second)
	p.Set(2700)
	buf.Reset()
	p.Finish()
	want = "\rtrain done 2700/2700 in 3m40s (mean 12.3 it/s) loss=0.5 lr=0.05\x1b[K\n"
	if got := buf.String(); got != want {
		t.Fatalf("finish:\n got %q\nwant %q", got, want)
	}
	buf.Reset()
	p.Finish()
	clk.Advance(time.Second)
	p.Add(1)
	if buf.Len() != 0 {
		t.Fatalf("output after Finish: %q", buf.String())
	}
}

func TestProgressPlainLines(t *testing.T) {
	clk := newFakeClock()
	var buf bytes.Buffer
	p := NewProgress(&buf, 100, "eval", WithTerminal(false), WithClock(clk.Now), WithUnit("img/s"))

	steps := []struct {
		advance   time.Duration
		add       int64
		wantLines int
	}{
		{time.Second, 5, 0},            // 5%: nothing yet
		{time.Second, 5, 1},            // 10%: a tenth is done
		{time.Second, 1, 1},            // 11%, 3 s: nothing new
		{5 * time.Second, 1, 1},        // 12%, 8 s
		{5 * time.Second, 1, 2},        // 13%, 13 s: 10 s since the last line
		{time.Second, 20, 3},           // 33%: crosses 20% and 30% at once, one line
		{time.Second, 1, 3},            // 34%
		{100 * time.Millisecond, 6, 4}, // 40%
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		p.Add(s.add)
		if got := strings.Count(buf.String(), "\n"); got != s.wantLines {
			t.Fatalf("step %d: %d lines, want %d:\n%s", i, got, s.wantLines, buf.String())
		}
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	// 10 images in 2 s.
	if want := "eval 10% 10/100 5.00 img/s elapsed 2s ETA 18s"; lines[0] != want {
		t.Fatalf("first line:\n got %q\nwant %q", lines[0], want)
	}
	for _, l := range lines {
		if strings.ContainsAny(l, "\r[\x1b") {
			t.Fatalf("plain line has terminal control or a bar: %q", l)
		}
		if !strings.HasPrefix(l, "eval ") || !strings.Contains(l, " img/s elapsed ") {
			t.Fatalf("malformed line %q", l)
		}
	}
	buf.Reset()
	p.Finish()
	if got, want := buf.String(), "eval stopped at 40/100 (40%) in 15s (mean 2.65 img/s)\n"; got != want {
		t.Fatalf("finish:\n got %q\nwant %q", got, want)
	}
}

func TestProgressRateAndETA(t *testing.T) {
	clk := newFakeClock()
	p := NewProgress(io.Discard, 1000, "", WithTerminal(true), WithClock(clk.Now), WithSmoothing(5*time.Second))
	if r := p.Rate(); !math.IsNaN(r) {
		t.Fatalf("rate before any sample = %v, want NaN", r)
	}
	if _, ok := p.ETA(); ok {
		t.Fatal("ETA known before any sample")
	}
	clk.Advance(2 * time.Second)
	p.Add(100) // 50/s
	if r := p.Rate(); math.Abs(r-50) > 1e-9 {
		t.Fatalf("first rate %v, want 50", r)
	}
	clk.Advance(5 * time.Second)
	p.Add(100) // 20/s over one time constant
	want := 50 + (1-math.Exp(-1))*(20-50)
	if r := p.Rate(); math.Abs(r-want) > 1e-9 {
		t.Fatalf("smoothed rate %v, want %v", r, want)
	}
	eta, ok := p.ETA()
	if wantETA := 800 / want; !ok || math.Abs(eta.Seconds()-wantETA) > 1e-6 {
		t.Fatalf("ETA %v %v, want %vs", eta, ok, wantETA)
	}
	// The weight of a sample depends on the time it covers, not on how
	// many calls made it: ten calls over 5 s give the same rate as one.
	q := NewProgress(io.Discard, 1000, "", WithTerminal(true), WithClock(clk.Now), WithSmoothing(5*time.Second))
	clk.Advance(2 * time.Second)
	q.Add(100)
	for range 10 {
		clk.Advance(500 * time.Millisecond)
		q.Add(10)
	}
	if r := q.Rate(); math.Abs(r-want) > 1e-9 {
		t.Fatalf("rate from ten samples %v, want %v", r, want)
	}
}

func TestProgressStartAndUnknownTotal(t *testing.T) {
	clk := newFakeClock()
	var buf bytes.Buffer
	p := NewProgress(&buf, 2000, "resume", WithTerminal(true), WithClock(clk.Now), WithBarWidth(4), WithStart(1000))
	clk.Advance(10 * time.Second)
	p.Add(100)
	if want := "\rresume [==> ] 55% 1100/2000 10.0 it/s elapsed 10s ETA 1m30s\x1b[K"; buf.String() != want {
		t.Fatalf("resumed:\n got %q\nwant %q", buf.String(), want)
	}

	buf.Reset()
	u := NewProgress(&buf, 0, "scan", WithTerminal(true), WithClock(clk.Now), WithUnit("views"))
	clk.Advance(4 * time.Second)
	u.Add(10)
	if want := "\rscan 10 2.50 views/s elapsed 4s\x1b[K"; buf.String() != want {
		t.Fatalf("unknown total:\n got %q\nwant %q", buf.String(), want)
	}
	buf.Reset()
	u.Finish()
	if want := "\rscan done 10 in 4s (mean 2.50 views/s)\x1b[K\n"; buf.String() != want {
		t.Fatalf("unknown total finish:\n got %q\nwant %q", buf.String(), want)
	}
}

func TestProgressTruncatesToTerminalWidth(t *testing.T) {
	clk := newFakeClock()
	var buf bytes.Buffer
	p := NewProgress(&buf, 10, "größe", WithTerminal(true), WithClock(clk.Now))
	p.width = 20
	clk.Advance(time.Second)
	p.Add(1)
	line := strings.TrimSuffix(strings.TrimPrefix(buf.String(), "\r"), "\x1b[K")
	if n := len([]rune(line)); n != 19 {
		t.Fatalf("line %q has %d columns, want 19", line, n)
	}
	if !strings.HasPrefix(line, "größe [") {
		t.Fatalf("line %q lost its start", line)
	}
}

func TestProgressConcurrentAdd(t *testing.T) {
	var out lockedBuffer
	const workers, per = 8, 5000
	p := NewProgress(&out, workers*per, "race", WithTerminal(true))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				p.Add(1)
				if i%1000 == 0 {
					p.SetFields(F("loss", float64(i)))
				}
			}
		}()
	}
	wg.Wait()
	p.Finish()
	if got := p.Done(); got != workers*per {
		t.Fatalf("Done() = %d, want %d", got, workers*per)
	}
	if s := out.b.String(); !strings.Contains(s, "race done 40000/40000 in ") {
		t.Fatalf("final line missing: %q", s[max(0, len(s)-200):])
	}
}

func TestProgressAddDoesNotAllocate(t *testing.T) {
	clk := newFakeClock()
	p := NewProgress(io.Discard, 1<<40, "alloc", WithTerminal(true), WithClock(clk.Now))
	p.SetFields(F("loss", 0.5), F("lr", 0.1))
	clk.Advance(time.Second)
	p.Add(1) // grow the line buffer once
	if n := testing.AllocsPerRun(1000, func() { p.Add(1) }); n != 0 {
		t.Errorf("Add without redraw: %v allocations", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		clk.Advance(200 * time.Millisecond)
		p.Add(1)
	}); n != 0 {
		t.Errorf("Add with redraw: %v allocations", n)
	}
	if n := testing.AllocsPerRun(1000, func() { p.SetFields(F("loss", 0.4), F("lr", 0.2)) }); n != 0 {
		t.Errorf("SetFields: %v allocations", n)
	}
	plain := NewProgress(io.Discard, 1<<40, "alloc", WithTerminal(false), WithClock(clk.Now), WithInterval(time.Second))
	plain.SetFields(F("loss", 0.5))
	clk.Advance(2 * time.Second)
	plain.Add(1)
	if n := testing.AllocsPerRun(1000, func() {
		clk.Advance(2 * time.Second)
		plain.Add(1)
	}); n != 0 {
		t.Errorf("plain Add with print: %v allocations", n)
	}
}
