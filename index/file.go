package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"unicode/utf8"

	"selfsup/internal/atomicfile"
)

// Magic opens every index file.
const Magic = "SSUPIDX\x00"

// FormatVersion is the index file version this package writes; Load
// refuses later versions.
const FormatVersion = 1

// maxLists bounds the number of lists a file may declare.
const maxLists = 1 << 22

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Save writes the index to path atomically (a temporary file renamed over
// the target), so a reader or a crash sees the old file or the new one,
// never a mix. Searches may continue meanwhile; writes wait.
//
// The format, little-endian:
//
//	magic "SSUPIDX\x00", version u32, kind u32 (0 flat, 1 IVF), dim u32,
//	nlist u32, nprobe u32, count u64 (vectors), calibrated recall f64,
//	encoder ID (u16 length + bytes),
//	IVF only: nlist*dim f32 centroids,
//	per list: size u64, then size records (id length u32, id bytes,
//	dim f32 unit vector),
//	CRC-32C of everything before it, u32.
func (ix *Index) Save(path string) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		crc := crc32.New(castagnoli)
		if err := ix.encode(io.MultiWriter(bw, crc)); err != nil {
			return err
		}
		if err := binary.Write(bw, binary.LittleEndian, crc.Sum32()); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// encode writes everything but the checksum; the caller holds a lock.
func (ix *Index) encode(w io.Writer) error {
	le := binary.LittleEndian
	b := []byte(Magic)
	b = le.AppendUint32(b, FormatVersion)
	b = le.AppendUint32(b, uint32(ix.kind))
	b = le.AppendUint32(b, uint32(ix.dim))
	b = le.AppendUint32(b, uint32(len(ix.lists)))
	b = le.AppendUint32(b, uint32(ix.nprobe))
	b = le.AppendUint64(b, uint64(len(ix.loc)))
	b = le.AppendUint64(b, math.Float64bits(ix.recall))
	b = le.AppendUint16(b, uint16(len(ix.encoderID)))
	b = append(b, ix.encoderID...)
	if _, err := w.Write(b); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	putFloats := func(v []float32) error {
		for len(v) > 0 {
			n := min(len(v), 1<<14)
			buf = buf[:0]
			for _, x := range v[:n] {
				buf = le.AppendUint32(buf, math.Float32bits(x))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
			v = v[n:]
		}
		return nil
	}
	if ix.kind == IVF {
		if err := putFloats(ix.centroids); err != nil {
			return err
		}
	}
	d := ix.dim
	for _, l := range ix.lists {
		if _, err := w.Write(le.AppendUint64(nil, uint64(len(l.ids)))); err != nil {
			return err
		}
		for p, id := range l.ids {
			if _, err := w.Write(append(le.AppendUint32(buf[:0], uint32(len(id))), id...)); err != nil {
				return err
			}
			if err := putFloats(l.vecs[p*d : (p+1)*d]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Load reads an index file written by Save, checking its version, its
// structure and its checksum; errors name the file and the problem.
func Load(path string) (*Index, error) { return load(path, nil) }

// load reads an index file; check, when set, vets the encoder ID and the
// dimension as soon as the header is read, before the vectors are.
func load(path string, check func(encoderID string, dim int) error) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	crc := crc32.New(castagnoli)
	dec := &decoder{r: bufio.NewReaderSize(f, 1<<20), crc: crc, path: path}
	ix, err := dec.index(check)
	if err != nil {
		return nil, err
	}
	sum := crc.Sum32()
	var tail [4]byte
	if _, err := io.ReadFull(dec.r, tail[:]); err != nil {
		return nil, fmt.Errorf("%s: truncated before the checksum", path)
	}
	if got := binary.LittleEndian.Uint32(tail[:]); got != sum {
		return nil, fmt.Errorf("%s: checksum mismatch (stored %08x, computed %08x): the file is damaged", path, got, sum)
	}
	if _, err := dec.r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%s: unexpected data after the checksum", path)
	}
	return ix, nil
}

// LoadFor loads an index for use with the encoder of the given ID and
// dimension, refusing, with the reason, one built with another encoder or
// for another dimension.
func LoadFor(path, encoderID string, dim int) (*Index, error) {
	return load(path, func(id string, d int) error {
		probe := &Index{encoderID: id, dim: d}
		if err := probe.Compatible(encoderID, dim); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
}

// decoder reads an index file, hashing what it reads.
type decoder struct {
	r    *bufio.Reader
	crc  hash.Hash32
	path string
	buf  []byte
}

func (d *decoder) read(n int) ([]byte, error) {
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	b := d.buf[:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: truncated", d.path)
		}
		return nil, fmt.Errorf("%s: %w", d.path, err)
	}
	d.crc.Write(b)
	return b, nil
}

func (d *decoder) floats(dst []float32) error {
	for len(dst) > 0 {
		n := min(len(dst), 1<<14)
		b, err := d.read(4 * n)
		if err != nil {
			return err
		}
		for i := range dst[:n] {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s: damaged: a stored value is %v", d.path, v)
			}
			dst[i] = v
		}
		dst = dst[n:]
	}
	return nil
}

func (d *decoder) index(check func(string, int) error) (*Index, error) {
	le := binary.LittleEndian
	h, err := d.read(len(Magic) + 5*4 + 8 + 8 + 2)
	if err != nil {
		return nil, fmt.Errorf("%s: not an index file (%v)", d.path, err)
	}
	if string(h[:8]) != Magic {
		return nil, fmt.Errorf("%s: not an index file (magic %q, want %q)", d.path, h[:8], Magic)
	}
	ver := le.Uint32(h[8:])
	if ver == 0 || ver > FormatVersion {
		return nil, fmt.Errorf("%s: index format version %d; this build reads versions up to %d (rebuild the index or update selfsup)", d.path, ver, FormatVersion)
	}
	kind, dim, nl, nprobe := Kind(le.Uint32(h[12:])), le.Uint32(h[16:]), le.Uint32(h[20:]), le.Uint32(h[24:])
	count := le.Uint64(h[28:])
	recall := math.Float64frombits(le.Uint64(h[36:]))
	idLen := int(le.Uint16(h[44:]))
	switch {
	case kind != Flat && kind != IVF:
		return nil, fmt.Errorf("%s: unknown index kind %d", d.path, kind)
	case dim == 0 || dim > maxDim:
		return nil, fmt.Errorf("%s: dimension %d out of range", d.path, dim)
	case nl == 0 || nl > maxLists || (kind == Flat && nl != 1):
		return nil, fmt.Errorf("%s: %d lists for a %v index", d.path, nl, kind)
	case nprobe == 0 || nprobe > nl:
		return nil, fmt.Errorf("%s: nprobe %d out of range [1, %d]", d.path, nprobe, nl)
	case !(recall >= 0 && recall <= 1):
		return nil, fmt.Errorf("%s: damaged header (recall %v)", d.path, recall)
	}
	idb, err := d.read(idLen)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(string(idb), int(dim)); err != nil {
			return nil, err
		}
	}
	ix := &Index{encoderID: string(idb), dim: int(dim), kind: kind, nprobe: int(nprobe), recall: recall,
		lists: make([]*list, nl), loc: make(map[string]loc, min(count, 1<<24))}
	di := int(dim)
	if kind == IVF {
		ix.centroids = make([]float32, int(nl)*di)
		if err := d.floats(ix.centroids); err != nil {
			return nil, err
		}
	}
	var total uint64
	for l := range ix.lists {
		b, err := d.read(8)
		if err != nil {
			return nil, err
		}
		size := le.Uint64(b)
		if size > count-total {
			return nil, fmt.Errorf("%s: list %d holds %d vectors, more than the %d the header leaves", d.path, l, size, count-total)
		}
		total += size
		li := &list{ids: make([]string, size), vecs: make([]float32, int(size)*di)}
		ix.lists[l] = li
		for p := range li.ids {
			b, err := d.read(4)
			if err != nil {
				return nil, err
			}
			n := le.Uint32(b)
			if n == 0 || n > maxIDLength {
				return nil, fmt.Errorf("%s: list %d entry %d: ID length %d out of range", d.path, l, p, n)
			}
			if b, err = d.read(int(n)); err != nil {
				return nil, err
			}
			id := string(b)
			if !utf8.ValidString(id) {
				return nil, fmt.Errorf("%s: list %d entry %d: ID is not UTF-8", d.path, l, p)
			}
			if _, dup := ix.loc[id]; dup {
				return nil, fmt.Errorf("%s: ID %q is stored twice", d.path, id)
			}
			li.ids[p] = id
			ix.loc[id] = loc{int32(l), int32(p)}
			if err := d.floats(li.vecs[p*di : (p+1)*di]); err != nil {
				return nil, err
			}
		}
	}
	if total != count {
		return nil, fmt.Errorf("%s: the lists hold %d vectors, the header says %d", d.path, total, count)
	}
	return ix, nil
}

// Update applies fn to the index stored at path and saves the result, as
// one read-modify-write that concurrent Updates (from this or other
// processes) do not interleave with: it holds an exclusive lock on
// path+".lock" throughout (an advisory flock on Unix; elsewhere only
// updates within this process are serialised). The file itself is
// replaced atomically, so readers never see a partial write. If fn fails,
// the file is left unchanged.
func Update(path string, fn func(*Index) error) error {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("%s: lock: %w", path, err)
	}
	defer unlock()
	ix, err := Load(path)
	if err != nil {
		return err
	}
	if err := fn(ix); err != nil {
		return err
	}
	return ix.Save(path)
}
