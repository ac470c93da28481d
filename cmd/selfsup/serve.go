package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"selfsup/embed"
	"selfsup/index"
	"selfsup/serve"
)

func init() {
	register("serve", "serve embeddings, similarity search and classification over HTTP", runServe)
}

const serveUsage = `
Usage: selfsup serve --ckpt DIR --index FILE [--addr 127.0.0.1:8080] [--classifier DIR2]

Serves a JSON API and a web page (open http://ADDR/ and drop an image):

  POST /embed     an image (raw body or multipart) -> its embedding
  POST /search    an image, or {"id": "...", "k": 10} -> the k most similar
                  indexed images with cosine similarities (?k=10)
  POST /classify  an image -> class probabilities (404 without --classifier)
  GET  /healthz   status; GET /metrics: Prometheus metrics
  GET  /thumb/ID  thumbnail of an indexed image file

Requests are batched: one forward pass and one index search serve every
request that arrived within --batch-wait, up to --max-batch. Bodies over
--max-body bytes and images over --max-pixels get 413, non-images 400,
unknown IDs 404. SIGINT or SIGTERM stops accepting connections, finishes the
requests in flight (up to --shutdown-timeout) and exits.

The index must come from embeddings of the same encoder (its ID is checked),
as must the classifier.

Examples:
  selfsup embed --ckpt runs/photos --data folder:/photos --out photos.bin
  selfsup index build --embeddings photos.bin --out photos.idx
  selfsup serve --ckpt runs/photos --index photos.idx
  curl -s --data-binary @cat.jpg 'http://127.0.0.1:8080/search?k=5'
  curl -s -F image=@7.png http://127.0.0.1:8080/classify
`

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", serveUsage, stderr)
	ckpt := fs.String("ckpt", "", "encoder checkpoint (required)")
	indexPath := fs.String("index", "", "index file from 'selfsup index build' (required)")
	classifier := fs.String("classifier", "", "classifier directory from classify-train (optional)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	maxBody := fs.Int64("max-body", serve.DefaultMaxBodyBytes, "largest request body in bytes")
	maxPixels := fs.Int("max-pixels", embed.DefaultMaxPixels, "largest image (width x height) accepted")
	maxBatch := fs.Int("max-batch", serve.DefaultMaxBatch, "most requests per forward pass")
	batchWait := fs.Duration("batch-wait", serve.DefaultBatchWait, "how long to wait for more requests to batch")
	timeout := fs.Duration("timeout", serve.DefaultRequestTimeout, "longest a request waits for the model")
	shutdown := fs.Duration("shutdown-timeout", 15*time.Second, "how long shutdown waits for requests in flight")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %v", fs.Args())
	}
	if *ckpt == "" || *indexPath == "" {
		return usageError("--ckpt and --index are required")
	}
	enc, err := embed.Load(*ckpt)
	if err != nil {
		return err
	}
	ix, err := index.LoadFor(*indexPath, enc.ID(), enc.Dim())
	if err != nil {
		return err
	}
	cfg := serve.Config{Encoder: enc, Index: ix, MaxBodyBytes: *maxBody, MaxPixels: *maxPixels, MaxBatch: *maxBatch, BatchWait: *batchWait, RequestTimeout: *timeout}
	if *classifier != "" {
		if cfg.Classifier, err = embed.LoadClassifier(*classifier); err != nil {
			return err
		}
	}
	srv, err := serve.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      *timeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Fprintf(stderr, "serving %s\n  encoder %s\n  %v\n", "http://"+ln.Addr().String()+"/", enc, ix)
	if cfg.Classifier != nil {
		fmt.Fprintf(stderr, "  classifier %s (%d classes)\n", *classifier, len(cfg.Classifier.Info.Classes))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()
	fmt.Fprintln(stderr, "shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	srv.Close()
	fmt.Fprintln(stderr, "stopped")
	return nil
}
