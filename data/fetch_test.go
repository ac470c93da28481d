package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tarEntry is one entry of a test archive.
type tarEntry struct {
	name     string
	body     []byte
	typeflag byte // 0 means a regular file
	link     string
}

func makeTarGz(t *testing.T, entries []tarEntry) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: e.typeflag, Linkname: e.link, ModTime: time.Unix(0, 0)}
		if e.typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if e.typeflag != 0 && e.typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write(e.body)
		}
	}
	tw.Close()
	zw.Close()
	return b.Bytes()
}

// cifar10Archive builds a cifar-10-binary.tar.gz in the official layout with
// per records in each batch.
func cifar10Archive(t *testing.T, per int) []byte {
	src := t.TempDir()
	writeCIFAR10(t, src, per)
	entries := []tarEntry{{name: cifar10Folder + "/", typeflag: tar.TypeDir}}
	for _, f := range []string{"batches.meta.txt", "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		body, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, tarEntry{name: cifar10Folder + "/" + f, body: body})
	}
	return makeTarGz(t, entries)
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// archiveServer serves body at the official CIFAR-10 path (with range
// support) and records the requests it gets.
type archiveServer struct {
	*httptest.Server
	mu     sync.Mutex
	ranges []string
	served int64
}

func newArchiveServer(t *testing.T, path string, body []byte) *archiveServer {
	s := &archiveServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		s.mu.Unlock()
		cw := &countingWriter{ResponseWriter: w}
		http.ServeContent(cw, r, "a.tar.gz", time.Unix(0, 0), bytes.NewReader(body))
		s.mu.Lock()
		s.served += cw.n
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

const cifar10Path = "/~kriz/cifar-10-binary.tar.gz"

func TestFetchRoundTrip(t *testing.T) {
	archive := cifar10Archive(t, 4)
	srv := newArchiveServer(t, cifar10Path, archive)
	dir := t.TempDir()
	var last, total int64
	calls := 0
	opts := FetchOptions{BaseURL: srv.URL, MD5: md5hex(archive), Progress: func(d, tot int64) { last, total = d, tot; calls++ }}
	if err := Fetch(context.Background(), "cifar10", dir, opts); err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last != int64(len(archive)) || total != int64(len(archive)) {
		t.Errorf("progress: %d calls, last %d/%d, want %d", calls, last, total, len(archive))
	}
	if fileExists(filepath.Join(dir, "cifar-10-binary.tar.gz")) || fileExists(filepath.Join(dir, "cifar-10-binary.tar.gz.part")) {
		t.Error("archive or .part left behind")
	}
	ds, err := Open("cifar10:"+dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 20 {
		t.Fatalf("len %d, want 20", ds.Len())
	}
	img, _ := ds.Image(13, Image{})
	checkPixels(t, img, 13, 3, 32, 32)
	if ds.Label(13) != 3 {
		t.Errorf("label %d", ds.Label(13))
	}

	// Idempotent: already unpacked, so no request at all.
	if err := Fetch(context.Background(), "cifar10", dir, opts); err != nil {
		t.Fatal(err)
	}
	if len(srv.ranges) != 1 {
		t.Errorf("%d requests, want 1 (second Fetch should do nothing)", len(srv.ranges))
	}
}

func TestFetchResumes(t *testing.T) {
	archive := cifar10Archive(t, 4)
	srv := newArchiveServer(t, cifar10Path, archive)
	dir := t.TempDir()
	half := len(archive) / 2
	writeFile(t, dir, "cifar-10-binary.tar.gz.part", archive[:half])
	var first int64 = -1
	opts := FetchOptions{BaseURL: srv.URL, MD5: md5hex(archive), Progress: func(d, tot int64) {
		if first < 0 {
			first = d
		}
	}}
	if err := Fetch(context.Background(), "cifar10", dir, opts); err != nil {
		t.Fatal(err)
	}
	if len(srv.ranges) != 1 || srv.ranges[0] != "bytes="+strconv.Itoa(half)+"-" {
		t.Errorf("requests with ranges %q, want one from byte %d", srv.ranges, half)
	}
	if srv.served != int64(len(archive)-half) || first != int64(half) {
		t.Errorf("served %d bytes, progress started at %d; want %d and %d", srv.served, first, len(archive)-half, half)
	}
	if _, err := Open("cifar10:"+dir, OpenOptions{Split: "test"}); err != nil {
		t.Fatal(err)
	}
}

func TestFetchFailures(t *testing.T) {
	good := cifar10Archive(t, 2)
	cases := []struct {
		name    string
		dataset string
		body    []byte
		md5     string
		want    []string
	}{
		{"checksum", "cifar10", good, "0123456789abcdef0123456789abcdef",
			[]string{"checksum mismatch: expected MD5 0123456789abcdef0123456789abcdef, got " + md5hex(good), "download deleted"}},
		{"escaping path", "cifar10", makeTarGz(t, []tarEntry{{name: "../evil.bin", body: []byte("x")}}), "",
			[]string{`entry "../evil.bin" would be written outside`}},
		{"absolute path", "cifar10", makeTarGz(t, []tarEntry{{name: "/tmp/evil.bin", body: []byte("x")}}), "",
			[]string{`entry "/tmp/evil.bin" would be written outside`}},
		{"symlink", "cifar10", makeTarGz(t, []tarEntry{{name: "cifar-10-batches-bin/l", typeflag: tar.TypeSymlink, link: "/etc/passwd"}}), "",
			[]string{"is a link or special file"}},
		{"wrong contents", "cifar10", makeTarGz(t, []tarEntry{{name: "cifar-10-batches-bin/readme", body: []byte("x")}}), "",
			[]string{"unpacked but", "data_batch_1.bin is missing"}},
		{"not found", "cifar100", good, "", []string{"404 Not Found"}},
		{"unknown", "imagenet", nil, "", []string{`unknown dataset "imagenet" (can download: cifar10, cifar100, stl10)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newArchiveServer(t, cifar10Path, tc.body)
			parent := t.TempDir()
			dir := filepath.Join(parent, "data")
			md := tc.md5
			if md == "" {
				md = md5hex(tc.body)
			}
			err := Fetch(context.Background(), tc.dataset, dir, FetchOptions{BaseURL: srv.URL, MD5: md})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
			if tc.name == "checksum" && fileExists(filepath.Join(dir, "cifar-10-binary.tar.gz")) {
				t.Error("archive with a bad checksum was kept")
			}
			if fileExists(filepath.Join(parent, "evil.bin")) {
				t.Error("an entry escaped the target folder")
			}
		})
	}
}

func TestFetchCancelledKeepsPart(t *testing.T) {
	archive := cifar10Archive(t, 4)
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(archive)))
		w.Write(archive[:1000])
		w.(http.Flusher).Flush()
		<-block
	}))
	defer srv.Close()
	defer close(block)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	opts := FetchOptions{BaseURL: srv.URL, MD5: md5hex(archive), Progress: func(d, _ int64) {
		if d >= 1000 {
			cancel()
		}
	}}
	err := Fetch(ctx, "cifar10", dir, opts)
	if err == nil || !strings.Contains(err.Error(), "run again to resume") {
		t.Fatalf("err = %v", err)
	}
	st, err := os.Stat(filepath.Join(dir, "cifar-10-binary.tar.gz.part"))
	if err != nil || st.Size() != 1000 {
		t.Fatalf("part file: %v size %v", err, st)
	}
}
