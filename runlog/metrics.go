package runlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// When Metrics forces its lines to disk. Every line is handed to the
// operating system as soon as it is logged (so another process, or a crash
// of this one, sees it); fsync, which also survives a power loss, is
// batched because it costs milliseconds.
const (
	// SyncEveryLines is the number of lines after which Metrics fsyncs.
	SyncEveryLines = 100
	// SyncEveryInterval is the longest time a logged line waits for an
	// fsync (checked when the next line is logged).
	SyncEveryInterval = 30 * time.Second
)

// timeLayout is how record times are written: RFC 3339 in UTC with
// milliseconds, which sorts as text and reads well.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// Record is one line of a metrics file: the step and epoch it belongs to,
// when it was logged, and named values in the order they were written.
type Record struct {
	Step  int64
	Epoch int64
	Time  time.Time
	// Fields are the numeric values other than step and epoch, in file
	// order. NaN and infinities are kept (they are written as the strings
	// "NaN", "+Inf" and "-Inf", since JSON has no such numbers).
	Fields []Field
	// Extra holds values that are not numbers (strings, booleans, nested
	// objects), as decoded by encoding/json; nil when there are none.
	Extra map[string]any
}

// Value returns the field called name and whether the record has it.
func (r Record) Value(name string) (float64, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return 0, false
}

// Series collects the field name from every record that has it, with the
// record's step as x: the input of a loss or learning-rate curve.
func Series(records []Record, name string) (steps, values []float64) {
	for _, r := range records {
		if v, ok := r.Value(name); ok {
			steps = append(steps, float64(r.Step))
			values = append(values, v)
		}
	}
	return steps, values
}

// Metrics appends records to a JSON Lines file, one object per line. It is
// safe for concurrent use.
type Metrics struct {
	mu       sync.Mutex
	f        *os.File
	path     string
	buf      []byte
	pending  int
	lastSync time.Time
	now      func() time.Time
}

// OpenMetrics opens the metrics file at path for appending, creating it and
// its directory if needed, so that a resumed run continues the file it
// started. If a crash left a partial last line, that line is removed first
// (ReadMetrics would skip it anyway) so that new records start on a line of
// their own.
func OpenMetrics(path string) (*Metrics, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open metrics %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open metrics: %w", err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("open metrics %s: %w", path, err)
	}
	return &Metrics{f: f, path: path, buf: make([]byte, 0, 256), lastSync: time.Now(), now: time.Now}, nil
}

// repairTail makes f end with a newline: a last line without one is kept
// (newline added) if it is a whole JSON object and cut off otherwise.
func repairTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	// Find the start of the last line by reading backwards in chunks.
	const chunk = 4096
	lineStart := int64(0)
	buf := make([]byte, chunk)
	end := size
	var tail []byte
	for end > 0 {
		off := max(0, end-chunk)
		n, err := f.ReadAt(buf[:end-off], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		part := buf[:n]
		if end == size && len(part) > 0 && part[len(part)-1] == '\n' {
			return nil // already ends with a newline
		}
		if i := bytes.LastIndexByte(part, '\n'); i >= 0 {
			lineStart = off + int64(i) + 1
			tail = append(append([]byte(nil), part[i+1:]...), tail...)
			break
		}
		tail = append(append([]byte(nil), part...), tail...)
		end = off
	}
	if _, err := parseLine(bytes.TrimSpace(tail)); err == nil {
		_, err = f.Write([]byte{'\n'})
		return err
	}
	return f.Truncate(lineStart)
}

// Path returns the file the records go to.
func (m *Metrics) Path() string { return m.path }

// LogRecord appends r as one line: step, epoch and time first, then the
// fields in their order. A zero Time is replaced by the current time.
// Field names must be unique and may not be "step", "epoch" or "time".
func (m *Metrics) LogRecord(r Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return fmt.Errorf("log metrics to %s: file is closed", m.path)
	}
	if r.Time.IsZero() {
		r.Time = m.now()
	}
	b := append(m.buf[:0], `{"step":`...)
	b = strconv.AppendInt(b, r.Step, 10)
	b = append(b, `,"epoch":`...)
	b = strconv.AppendInt(b, r.Epoch, 10)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().AppendFormat(b, timeLayout)
	b = append(b, '"')
	for i, f := range r.Fields {
		if err := checkName(f.Name); err != nil {
			m.buf = b
			return fmt.Errorf("log metrics to %s: %w", m.path, err)
		}
		for _, g := range r.Fields[:i] {
			if g.Name == f.Name {
				m.buf = b
				return fmt.Errorf("log metrics to %s: field %q appears twice", m.path, f.Name)
			}
		}
		b = append(b, ',')
		b = appendJSONString(b, f.Name)
		b = append(b, ':')
		b = appendJSONFloat(b, f.Value)
	}
	b, err := appendExtra(b, r.Extra, r.Fields)
	m.buf = append(b, '}')
	if err != nil {
		return fmt.Errorf("log metrics to %s: %w", m.path, err)
	}
	return m.writeLine()
}

func checkName(name string) error {
	switch name {
	case "":
		return errors.New("field with an empty name")
	case "step", "epoch", "time":
		return fmt.Errorf("field name %q is reserved (use Record.Step, Epoch, Time)", name)
	}
	return nil
}

// appendExtra appends the non-numeric values in sorted key order.
func appendExtra(b []byte, extra map[string]any, fields []Field) ([]byte, error) {
	if len(extra) == 0 {
		return b, nil
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if err := checkName(k); err != nil {
			return b, err
		}
		for _, f := range fields {
			if f.Name == k {
				return b, fmt.Errorf("%q is both a field and an extra value", k)
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, ',')
		b = appendJSONString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, extra[k]); err != nil {
			return b, fmt.Errorf("value of %q: %w", k, err)
		}
	}
	return b, nil
}

// Log appends a record given as a map. The keys "step", "epoch" and "time"
// come first when present, the others follow in sorted order so that lines
// are stable and diff well. Numbers may be any Go integer or float type
// (NaN and infinities are written as strings); other values are encoded
// with encoding/json.
func (m *Metrics) Log(rec map[string]any) error {
	keys := make([]string, 0, len(rec))
	for _, k := range []string{"step", "epoch", "time"} {
		if _, ok := rec[k]; ok {
			keys = append(keys, k)
		}
	}
	head := len(keys)
	for k := range rec {
		switch k {
		case "step", "epoch", "time":
		default:
			keys = append(keys, k)
		}
	}
	slices.Sort(keys[head:])
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return fmt.Errorf("log metrics to %s: file is closed", m.path)
	}
	b := append(m.buf[:0], '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, rec[k]); err != nil {
			m.buf = b
			return fmt.Errorf("log metrics to %s: value of %q: %w", m.path, k, err)
		}
	}
	b = append(b, '}')
	m.buf = b
	// Never write a line that ReadMetrics would reject, such as a
	// fractional step or a malformed time.
	if _, err := parseLine(b); err != nil {
		return fmt.Errorf("log metrics to %s: %w", m.path, err)
	}
	return m.writeLine()
}

// writeLine finishes m.buf with a newline, writes it in one call and
// fsyncs when the policy says so. m.mu must be held.
func (m *Metrics) writeLine() error {
	m.buf = append(m.buf, '\n')
	if _, err := m.f.Write(m.buf); err != nil {
		return fmt.Errorf("log metrics to %s: %w", m.path, err)
	}
	m.pending++
	if m.pending >= SyncEveryLines || m.now().Sub(m.lastSync) >= SyncEveryInterval {
		return m.syncLocked()
	}
	return nil
}

func (m *Metrics) syncLocked() error {
	m.pending = 0
	m.lastSync = m.now()
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("sync metrics %s: %w", m.path, err)
	}
	return nil
}

// Sync forces the lines logged so far to stable storage.
func (m *Metrics) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return nil
	}
	return m.syncLocked()
}

// Close syncs and closes the file. Closing twice is harmless; logging after
// Close is an error.
func (m *Metrics) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return nil
	}
	err := m.syncLocked()
	if cerr := m.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close metrics %s: %w", m.path, cerr)
	}
	m.f = nil
	return err
}

// appendJSONFloat writes v as a JSON number, or as the string "NaN",
// "+Inf" or "-Inf" which ReadMetrics turns back into those values.
func appendJSONFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(b, `"+Inf"`...)
	case math.IsInf(v, -1):
		return append(b, `"-Inf"`...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case float64:
		return appendJSONFloat(b, x), nil
	case float32:
		return appendJSONFloat(b, float64(x)), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case time.Time:
		b = append(b, '"')
		b = x.UTC().AppendFormat(b, timeLayout)
		return append(b, '"'), nil
	case time.Duration:
		return appendJSONFloat(b, x.Seconds()), nil
	}
	q, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, q...), nil
}

// ReadMetrics reads every record of a metrics file. A last line without a
// newline that does not parse is taken for a write cut short by a crash and
// skipped; any other bad line is an error naming the file and line number.
// Blank lines are skipped.
func ReadMetrics(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	var recs []Record
	for lineNo := 1; len(data) > 0; lineNo++ {
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		data = rest
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		r, err := parseLine(line)
		if err != nil {
			if !complete {
				break // truncated last line
			}
			return recs, fmt.Errorf("read metrics %s:%d: %w", path, lineNo, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// parseLine decodes one JSON object, keeping the order of its keys.
func parseLine(line []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil {
		return r, fmt.Errorf("not a JSON object: %w", err)
	} else if d, ok := tok.(json.Delim); !ok || d != '{' {
		return r, errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return r, fmt.Errorf("bad JSON: %w", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return r, fmt.Errorf("bad JSON value for %q: %w", key, err)
		}
		if err := r.set(key, raw); err != nil {
			return r, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return r, fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return r, errors.New("bad JSON: text after the object")
	}
	return r, nil
}

// set stores one key/value pair of a line into r.
func (r *Record) set(key string, raw json.RawMessage) error {
	num, isNum := jsonNumber(raw)
	switch key {
	case "step", "epoch":
		if !isNum || math.IsNaN(num) || num != math.Trunc(num) || math.Abs(num) > 1<<53 {
			return fmt.Errorf("%s is %s, want an integer", key, raw)
		}
		if key == "step" {
			r.Step = int64(num)
		} else {
			r.Epoch = int64(num)
		}
		return nil
	case "time":
		var s string
		if json.Unmarshal(raw, &s) == nil {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return fmt.Errorf("time %s: %w", raw, err)
			}
			r.Time = t
			return nil
		}
		if isNum && !math.IsNaN(num) && !math.IsInf(num, 0) {
			sec, frac := math.Modf(num)
			r.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
			return nil
		}
		return fmt.Errorf("time is %s, want an RFC 3339 string or Unix seconds", raw)
	}
	if isNum {
		r.Fields = append(r.Fields, Field{Name: key, Value: num})
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("bad JSON value for %q: %w", key, err)
	}
	if r.Extra == nil {
		r.Extra = make(map[string]any)
	}
	r.Extra[key] = v
	return nil
}

// jsonNumber reads a JSON number, or one of the strings that stand for
// NaN and the infinities.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	switch string(raw) {
	case `"NaN"`, `"nan"`:
		return math.NaN(), true
	case `"+Inf"`, `"Inf"`, `"inf"`, `"Infinity"`:
		return math.Inf(1), true
	case `"-Inf"`, `"-inf"`, `"-Infinity"`:
		return math.Inf(-1), true
	}
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		// Out of range numbers come back as ±Inf with an error; keep them.
		return v, math.IsInf(v, 0)
	}
	return v, true
}
