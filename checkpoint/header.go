package checkpoint

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxHeaderSize is the reference implementation's limit on the JSON header
// (100 MB); larger headers are refused before anything is allocated.
const maxHeaderSize = 100_000_000

// metadataKey is the header key that holds the free-form string map.
const metadataKey = "__metadata__"

// headerEntry describes one tensor in a safetensors header. Begin and End
// are byte offsets relative to the start of the data buffer.
type headerEntry struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64
}

// layout sorts entries as the reference writer does (descending dtype
// alignment, then name, bytewise) and assigns packed offsets; each entry's
// size is End-Begin on input. It returns the total data size.
func layout(entries []headerEntry) int64 {
	slices.SortFunc(entries, func(a, b headerEntry) int {
		if ra, rb := dtypeRank[a.DType], dtypeRank[b.DType]; ra != rb {
			return rb - ra
		}
		return strings.Compare(a.Name, b.Name)
	})
	var off int64
	for i := range entries {
		n := entries[i].End - entries[i].Begin
		entries[i].Begin, entries[i].End = off, off+n
		off += n
	}
	return off
}

// encodeHeader renders the header JSON exactly as the reference writer
// (serde_json, compact) does for entries in the given order, with
// __metadata__ first and its keys sorted, padded with spaces to a multiple of
// 8 bytes. An empty metadata map is left out.
func encodeHeader(entries []headerEntry, metadata map[string]string) []byte {
	b := make([]byte, 0, 64+96*len(entries))
	b = append(b, '{')
	if len(metadata) > 0 {
		b = appendJSONString(b, metadataKey)
		b = append(b, ':', '{')
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, metadata[k])
		}
		b = append(b, '}')
	}
	for i, e := range entries {
		if i > 0 || len(metadata) > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, e.Name)
		b = append(b, `:{"dtype":`...)
		b = appendJSONString(b, string(e.DType))
		b = append(b, `,"shape":[`...)
		for j, d := range e.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, e.Begin, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, e.End, 10)
		b = append(b, ']', '}')
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b
}

// appendJSONString appends s as a JSON string escaped the way serde_json and
// Python's json.dumps(ensure_ascii=False) escape it: quote, backslash and
// control characters only (short forms for \b \f \n \r \t, \u00xx for the
// rest); everything else, non-ASCII included, is copied as UTF-8.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// parseHeader decodes and checks a header: valid UTF-8, one JSON object,
// no duplicate keys, string-to-string metadata, and for every tensor a known
// and readable dtype, a shape, and data_offsets whose length matches the
// shape. The entries come back sorted by offset; validateLayout checks how
// they tile the data buffer.
func parseHeader(hdr []byte) ([]headerEntry, map[string]string, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, fmt.Errorf("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if tok, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("header is not JSON: %v", err)
	} else if tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("header is not a JSON object (it starts with %v)", tok)
	}
	var (
		entries  []headerEntry
		metadata map[string]string
		seen     = map[string]bool{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("header is not JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("header is not JSON: key %v is not a string", tok)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("header names %q twice", name)
		}
		seen[name] = true
		if name == metadataKey {
			if metadata, err = parseStringMap(dec); err != nil {
				return nil, nil, fmt.Errorf("header %s: %v", metadataKey, err)
			}
			continue
		}
		e, err := parseEntry(dec, name)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("header is not JSON: %v", err)
	}
	rest := hdr[dec.InputOffset():]
	if len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, nil, fmt.Errorf("header has %d bytes of non-space text after its JSON object", len(bytes.TrimLeft(rest, " \t\r\n")))
	}
	slices.SortStableFunc(entries, func(a, b headerEntry) int {
		if a.Begin != b.Begin {
			return cmp.Compare(a.Begin, b.Begin)
		}
		return cmp.Compare(a.End, b.End)
	})
	return entries, metadata, nil
}

// parseStringMap reads one JSON object whose values are all strings,
// refusing duplicate keys.
func parseStringMap(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("is not an object of strings")
	}
	m := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		k, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("not JSON: key %v is not a string", tok)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("names %q twice", k)
		}
		v, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("value of %q is not a string", k)
		}
		m[k] = s
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	return m, nil
}

// rawEntry is a tensor's header value as it appears in the JSON.
// Numbers stay raw so that only plain non-negative integer literals pass
// (encoding/json would accept "3" as a json.Number).
type rawEntry struct {
	DType       *string            `json:"dtype"`
	Shape       *[]json.RawMessage `json:"shape"`
	DataOffsets *[]json.RawMessage `json:"data_offsets"`
}

func parseEntry(dec *json.Decoder, name string) (headerEntry, error) {
	var raw rawEntry
	if err := dec.Decode(&raw); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return headerEntry{}, fmt.Errorf("tensor %q: %s is a JSON %s", name, te.Field, te.Value)
		case errors.As(err, &te):
			return headerEntry{}, fmt.Errorf("tensor %q: header entry is a JSON %s, not a {dtype, shape, data_offsets} object", name, te.Value)
		}
		return headerEntry{}, fmt.Errorf("header is not JSON: %v", err)
	}
	switch {
	case raw.DType == nil:
		return headerEntry{}, fmt.Errorf("tensor %q: header entry has no dtype", name)
	case raw.Shape == nil:
		return headerEntry{}, fmt.Errorf("tensor %q: header entry has no shape", name)
	case raw.DataOffsets == nil:
		return headerEntry{}, fmt.Errorf("tensor %q: header entry has no data_offsets", name)
	}
	e := headerEntry{Name: name, DType: DType(*raw.DType)}
	if _, known := dtypeRank[e.DType]; !known {
		return e, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
	}
	if e.DType.size() == 0 {
		return e, fmt.Errorf("tensor %q: dtype %s is not supported (selfsup reads F32, F64, F16 and BF16)", name, e.DType)
	}
	elems := uint64(1)
	overflow := false
	for _, n := range *raw.Shape {
		d, err := strconv.ParseUint(string(n), 10, 63)
		if err != nil {
			return e, fmt.Errorf("tensor %q: shape has a dimension %s that is not a non-negative integer", name, n)
		}
		e.Shape = append(e.Shape, int(d))
		hi, lo := bits.Mul64(elems, d)
		overflow = overflow || hi != 0
		elems = lo
	}
	if e.Shape == nil {
		e.Shape = []int{}
	}
	if len(*raw.DataOffsets) != 2 {
		return e, fmt.Errorf("tensor %q: data_offsets has %d numbers, want [begin, end]", name, len(*raw.DataOffsets))
	}
	var off [2]int64
	for i, n := range *raw.DataOffsets {
		v, err := strconv.ParseUint(string(n), 10, 63)
		if err != nil {
			return e, fmt.Errorf("tensor %q: data offset %s is not a non-negative integer", name, n)
		}
		off[i] = int64(v)
	}
	e.Begin, e.End = off[0], off[1]
	if e.End < e.Begin {
		return e, fmt.Errorf("tensor %q: data_offsets [%d, %d] end before they begin", name, e.Begin, e.End)
	}
	hi, want := bits.Mul64(elems, uint64(e.DType.size()))
	if overflow || hi != 0 || want > math.MaxInt64 || int64(want) != e.End-e.Begin {
		return e, fmt.Errorf("tensor %q: data_offsets [%d, %d] hold %d bytes, but shape %v of %s needs %s",
			name, e.Begin, e.End, e.End-e.Begin, e.Shape, e.DType, bytesNeeded(overflow || hi != 0, want))
	}
	return e, nil
}

func bytesNeeded(overflow bool, n uint64) string {
	if overflow {
		return "more than 2^64"
	}
	return strconv.FormatUint(n, 10)
}

// validateLayout checks that entries (sorted by offset) tile the data
// buffer of dataLen bytes exactly, as the reference reader requires: the
// first starts at 0, each starts where the previous ends, and the last ends
// at the end of the file.
func validateLayout(entries []headerEntry, dataLen int64) error {
	for _, e := range entries {
		if e.End > dataLen {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] are out of range: the data buffer after the header is %d bytes (truncated file?)", e.Name, e.Begin, e.End, dataLen)
		}
	}
	var pos int64
	for i, e := range entries {
		switch {
		case e.Begin < pos:
			return fmt.Errorf("tensors %q [%d, %d] and %q [%d, %d] overlap", entries[i-1].Name, entries[i-1].Begin, entries[i-1].End, e.Name, e.Begin, e.End)
		case e.Begin > pos:
			return fmt.Errorf("tensor %q begins at %d, leaving a %d-byte gap after the previous tensor (the format packs tensors with no gaps)", e.Name, e.Begin, e.Begin-pos)
		}
		pos = e.End
	}
	if pos != dataLen {
		return fmt.Errorf("%d trailing bytes after the last tensor's data", dataLen-pos)
	}
	return nil
}
