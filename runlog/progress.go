package runlog

import (
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Field is a named live value shown after the progress bar, such as the
// current loss or learning rate.
type Field struct {
	Name  string
	Value float64
}

// F is shorthand for Field{name, v}, so calls read
// p.SetFields(runlog.F("loss", loss), runlog.F("lr", lr)).
func F(name string, v float64) Field { return Field{Name: name, Value: v} }

// Defaults for a Progress; each can be changed with an option.
const (
	// DefaultInterval is how often a Progress writing to something other
	// than a terminal prints a line (it also prints at each tenth of the
	// work).
	DefaultInterval = 10 * time.Second
	// DefaultSmoothing is the time constant of the rate's exponential
	// moving average: progress older than this weighs about 1/e as much.
	DefaultSmoothing = 5 * time.Second
	// DefaultBarWidth is the number of cells between the brackets.
	DefaultBarWidth = 30
	// redrawInterval is the shortest time between two terminal redraws
	// (and between two rate samples).
	redrawInterval = 100 * time.Millisecond
	// minSample is the shortest interval that updates the rate once it is
	// known; shorter ones (forced prints) would only add noise.
	minSample = 20 * time.Millisecond
)

// ProgressOption changes how a Progress measures or draws itself; pass
// options to NewProgress.
type ProgressOption func(*Progress)

// WithUnit names what is counted, as in "img" for "img/s" (a trailing "/s"
// is accepted and dropped). The default is "it".
func WithUnit(unit string) ProgressOption {
	return func(p *Progress) {
		if u := strings.TrimSuffix(unit, "/s"); u != "" {
			p.unit = u
		}
	}
}

// WithClock replaces time.Now, so that tests can drive the clock.
func WithClock(now func() time.Time) ProgressOption {
	return func(p *Progress) {
		if now != nil {
			p.now = now
		}
	}
}

// WithTerminal overrides terminal detection: true redraws one line in place
// with '\r', false prints plain lines. Use it for writers that are not
// *os.File, or to get plain lines on a terminal.
func WithTerminal(isTerminal bool) ProgressOption {
	return func(p *Progress) { p.term = isTerminal; p.forcedTerm = true }
}

// WithInterval sets how often a line is printed when the writer is not a
// terminal (DefaultInterval by default).
func WithInterval(d time.Duration) ProgressOption {
	return func(p *Progress) {
		if d > 0 {
			p.interval = d
		}
	}
}

// WithBarWidth sets the number of cells of the bar (DefaultBarWidth by
// default).
func WithBarWidth(cells int) ProgressOption {
	return func(p *Progress) {
		if cells > 0 {
			p.barWidth = cells
		}
	}
}

// WithSmoothing sets the time constant of the rate's moving average
// (DefaultSmoothing by default). Shorter follows changes sooner; longer
// gives a steadier ETA.
func WithSmoothing(tau time.Duration) ProgressOption {
	return func(p *Progress) {
		if tau > 0 {
			p.tau = tau.Seconds()
		}
	}
}

// WithStart begins the count at done instead of 0, as when a run resumes
// from a checkpoint: the bar starts there and rates count only the work
// done since.
func WithStart(done int64) ProgressOption {
	return func(p *Progress) { p.startDone = done }
}

// Progress shows how far a long loop has got. Add and Set are safe to call
// from several goroutines at once and do not allocate; they redraw only
// when enough time has passed, so calling them once per item is cheap.
// Nothing is drawn between calls: the display moves when the work does.
type Progress struct {
	// Set once by NewProgress.
	w          io.Writer
	total      int64
	label      string
	unit       string
	now        func() time.Time
	term       bool
	forcedTerm bool
	width      int // terminal columns; 0 means unknown (no truncation)
	barWidth   int
	interval   time.Duration
	tau        float64 // seconds
	start      time.Time
	startDone  int64

	done       atomic.Int64
	nextCheck  atomic.Int64 // nanoseconds since start before which Add does not look
	lastDecile atomic.Int64 // tenths of the work already printed (plain mode)
	finished   atomic.Bool

	mu         sync.Mutex // guards everything below and the writes to w
	fields     []Field
	rate       float64 // items per second, smoothed
	rateKnown  bool
	sampleT    int64 // nanoseconds since start of the last rate sample
	sampleDone int64
	lastPrint  int64
	buf        []byte
}

// NewProgress starts a progress display for total items (total <= 0 means
// unknown: no bar, percentage or ETA) written to w. label, if not empty,
// starts every line. Whether w is a terminal is detected from its file
// descriptor; see WithTerminal.
func NewProgress(w io.Writer, total int64, label string, opts ...ProgressOption) *Progress {
	p := &Progress{
		w:        w,
		total:    total,
		label:    label,
		unit:     "it",
		now:      time.Now,
		barWidth: DefaultBarWidth,
		interval: DefaultInterval,
		tau:      DefaultSmoothing.Seconds(),
		buf:      make([]byte, 0, 256),
	}
	for _, o := range opts {
		o(p)
	}
	if !p.forcedTerm {
		p.term, p.width = terminalInfo(w)
	}
	p.start = p.now()
	p.done.Store(p.startDone)
	p.sampleDone = p.startDone
	if total > 0 {
		p.lastDecile.Store(p.startDone * 10 / total)
	}
	return p
}

// Add records n more items done.
func (p *Progress) Add(n int64) { p.poke(p.done.Add(n)) }

// Set records that done items are finished in all, e.g. the step count
// reported by the training loop.
func (p *Progress) Set(done int64) {
	p.done.Store(done)
	p.poke(done)
}

// Done returns the number of items recorded so far.
func (p *Progress) Done() int64 { return p.done.Load() }

// SetFields updates live fields shown after the rate. A field keeps the
// place where it first appeared, so the line does not jump around; values
// are formatted compactly (0.523, 3e-4 as 0.0003, 1.2e-5). Fields appear on
// the next redraw.
func (p *Progress) SetFields(fields ...Field) {
	p.mu.Lock()
	defer p.mu.Unlock()
outer:
	for _, f := range fields {
		for i := range p.fields {
			if p.fields[i].Name == f.Name {
				p.fields[i].Value = f.Value
				continue outer
			}
		}
		p.fields = append(p.fields, f)
	}
}

// poke redraws when it is time to: at most every redrawInterval on a
// terminal; on other writers every interval or when another tenth of the
// work is done.
func (p *Progress) poke(done int64) {
	if p.finished.Load() {
		return
	}
	t := int64(p.now().Sub(p.start))
	force := false
	if !p.term && p.total > 0 && done*10/p.total > p.lastDecile.Load() {
		force = true
	}
	if !force && t < p.nextCheck.Load() {
		return
	}
	// Whoever holds the lock is drawing already; a missed tenth is caught
	// by the next call because lastDecile only moves when it is printed.
	if !p.mu.TryLock() {
		return
	}
	defer p.mu.Unlock()
	if p.finished.Load() {
		return
	}
	done = p.done.Load()
	p.sample(t, done)
	p.nextCheck.Store(t + int64(redrawInterval))
	if p.term {
		p.buf = append(p.buf[:0], '\r')
		p.buf = p.appendStatus(p.buf, t, done, true)
		p.buf = p.truncate(p.buf, 1)
		p.buf = append(p.buf, "\x1b[K"...)
		p.w.Write(p.buf)
		return
	}
	if force || t-p.lastPrint >= int64(p.interval) {
		p.lastPrint = t
		if p.total > 0 {
			p.lastDecile.Store(min(done, p.total) * 10 / p.total)
		}
		p.buf = p.appendStatus(p.buf[:0], t, done, false)
		p.buf = append(p.buf, '\n')
		p.w.Write(p.buf)
	}
}

// sample folds the progress since the last sample into the rate's moving
// average. The weight of the new sample grows with the time it covers, so
// the average does not depend on how often Add is called.
func (p *Progress) sample(t, done int64) {
	dt := t - p.sampleT
	if dt <= 0 || (p.rateKnown && dt < int64(minSample)) {
		return
	}
	sec := float64(dt) / 1e9
	inst := float64(done-p.sampleDone) / sec
	if !p.rateKnown {
		p.rate, p.rateKnown = inst, true
	} else {
		alpha := 1 - math.Exp(-sec/p.tau)
		p.rate += alpha * (inst - p.rate)
	}
	p.sampleT, p.sampleDone = t, done
}

// Rate returns the smoothed rate in items per second, or NaN before it has
// been measured.
func (p *Progress) Rate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.rateKnown {
		return math.NaN()
	}
	return p.rate
}

// ETA returns the estimated time to finish at the smoothed rate, and false
// when it cannot be estimated (unknown total or rate).
func (p *Progress) ETA() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eta(p.done.Load())
}

func (p *Progress) eta(done int64) (time.Duration, bool) {
	if p.total <= 0 {
		return 0, false
	}
	left := p.total - done
	if left <= 0 {
		return 0, true
	}
	if !p.rateKnown || !(p.rate > 0) {
		return 0, false
	}
	sec := float64(left) / p.rate
	if sec > 1e9 {
		return 0, false
	}
	return time.Duration(sec * 1e9), true
}

// appendStatus appends the status line without line control characters:
// label [=====>    ] 45% 1234/2700 12.3 it/s elapsed 1m02s ETA 1m58s loss=0.523
// The bar is drawn only when bar is true and the total is known.
func (p *Progress) appendStatus(b []byte, t, done int64, bar bool) []byte {
	if p.label != "" {
		b = append(b, p.label...)
		b = append(b, ' ')
	}
	if p.total > 0 {
		if bar {
			b = p.appendBar(b, done)
			b = append(b, ' ')
		}
		b = appendPercent(b, done, p.total)
		b = append(b, ' ')
		b = strconv.AppendInt(b, done, 10)
		b = append(b, '/')
		b = strconv.AppendInt(b, p.total, 10)
	} else {
		b = strconv.AppendInt(b, done, 10)
	}
	b = append(b, ' ')
	if p.rateKnown {
		b = appendRate(b, p.rate)
	} else {
		b = append(b, '?')
	}
	b = append(b, ' ')
	b = append(b, p.unit...)
	b = append(b, "/s elapsed "...)
	b = appendDuration(b, time.Duration(t))
	if p.total > 0 {
		b = append(b, " ETA "...)
		if d, ok := p.eta(done); ok {
			b = appendDuration(b, d)
		} else {
			b = append(b, '?')
		}
	}
	return p.appendFields(b)
}

func (p *Progress) appendFields(b []byte) []byte {
	for _, f := range p.fields {
		b = append(b, ' ')
		b = append(b, f.Name...)
		b = append(b, '=')
		b = appendCompact(b, f.Value)
	}
	return b
}

// appendBar appends [=====>    ] with barWidth cells.
func (p *Progress) appendBar(b []byte, done int64) []byte {
	n := p.barWidth
	filled := 0
	if done >= p.total {
		filled = n
	} else if done > 0 {
		filled = int(float64(done) / float64(p.total) * float64(n))
	}
	b = append(b, '[')
	for i := 0; i < n; i++ {
		switch {
		case i < filled:
			b = append(b, '=')
		case i == filled:
			b = append(b, '>')
		default:
			b = append(b, ' ')
		}
	}
	return append(b, ']')
}

// appendPercent appends floor(100*done/total)% clamped to [0, 100], so that
// 100% means finished.
func appendPercent(b []byte, done, total int64) []byte {
	pct := int64(float64(done) / float64(total) * 100)
	if done < total && pct >= 100 {
		pct = 99
	}
	b = strconv.AppendInt(b, max(0, min(pct, 100)), 10)
	return append(b, '%')
}

// truncate shortens the line in b[skip:] so that it fits the terminal
// width minus one column (writing in the last column makes some terminals
// wrap).
func (p *Progress) truncate(b []byte, skip int) []byte {
	if p.width <= 1 {
		return b
	}
	limit := p.width - 1
	cols := 0
	for i := skip; i < len(b); {
		_, size := utf8.DecodeRune(b[i:])
		if cols == limit {
			return b[:i]
		}
		cols++
		i += size
	}
	return b
}

// Finish prints the final line, with the total time and the mean rate, and
// stops further drawing. It is safe to call more than once; only the first
// call prints.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished.Swap(true) {
		return
	}
	t := int64(p.now().Sub(p.start))
	done := p.done.Load()
	b := p.buf[:0]
	if p.term {
		b = append(b, '\r')
	}
	start := len(b)
	b = p.appendFinal(b, t, done)
	if p.term {
		b = p.truncate(b, start)
		b = append(b, "\x1b[K"...)
	}
	b = append(b, '\n')
	p.buf = b
	p.w.Write(b)
}

// appendFinal appends
// label done 2700/2700 in 3m40s (mean 12.3 it/s) loss=0.523
// or "stopped" instead of "done" when the total was not reached.
func (p *Progress) appendFinal(b []byte, t, done int64) []byte {
	if p.label != "" {
		b = append(b, p.label...)
		b = append(b, ' ')
	}
	if p.total > 0 && done < p.total {
		b = append(b, "stopped at "...)
	} else {
		b = append(b, "done "...)
	}
	b = strconv.AppendInt(b, done, 10)
	if p.total > 0 {
		b = append(b, '/')
		b = strconv.AppendInt(b, p.total, 10)
		if done < p.total {
			b = append(b, " ("...)
			b = appendPercent(b, done, p.total)
			b = append(b, ')')
		}
	}
	b = append(b, " in "...)
	b = appendDuration(b, time.Duration(t))
	b = append(b, " (mean "...)
	if t > 0 {
		b = appendRate(b, float64(done-p.startDone)/(float64(t)/1e9))
	} else {
		b = append(b, '?')
	}
	b = append(b, ' ')
	b = append(b, p.unit...)
	b = append(b, "/s)"...)
	return p.appendFields(b)
}
