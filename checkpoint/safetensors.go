package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"unicode/utf8"

	"selfsup/internal/atomicfile"
	"selfsup/tensor"
)

// FormatError reports a safetensors file that cannot be read: File names it
// (empty for in-memory data) and Problem says what is wrong.
type FormatError struct {
	File    string
	Problem string
}

// Error says which file is bad and why.
func (e *FormatError) Error() string {
	if e.File == "" {
		return "safetensors: " + e.Problem
	}
	return "safetensors file " + e.File + ": " + e.Problem
}

// File is the decoded content of a safetensors file.
type File struct {
	// Names lists the tensors in the order their data lies in the file.
	Names []string
	// Tensors holds every tensor, converted to float32.
	Tensors map[string]*tensor.Tensor
	// DTypes records each tensor's stored element type, so that callers can
	// tell whether a conversion (and, for F64, a rounding) took place.
	DTypes map[string]DType
	// Metadata is the header's free-form __metadata__ map (nil if absent).
	Metadata map[string]string
}

// ioChunk is the size of the staging buffer between file bytes and float32s.
const ioChunk = 64 << 10

// Encode writes tensors and metadata to w in the safetensors format, laid
// out exactly as the reference implementation lays out float32 tensors.
// Metadata may be nil. It fails, before writing anything, on a nil tensor, a
// tensor whose data does not fill its shape, a name that is not valid UTF-8
// or is "__metadata__", and metadata that is not valid UTF-8.
func Encode(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	entries := make([]headerEntry, 0, len(tensors))
	for name, t := range tensors {
		if err := checkWritable(name, t); err != nil {
			return err
		}
		entries = append(entries, headerEntry{Name: name, DType: F32, Shape: t.Shape(), End: 4 * int64(len(t.Data))})
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("safetensors: metadata %q: not valid UTF-8", k)
		}
	}
	layout(entries)
	hdr := encodeHeader(entries, metadata)
	var buf [ioChunk]byte
	binary.LittleEndian.PutUint64(buf[:8], uint64(len(hdr)))
	if _, err := w.Write(buf[:8]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, e := range entries {
		data := tensors[e.Name].Data
		for len(data) > 0 {
			n := min(len(data), len(buf)/4)
			for i, v := range data[:n] {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			if _, err := w.Write(buf[:4*n]); err != nil {
				return err
			}
			data = data[n:]
		}
	}
	return nil
}

func checkWritable(name string, t *tensor.Tensor) error {
	switch {
	case t == nil:
		return fmt.Errorf("safetensors: tensor %q is nil", name)
	case name == metadataKey:
		return fmt.Errorf("safetensors: a tensor cannot be named %q (the header's metadata key)", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", name)
	}
	n := 1
	for _, d := range t.Shape() {
		n *= d
	}
	if n != len(t.Data) {
		return fmt.Errorf("safetensors: tensor %q has %d elements for shape %v (%d)", name, len(t.Data), t.Shape(), n)
	}
	return nil
}

// WriteFile atomically replaces path with a safetensors file holding tensors
// and metadata (see Encode): a crash or an error leaves the old file, if
// any, untouched.
func WriteFile(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return Encode(w, tensors, metadata)
	})
}

// ReadFile reads a safetensors file, converting every tensor to float32. It
// returns the tensors by name and the header's metadata (nil if absent).
func ReadFile(path string) (tensors map[string]*tensor.Tensor, metadata map[string]string, err error) {
	f, err := DecodeFile(path)
	if err != nil {
		return nil, nil, err
	}
	return f.Tensors, f.Metadata, nil
}

// DecodeFile reads a safetensors file like ReadFile, keeping the tensor order
// and stored dtypes as well. It streams the data into the tensors, so memory
// use stays near the size of the tensors themselves.
func DecodeFile(path string) (*File, error) {
	return decodeFile(path, nil)
}

// decodeFile reads path, also feeding every byte to tee when it is not nil
// (Load uses it to check digests in the same pass).
func decodeFile(path string, tee io.Writer) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &FormatError{path, "not a regular file"}
	}
	var r io.Reader = bufio.NewReaderSize(fd, ioChunk)
	if tee != nil {
		r = io.TeeReader(r, tee)
	}
	return decode(r, st.Size(), path)
}

// Decode parses a safetensors file held in memory.
func Decode(data []byte) (*File, error) {
	return decode(bytes.NewReader(data), int64(len(data)), "")
}

// decode reads a safetensors file of exactly size bytes from r. src names
// the file in errors.
func decode(r io.Reader, size int64, src string) (*File, error) {
	fail := func(format string, args ...any) (*File, error) {
		return nil, &FormatError{src, fmt.Sprintf(format, args...)}
	}
	readErr := func(err error) (*File, error) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail("file ended early (did it change while being read?)")
		}
		return nil, fmt.Errorf("read %s: %w", src, err)
	}
	if size < 8 {
		return fail("file is %d bytes, too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return readErr(err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case n > maxHeaderSize:
		return fail("header length %d is over the %d-byte limit (not a safetensors file?)", n, maxHeaderSize)
	case int64(n) > size-8:
		return fail("header length %d is larger than the rest of the file (%d bytes)", n, size-8)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return readErr(err)
	}
	entries, metadata, err := parseHeader(hdr)
	if err != nil {
		return fail("%v", err)
	}
	if err := validateLayout(entries, size-8-int64(n)); err != nil {
		return fail("%v", err)
	}
	f := &File{
		Names:    make([]string, len(entries)),
		Tensors:  make(map[string]*tensor.Tensor, len(entries)),
		DTypes:   make(map[string]DType, len(entries)),
		Metadata: metadata,
	}
	buf := make([]byte, ioChunk)
	for i, e := range entries {
		t := tensor.New(e.Shape...)
		if err := readInto(r, t.Data, e.DType, buf); err != nil {
			return readErr(err)
		}
		f.Names[i] = e.Name
		f.Tensors[e.Name] = t
		f.DTypes[e.Name] = e.DType
	}
	return f, nil
}

// readInto fills dst with len(dst) elements of type d read from r, staging
// the bytes through buf.
func readInto(r io.Reader, dst []float32, d DType, buf []byte) error {
	size := d.size()
	per := len(buf) / size
	for len(dst) > 0 {
		n := min(len(dst), per)
		if _, err := io.ReadFull(r, buf[:n*size]); err != nil {
			return err
		}
		d.decodeInto(dst[:n], buf[:n*size])
		dst = dst[n:]
	}
	return nil
}
