package embed

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"unicode/utf8"
)

// Magic opens every embeddings file in the binary format.
const Magic = "SSUPEMB\x00"

// FormatVersion is the version of the binary format this package writes.
// Readers refuse files of a later version.
const FormatVersion = 1

// UnknownCount is the record count a writer stores when it cannot seek
// back to fill in the real one; readers then read until end of file.
const UnknownCount = math.MaxUint64

// FlagNormalized marks files whose vectors are L2-normalised.
const FlagNormalized = 1

// Limits a reader enforces, so that a corrupt header cannot make it
// allocate without bound.
const (
	MaxDim      = 1 << 20
	MaxIDLength = 1 << 16
)

// headerSize is the fixed part of the header, before the encoder ID.
const headerSize = 8 + 4 + 4 + 4 + 4 + 8 + 2

// Header describes an embeddings file.
type Header struct {
	// Version is the format version (FormatVersion when written here).
	Version uint32
	// Dim is the length of every vector.
	Dim int
	// Count is the number of records, or -1 when the writer could not
	// record it (the file is then read to its end).
	Count int64
	// Normalized reports that the vectors have unit L2 norm.
	Normalized bool
	// EncoderID identifies the encoder that produced the vectors (see
	// Encoder.ID).
	EncoderID string
}

// Writer streams records to an embeddings file in the binary format. When
// the underlying writer is an io.WriteSeeker (a file), Close seeks back
// and stores the final record count; otherwise the count stays
// UnknownCount. Write buffers; nothing is complete until Close.
type Writer struct {
	w      io.Writer
	bw     *bufio.Writer
	hdr    Header
	n      int64
	buf    []byte
	closed bool
}

// NewWriter writes the header of a file with the given dimension, encoder
// ID and normalisation flag, and returns a Writer for its records.
func NewWriter(w io.Writer, dim int, encoderID string, normalized bool) (*Writer, error) {
	if dim <= 0 || dim > MaxDim {
		return nil, fmt.Errorf("embeddings: dimension %d out of range [1, %d]", dim, MaxDim)
	}
	if len(encoderID) > math.MaxUint16 {
		return nil, fmt.Errorf("embeddings: encoder ID of %d bytes is too long", len(encoderID))
	}
	ew := &Writer{w: w, bw: bufio.NewWriterSize(w, 1<<20), hdr: Header{Version: FormatVersion, Dim: dim, Count: -1, Normalized: normalized, EncoderID: encoderID}}
	if _, err := ew.bw.Write(encodeHeader(ew.hdr, UnknownCount)); err != nil {
		return nil, err
	}
	return ew, nil
}

// encodeHeader lays out a header with the given raw count.
func encodeHeader(h Header, count uint64) []byte {
	b := make([]byte, 0, headerSize+len(h.EncoderID))
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint32(b, h.Version)
	var flags uint32
	if h.Normalized {
		flags |= FlagNormalized
	}
	b = binary.LittleEndian.AppendUint32(b, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(h.Dim))
	b = binary.LittleEndian.AppendUint32(b, 0) // reserved
	b = binary.LittleEndian.AppendUint64(b, count)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(h.EncoderID)))
	return append(b, h.EncoderID...)
}

// countOffset is where the record count sits in the header.
const countOffset = 8 + 4 + 4 + 4 + 4

// Write appends one record. The ID must be valid UTF-8 of at most
// MaxIDLength bytes and the vector must have Dim finite values.
func (w *Writer) Write(id string, vec []float32) error {
	if w.closed {
		return errors.New("embeddings: write after Close")
	}
	if err := checkRecord(id, vec, w.hdr.Dim); err != nil {
		return err
	}
	w.buf = w.buf[:0]
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(id)))
	w.buf = append(w.buf, id...)
	for _, v := range vec {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, math.Float32bits(v))
	}
	if _, err := w.bw.Write(w.buf); err != nil {
		return err
	}
	w.n++
	return nil
}

// checkRecord validates one record before it is written.
func checkRecord(id string, vec []float32, dim int) error {
	switch {
	case id == "":
		return errors.New("embeddings: empty ID")
	case len(id) > MaxIDLength:
		return fmt.Errorf("embeddings: ID %.40q... is %d bytes, more than %d", id, len(id), MaxIDLength)
	case !utf8.ValidString(id):
		return fmt.Errorf("embeddings: ID %q is not valid UTF-8", id)
	case len(vec) != dim:
		return fmt.Errorf("embeddings: %s: vector has %d values, want %d", id, len(vec), dim)
	}
	for i, v := range vec {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("embeddings: %s: value %d is %v", id, i, v)
		}
	}
	return nil
}

// Count returns the number of records written so far.
func (w *Writer) Count() int64 { return w.n }

// Close flushes the records and, when the destination can seek, writes the
// final count into the header. It does not close the destination.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.bw.Flush(); err != nil {
		return err
	}
	ws, ok := w.w.(io.WriteSeeker)
	if !ok {
		return nil
	}
	end, err := ws.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil // not really seekable (a pipe): the count stays unknown
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(w.n))
	if _, err := ws.Seek(countOffset, io.SeekStart); err != nil {
		return err
	}
	if _, err := ws.Write(b[:]); err != nil {
		return err
	}
	_, err = ws.Seek(end, io.SeekStart)
	return err
}

// Reader reads an embeddings file in the binary format record by record.
type Reader struct {
	r    *bufio.Reader
	name string
	hdr  Header
	n    int64
	buf  []byte
}

// NewReader reads and checks the header. name labels errors (a file name).
func NewReader(r io.Reader, name string) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	fixed := make([]byte, headerSize)
	if _, err := io.ReadFull(br, fixed); err != nil {
		return nil, fmt.Errorf("%s: not an embeddings file: header too short (%v)", name, err)
	}
	if string(fixed[:8]) != Magic {
		return nil, fmt.Errorf("%s: not an embeddings file (bad magic %q, want %q)", name, fixed[:8], Magic)
	}
	le := binary.LittleEndian
	h := Header{Version: le.Uint32(fixed[8:])}
	if h.Version == 0 || h.Version > FormatVersion {
		return nil, fmt.Errorf("%s: embeddings format version %d; this build reads versions up to %d", name, h.Version, FormatVersion)
	}
	flags := le.Uint32(fixed[12:])
	if flags&^FlagNormalized != 0 {
		return nil, fmt.Errorf("%s: unknown header flags %#x", name, flags)
	}
	h.Normalized = flags&FlagNormalized != 0
	dim := le.Uint32(fixed[16:])
	if dim == 0 || dim > MaxDim {
		return nil, fmt.Errorf("%s: dimension %d out of range [1, %d]", name, dim, MaxDim)
	}
	h.Dim = int(dim)
	count := le.Uint64(fixed[countOffset:])
	h.Count = -1
	if count != UnknownCount {
		if count > math.MaxInt64 {
			return nil, fmt.Errorf("%s: record count %d out of range", name, count)
		}
		h.Count = int64(count)
	}
	idb := make([]byte, le.Uint16(fixed[countOffset+8:]))
	if _, err := io.ReadFull(br, idb); err != nil {
		return nil, fmt.Errorf("%s: header truncated in the encoder ID (%v)", name, err)
	}
	h.EncoderID = string(idb)
	return &Reader{r: br, name: name, hdr: h}, nil
}

// Header returns the file's header.
func (r *Reader) Header() Header { return r.hdr }

// Next reads the next record into vec (grown to Dim when too short) and
// returns its ID and the vector. At the end it returns io.EOF; a file
// that ends early, or holds more records than its header says, is an
// error naming the file.
func (r *Reader) Next(vec []float32) (string, []float32, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r.r, lb[:]); err != nil {
		if err == io.EOF {
			if r.hdr.Count >= 0 && r.n != r.hdr.Count {
				return "", nil, fmt.Errorf("%s: truncated: the header says %d records, the file holds %d", r.name, r.hdr.Count, r.n)
			}
			return "", nil, io.EOF
		}
		return "", nil, fmt.Errorf("%s: record %d: truncated (%v)", r.name, r.n, err)
	}
	if r.hdr.Count >= 0 && r.n >= r.hdr.Count {
		return "", nil, fmt.Errorf("%s: more records than the %d the header says", r.name, r.hdr.Count)
	}
	n := binary.LittleEndian.Uint32(lb[:])
	if n == 0 || n > MaxIDLength {
		return "", nil, fmt.Errorf("%s: record %d: ID length %d out of range [1, %d]", r.name, r.n, n, MaxIDLength)
	}
	need := int(n) + 4*r.hdr.Dim
	if cap(r.buf) < need {
		r.buf = make([]byte, need)
	}
	b := r.buf[:need]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return "", nil, fmt.Errorf("%s: record %d: truncated (%v)", r.name, r.n, err)
	}
	id := string(b[:n])
	if !utf8.ValidString(id) {
		return "", nil, fmt.Errorf("%s: record %d: ID is not valid UTF-8", r.name, r.n)
	}
	if cap(vec) < r.hdr.Dim {
		vec = make([]float32, r.hdr.Dim)
	}
	vec = vec[:r.hdr.Dim]
	for i := range vec {
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[int(n)+4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return "", nil, fmt.Errorf("%s: record %d (%s): value %d is %v", r.name, r.n, id, i, v)
		}
		vec[i] = v
	}
	r.n++
	return id, vec, nil
}

// Embeddings is a whole embeddings file in memory.
type Embeddings struct {
	Header
	// IDs holds one ID per record.
	IDs []string
	// Vectors holds the records' vectors one after another,
	// len(IDs)*Dim values.
	Vectors []float32
}

// Vector returns record i's vector (a view).
func (e *Embeddings) Vector(i int) []float32 { return e.Vectors[i*e.Dim : (i+1)*e.Dim] }

// ReadFile reads a whole embeddings file: the binary format, or a .npy
// array with its .ids.json side file (see the package documentation).
func ReadFile(path string) (*Embeddings, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var magic [8]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if n >= 6 && string(magic[:6]) == npyMagic {
		return readNPY(f, path)
	}
	r, err := NewReader(f, path)
	if err != nil {
		return nil, err
	}
	out := &Embeddings{Header: r.Header()}
	if out.Count > 0 {
		// trust the count only as far as the file's size allows
		if st, err := f.Stat(); err == nil && out.Count*int64(4*out.Dim+5) <= st.Size() {
			out.IDs = make([]string, 0, out.Count)
			out.Vectors = make([]float32, 0, out.Count*int64(out.Dim))
		}
	}
	vec := make([]float32, out.Dim)
	for {
		id, v, err := r.Next(vec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		out.IDs = append(out.IDs, id)
		out.Vectors = append(out.Vectors, v...)
	}
	out.Count = int64(len(out.IDs))
	return out, nil
}
