package data

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"selfsup/internal/atomicfile"
)

// FetchOptions adjust Fetch. The zero value downloads from the official
// hosts with http.DefaultClient and reports no progress.
type FetchOptions struct {
	// BaseURL, when set, replaces the scheme and host of the official URL
	// (the path is kept): for mirrors, and for tests with a local server.
	BaseURL string
	// MD5, when set, replaces the official MD5 (hex) the archive must have.
	MD5 string
	// Progress, when set, is called as bytes arrive with the bytes done so
	// far and the total (-1 when the server does not say).
	Progress func(done, total int64)
	// Client is the HTTP client; nil means http.DefaultClient.
	Client *http.Client
	// KeepArchive keeps the .tar.gz after unpacking (it is deleted by
	// default: STL-10's is 2.6 GB).
	KeepArchive bool
}

// fileCheck is one file an unpacked dataset must hold: its length must be a
// positive multiple of record (any length when record is 0).
type fileCheck struct {
	name   string
	record int64
}

// source is a downloadable dataset.
type source struct {
	url    string
	md5    string
	folder string // folder the archive unpacks to
	files  []fileCheck
}

// sources are the official archives of the datasets Fetch can download.
var sources = map[string]source{
	"cifar10": {
		url:    "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
		md5:    "c32a1d4ab5d03f1284b67883e8d87530",
		folder: cifar10Folder,
		files: []fileCheck{
			{"data_batch_1.bin", 1 + cifarPixels}, {"data_batch_2.bin", 1 + cifarPixels},
			{"data_batch_3.bin", 1 + cifarPixels}, {"data_batch_4.bin", 1 + cifarPixels},
			{"data_batch_5.bin", 1 + cifarPixels}, {"test_batch.bin", 1 + cifarPixels},
			{"batches.meta.txt", 0},
		},
	},
	"cifar100": {
		url:    "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
		md5:    "03b5dce01913d631647c71ecec9e9cb8",
		folder: cifar100Folder,
		files: []fileCheck{
			{"train.bin", 2 + cifarPixels}, {"test.bin", 2 + cifarPixels},
			{"fine_label_names.txt", 0}, {"coarse_label_names.txt", 0},
		},
	},
	"stl10": {
		url:    "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
		md5:    "91f7769df0f17e558f3565bffb0c7dfb",
		folder: stlFolder,
		files: []fileCheck{
			{"train_X.bin", stlPixels}, {"train_y.bin", 1},
			{"test_X.bin", stlPixels}, {"test_y.bin", 1},
			{"unlabeled_X.bin", stlPixels}, {"class_names.txt", 0},
		},
	},
}

// FetchNames lists the datasets Fetch can download.
func FetchNames() []string {
	var names []string
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Fetch downloads the official archive of dataset name (cifar10, cifar100
// or stl10) into dir, checks its MD5 and unpacks it there, so that
// "name:dir" opens afterwards. It is idempotent and resumable: when the
// unpacked files are already present and well formed it does nothing; an
// interrupted download continues from its .part file (HTTP range request);
// a complete archive left from an earlier run is reused. An archive with
// the wrong MD5 is deleted and reported with the expected and actual sums.
// Archive entries that would land outside dir, links and special files are
// refused.
func Fetch(ctx context.Context, name, dir string, opts FetchOptions) error {
	src, ok := sources[name]
	if !ok {
		extra := ""
		if name == "mnist" || name == "fashion-mnist" {
			extra = "; mnist comes with the GoMNIST Go module and fashion-mnist with the Debian package dataset-fashion-mnist"
		}
		return fmt.Errorf("fetch: unknown dataset %q (can download: %s)%s", name, strings.Join(FetchNames(), ", "), extra)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	target := filepath.Join(dir, src.folder)
	if checkLayout(target, src.files) == nil {
		return nil
	}
	u, err := archiveURL(src.url, opts.BaseURL)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	archive := filepath.Join(dir, filepath.Base(u.Path))
	if !fileExists(archive) {
		if err := download(ctx, u.String(), archive, opts); err != nil {
			return fmt.Errorf("fetch %s: %w", name, err)
		}
	}
	want := strings.ToLower(src.md5)
	if opts.MD5 != "" {
		want = strings.ToLower(opts.MD5)
	}
	got, err := fileMD5(archive)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	if got != want {
		os.Remove(archive)
		return fmt.Errorf("fetch %s: %s: checksum mismatch: expected MD5 %s, got %s (download deleted; run again to retry)",
			name, archive, want, got)
	}
	if err := untarGz(archive, dir); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	if err := checkLayout(target, src.files); err != nil {
		return fmt.Errorf("fetch %s: %s unpacked but %w", name, archive, err)
	}
	if !opts.KeepArchive {
		os.Remove(archive)
	}
	return nil
}

// archiveURL returns official with its scheme and host replaced by base's.
func archiveURL(official, base string) (*url.URL, error) {
	u, err := url.Parse(official)
	if err != nil || base == "" {
		return u, err
	}
	b, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("bad base URL %q: %w", base, err)
	}
	if b.Scheme == "" || b.Host == "" {
		return nil, fmt.Errorf("bad base URL %q: want scheme://host", base)
	}
	u.Scheme, u.Host = b.Scheme, b.Host
	u.Path = strings.TrimSuffix(b.Path, "/") + u.Path
	return u, nil
}

// checkLayout verifies that dir holds the files with valid lengths.
func checkLayout(dir string, files []fileCheck) error {
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%s is missing", p)
		}
		if f.record > 0 && (st.Size() == 0 || st.Size()%f.record != 0) {
			return fmt.Errorf("%s: length %d is not a positive multiple of %d", p, st.Size(), f.record)
		}
	}
	return nil
}

// download fetches rawURL to path, going through path+".part" and resuming
// it with a range request when it exists.
func download(ctx context.Context, rawURL, path string, opts FetchOptions) error {
	part := path + ".part"
	client := opts.Client
	if client == nil {
		client = http.DefaultClient
	}
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	total := int64(-1)
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", have)) {
			return fmt.Errorf("GET %s: server resumed at %q, want byte %d", rawURL, resp.Header.Get("Content-Range"), have)
		}
		flags |= os.O_APPEND
		if resp.ContentLength >= 0 {
			total = have + resp.ContentLength
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The .part file already holds the whole archive; the MD5 check
		// that follows decides whether it is good.
		return os.Rename(part, path)
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		have = 0
		total = resp.ContentLength
	default:
		return fmt.Errorf("GET %s: %s", rawURL, resp.Status)
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	w := &progressWriter{w: f, done: have, total: total, fn: opts.Progress}
	if opts.Progress != nil {
		opts.Progress(have, total)
	}
	_, err = io.Copy(w, resp.Body)
	if err2 := f.Sync(); err == nil {
		err = err2
	}
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		return fmt.Errorf("GET %s: %w (partial download kept in %s; run again to resume)", rawURL, err, part)
	}
	if total >= 0 && w.done != total {
		return fmt.Errorf("GET %s: got %d of %d bytes (partial download kept in %s; run again to resume)", rawURL, w.done, total, part)
	}
	return os.Rename(part, path)
}

// progressWriter counts bytes written and reports them.
type progressWriter struct {
	w           io.Writer
	done, total int64
	fn          func(done, total int64)
}

// Write passes b on and reports the new byte count.
func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
	return n, err
}

// fileMD5 returns the hex MD5 of a file.
func fileMD5(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// untarGz unpacks a .tar.gz into dir. Every entry must stay inside dir;
// only folders and regular files are accepted, and each file is written
// atomically.
func untarGz(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", archive, err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		rel := filepath.FromSlash(strings.TrimPrefix(hdr.Name, "./"))
		if rel == "" || rel == "." {
			continue
		}
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("%s: entry %q would be written outside %s", archive, hdr.Name, dir)
		}
		p := filepath.Join(dir, rel)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			err := atomicfile.Write(p, 0o644, func(w io.Writer) error {
				_, err := io.Copy(w, tr)
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %s: %w", archive, hdr.Name, err)
			}
		case tar.TypeXGlobalHeader, tar.TypeXHeader:
		default:
			return fmt.Errorf("%s: entry %q is a link or special file (type %q); refusing to unpack it", archive, hdr.Name, hdr.Typeflag)
		}
	}
}
