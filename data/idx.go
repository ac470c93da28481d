package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Magic numbers of the idx files used by MNIST and Fashion-MNIST: two zero
// bytes, the element type (0x08 = unsigned byte) and the number of
// dimensions.
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// maxIdxSide bounds the image side read from an idx header so that a corrupt
// header cannot make the reader allocate absurd amounts of memory.
const maxIdxSide = 1 << 14

// IDXImages holds the contents of an idx3 ubyte image file: Count images of
// Rows x Cols pixels, row-major, one image after another.
type IDXImages struct {
	Count, Rows, Cols int
	Pix               []uint8
}

// ReadIDXImages reads an idx3 unsigned-byte image file (MNIST layout), gzip
// compressed when the name ends in .gz. It checks the magic number, the
// dimensions and that the file holds exactly the number of images its header
// announces; errors name the file.
func ReadIDXImages(path string) (*IDXImages, error) {
	name := filepath.Base(path)
	body, err := readIDX(path, idxImagesMagic, 16, "idx3 ubyte images", func(hdr []byte) (int64, error) {
		n, r, c := be32(hdr[4:]), be32(hdr[8:]), be32(hdr[12:])
		if r == 0 || c == 0 || r > maxIdxSide || c > maxIdxSide {
			return 0, fmt.Errorf("bad image size %dx%d in header", r, c)
		}
		return int64(n) * int64(r) * int64(c), nil
	})
	if err != nil {
		return nil, err
	}
	n, r, c := int(be32(body.hdr[4:])), int(be32(body.hdr[8:])), int(be32(body.hdr[12:]))
	if body.got != body.want {
		return nil, fmt.Errorf("%s: truncated: header says %d images of %dx%d, file holds %s",
			name, n, r, c, strconv.FormatFloat(float64(body.got)/float64(r*c), 'f', -1, 64))
	}
	return &IDXImages{Count: n, Rows: r, Cols: c, Pix: body.data}, nil
}

// ReadIDXLabels reads an idx1 unsigned-byte label file (MNIST layout), gzip
// compressed when the name ends in .gz, checking the magic number and that
// the file holds exactly the number of labels its header announces.
func ReadIDXLabels(path string) ([]uint8, error) {
	name := filepath.Base(path)
	body, err := readIDX(path, idxLabelsMagic, 8, "idx1 ubyte labels", func(hdr []byte) (int64, error) {
		return int64(be32(hdr[4:])), nil
	})
	if err != nil {
		return nil, err
	}
	if body.got != body.want {
		return nil, fmt.Errorf("%s: truncated: header says %d labels, file holds %d", name, body.want, body.got)
	}
	return body.data, nil
}

// idxBody is the result of readIDX: the header, the body read (at most want
// bytes), how many body bytes the file held and how many the header asked for.
type idxBody struct {
	hdr       []byte
	data      []byte
	got, want int64
}

// readIDX opens path (gunzipping .gz), reads and checks a header of hdrLen
// bytes starting with magic, asks size for the body length the header
// announces, and reads the body. A file longer than announced is an error;
// a shorter one is reported back through got < want so the caller can word
// the message.
func readIDX(path string, magic uint32, hdrLen int, kind string, size func(hdr []byte) (int64, error)) (*idxBody, error) {
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	gz := strings.HasSuffix(strings.ToLower(path), ".gz")
	if gz {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: not a gzip file: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	hdr := make([]byte, hdrLen)
	if n, err := io.ReadFull(r, hdr); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: truncated header (%d bytes, need %d)", name, n, hdrLen)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if got := be32(hdr); got != magic {
		return nil, fmt.Errorf("%s: wrong magic number 0x%08x, want 0x%08x (%s)", name, got, magic, kind)
	}
	want, err := size(hdr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !gz {
		if st, err := f.Stat(); err == nil && st.Size()-int64(hdrLen) < want {
			// Do not allocate the announced size for a short raw file.
			want2 := st.Size() - int64(hdrLen)
			buf := make([]byte, want2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return &idxBody{hdr: hdr, data: buf, got: want2, want: want}, nil
		}
	}
	// Grow gradually for compressed input so that a corrupt header cannot
	// force a huge allocation; read one byte past the end to catch excess.
	var buf bytes.Buffer
	buf.Grow(int(min(want+1, 1<<26)))
	if _, err := buf.ReadFrom(io.LimitReader(r, want+1)); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: truncated gzip stream after %d bytes of data", name, buf.Len())
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	got := int64(buf.Len())
	if got > want {
		return nil, fmt.Errorf("%s: file is longer than its header says (%d bytes of data expected)", name, want)
	}
	return &idxBody{hdr: hdr, data: buf.Bytes(), got: got, want: want}, nil
}

// be32 reads a big-endian uint32, the integer format of idx headers.
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
