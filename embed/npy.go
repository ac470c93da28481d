package embed

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// npyMagic opens every .npy file.
const npyMagic = "\x93NUMPY"

// npyHeaderLen is the fixed length of the header this package writes
// (magic, version, length field and the padded dictionary): long enough
// for any row count, a multiple of 64 as numpy asks, and constant so that
// the count can be filled in by seeking back.
const npyHeaderLen = 128

// IDsPath returns the side file that holds the IDs and the encoder of a
// .npy embeddings file: emb.npy -> emb.ids.json.
func IDsPath(npyPath string) string {
	return strings.TrimSuffix(npyPath, ".npy") + ".ids.json"
}

// idsFile is the JSON side file of a .npy embeddings file. Count comes
// after IDs because the IDs are streamed.
type idsFile struct {
	Format     string   `json:"format"`
	Version    int      `json:"version"`
	EncoderID  string   `json:"encoder_id"`
	Dim        int      `json:"dim"`
	Normalized bool     `json:"normalized"`
	IDs        []string `json:"ids"`
	Count      int64    `json:"count"`
}

const idsFormat = "selfsup-embedding-ids"

// NPYWriter streams embeddings as a float32 [N, Dim] .npy array (numpy
// format 1.0, readable with numpy.load) and their IDs, encoder and
// normalisation flag into the JSON side file IDsPath(npy). The array's
// header is written with a placeholder shape and rewritten with the final
// row count by Close, so the destination must be seekable.
type NPYWriter struct {
	f      io.WriteSeeker
	bw     *bufio.Writer
	ids    *bufio.Writer
	dim    int
	n      int64
	buf    []byte
	closed bool
}

// NewNPYWriter starts an .npy array in f and its ID side file in ids.
func NewNPYWriter(f io.WriteSeeker, ids io.Writer, dim int, encoderID string, normalized bool) (*NPYWriter, error) {
	if dim <= 0 || dim > MaxDim {
		return nil, fmt.Errorf("embeddings: dimension %d out of range [1, %d]", dim, MaxDim)
	}
	w := &NPYWriter{f: f, bw: bufio.NewWriterSize(f, 1<<20), ids: bufio.NewWriterSize(ids, 64<<10), dim: dim}
	if _, err := w.bw.Write(npyHeader(0, dim)); err != nil {
		return nil, err
	}
	head, _ := json.Marshal(struct {
		Format     string `json:"format"`
		Version    int    `json:"version"`
		EncoderID  string `json:"encoder_id"`
		Dim        int    `json:"dim"`
		Normalized bool   `json:"normalized"`
	}{idsFormat, FormatVersion, encoderID, dim, normalized})
	head = append(head[:len(head)-1], `,"ids":[`...)
	if _, err := w.ids.Write(head); err != nil {
		return nil, err
	}
	return w, nil
}

// npyHeader returns the fixed-length header for an [n, dim] float32 array.
func npyHeader(n int64, dim int) []byte {
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", n, dim)
	b := make([]byte, 0, npyHeaderLen)
	b = append(b, npyMagic...)
	b = append(b, 1, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(npyHeaderLen-10))
	b = append(b, dict...)
	for len(b) < npyHeaderLen-1 {
		b = append(b, ' ')
	}
	return append(b, '\n')
}

// Write appends one row and its ID (rules as for Writer.Write).
func (w *NPYWriter) Write(id string, vec []float32) error {
	if w.closed {
		return errors.New("embeddings: write after Close")
	}
	if err := checkRecord(id, vec, w.dim); err != nil {
		return err
	}
	w.buf = w.buf[:0]
	for _, v := range vec {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, math.Float32bits(v))
	}
	if _, err := w.bw.Write(w.buf); err != nil {
		return err
	}
	q, _ := json.Marshal(id)
	if w.n > 0 {
		w.ids.WriteByte(',')
	}
	if _, err := w.ids.Write(q); err != nil {
		return err
	}
	w.n++
	return nil
}

// Count returns the number of rows written so far.
func (w *NPYWriter) Count() int64 { return w.n }

// Close flushes both files and rewrites the array header with the final
// row count. It does not close the destinations.
func (w *NPYWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w.ids, `],"count":%d}`+"\n", w.n)
	if err := w.ids.Flush(); err != nil {
		return err
	}
	end, err := w.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("embeddings: .npy output must be seekable: %w", err)
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := w.f.Write(npyHeader(w.n, w.dim)); err != nil {
		return err
	}
	_, err = w.f.Seek(end, io.SeekStart)
	return err
}

var npyShape = regexp.MustCompile(`'shape':\s*\((\d+),\s*(\d+)\)`)

// readNPY reads a float32 [N, D] .npy array and its ID side file.
func readNPY(f *os.File, path string) (*Embeddings, error) {
	br := bufio.NewReaderSize(f, 1<<20)
	pre := make([]byte, 10)
	if _, err := io.ReadFull(br, pre); err != nil {
		return nil, fmt.Errorf("%s: truncated .npy header", path)
	}
	var hlen int
	switch pre[6] {
	case 1:
		hlen = int(binary.LittleEndian.Uint16(pre[8:]))
	case 2, 3:
		var more [2]byte
		if _, err := io.ReadFull(br, more[:]); err != nil {
			return nil, fmt.Errorf("%s: truncated .npy header", path)
		}
		hlen = int(binary.LittleEndian.Uint32(append(pre[8:10:10], more[:]...)))
	default:
		return nil, fmt.Errorf("%s: .npy format version %d.%d is not supported", path, pre[6], pre[7])
	}
	if hlen > 1<<16 {
		return nil, fmt.Errorf("%s: .npy header of %d bytes is implausible", path, hlen)
	}
	dict := make([]byte, hlen)
	if _, err := io.ReadFull(br, dict); err != nil {
		return nil, fmt.Errorf("%s: truncated .npy header", path)
	}
	d := string(dict)
	if !strings.Contains(d, "'descr': '<f4'") || !strings.Contains(d, "'fortran_order': False") {
		return nil, fmt.Errorf("%s: want a little-endian float32 C-order array, header is %s", path, strings.TrimSpace(d))
	}
	m := npyShape.FindStringSubmatch(d)
	if m == nil {
		return nil, fmt.Errorf("%s: want a 2-D array, header is %s", path, strings.TrimSpace(d))
	}
	n, err1 := strconv.ParseInt(m[1], 10, 64)
	dim, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil || dim <= 0 || dim > MaxDim {
		return nil, fmt.Errorf("%s: bad shape (%s, %s)", path, m[1], m[2])
	}
	if st, err := f.Stat(); err == nil && st.Size() < n*int64(dim)*4 {
		return nil, fmt.Errorf("%s: truncated: shape (%d, %d) needs %d bytes of data, the file has %d in all", path, n, dim, n*int64(dim)*4, st.Size())
	}
	idsPath := IDsPath(path)
	raw, err := os.ReadFile(idsPath)
	if err != nil {
		return nil, fmt.Errorf("%s: its ID file: %w", path, err)
	}
	var side idsFile
	if err := json.Unmarshal(raw, &side); err != nil {
		return nil, fmt.Errorf("%s: %v", idsPath, err)
	}
	if side.Format != idsFormat || side.Dim != dim || side.Count != n || int64(len(side.IDs)) != n {
		return nil, fmt.Errorf("%s: does not match %s (format %q, dim %d, %d IDs, count %d; the array is (%d, %d))",
			idsPath, path, side.Format, side.Dim, len(side.IDs), side.Count, n, dim)
	}
	out := &Embeddings{Header: Header{Version: uint32(side.Version), Dim: dim, Count: n, Normalized: side.Normalized, EncoderID: side.EncoderID},
		IDs: side.IDs, Vectors: make([]float32, n*int64(dim))}
	b := make([]byte, 4*dim)
	for i := int64(0); i < n; i++ {
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("%s: row %d: truncated", path, i)
		}
		row := out.Vectors[i*int64(dim) : (i+1)*int64(dim)]
		for j := range row {
			row[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
	}
	return out, nil
}
