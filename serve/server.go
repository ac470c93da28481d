package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"selfsup/embed"
	"selfsup/index"
)

// Defaults of Config.
const (
	DefaultMaxBodyBytes   = 16 << 20
	DefaultMaxBatch       = 32
	DefaultBatchWait      = 2 * time.Millisecond
	DefaultRequestTimeout = 30 * time.Second
	DefaultK              = 10
	DefaultMaxK           = 100
	DefaultThumbSize      = 96
)

// Config sets up a Server. Zero fields take the defaults above.
type Config struct {
	// Encoder embeds the uploaded images. Required.
	Encoder *embed.Encoder
	// Index is searched by /search; nil answers /search with 404. It must
	// hold embeddings of Encoder.
	Index *index.Index
	// Classifier answers /classify; nil answers it with 404. It must have
	// been trained on Encoder's embeddings.
	Classifier *embed.Classifier
	// MaxBodyBytes bounds a request body (413 beyond).
	MaxBodyBytes int64
	// MaxPixels bounds an uploaded image's width x height (413 beyond;
	// default embed.DefaultMaxPixels).
	MaxPixels int
	// MaxBatch is the most requests one forward pass serves.
	MaxBatch int
	// BatchWait is how long the batcher waits for more requests once it
	// has some (negative: not at all).
	BatchWait time.Duration
	// RequestTimeout bounds how long a request waits for its result (503
	// beyond).
	RequestTimeout time.Duration
	// MaxK bounds the neighbours one search may ask for.
	MaxK int
	// ThumbSize is the longer side of /thumb images, in pixels.
	ThumbSize int
	// QueueLength is how many requests may wait for the batcher (503
	// beyond; default 8 x MaxBatch).
	QueueLength int
	// Decoders is how many uploads are decoded at once (default
	// GOMAXPROCS + 1); it bounds the memory that full-size images take.
	Decoders int
}

// Server answers the API. Create it with New, mount Handler, and call
// Close after the HTTP server has shut down.
type Server struct {
	cfg      Config
	jobs     chan *job
	stopped  chan struct{}
	decoders chan struct{}
	metrics  *metrics
	closing  atomic.Bool
	closeMu  sync.RWMutex // submit holds it for reading, Close for writing
	once     sync.Once
	mux      *http.ServeMux
}

// New checks cfg (the index and the classifier must belong to the
// encoder) and starts the batcher.
func New(cfg Config) (*Server, error) {
	if cfg.Encoder == nil {
		return nil, errors.New("serve: no encoder")
	}
	if cfg.Index != nil {
		if err := cfg.Index.Compatible(cfg.Encoder.ID(), cfg.Encoder.Dim()); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	if cfg.Classifier != nil {
		if err := cfg.Classifier.CheckEncoder(cfg.Encoder); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = embed.DefaultMaxPixels
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.BatchWait == 0 {
		cfg.BatchWait = DefaultBatchWait
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxK <= 0 {
		cfg.MaxK = DefaultMaxK
	}
	if cfg.ThumbSize <= 0 {
		cfg.ThumbSize = DefaultThumbSize
	}
	if cfg.QueueLength <= 0 {
		cfg.QueueLength = 8 * cfg.MaxBatch
	}
	if cfg.Decoders <= 0 {
		cfg.Decoders = runtime.GOMAXPROCS(0) + 1
	}
	s := &Server{cfg: cfg, jobs: make(chan *job, cfg.QueueLength), stopped: make(chan struct{}),
		decoders: make(chan struct{}, cfg.Decoders), metrics: newMetrics()}
	s.metrics.queued = func() int { return len(s.jobs) }
	if cfg.Index != nil {
		s.metrics.vectors = cfg.Index.Len
	}
	s.routes()
	go s.batcher()
	return s, nil
}

// Close stops accepting work, lets the batcher finish what is queued and
// waits for it. Call it after http.Server.Shutdown has returned.
func (s *Server) Close() {
	s.once.Do(func() {
		s.closeMu.Lock()
		s.closing.Store(true)
		close(s.jobs)
		s.closeMu.Unlock()
	})
	<-s.stopped
}

// Handler returns the HTTP handler of every endpoint.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	handle := func(pattern, name string, h func(w http.ResponseWriter, r *http.Request) error) {
		s.mux.Handle(pattern, s.instrument(name, h))
	}
	handle("POST /embed", "/embed", s.handleEmbed)
	handle("POST /search", "/search", s.handleSearch)
	handle("POST /classify", "/classify", s.handleClassify)
	handle("GET /healthz", "/healthz", s.handleHealth)
	handle("GET /metrics", "/metrics", s.handleMetrics)
	handle("GET /thumb/{id...}", "/thumb", s.handleThumb)
	handle("GET /{$}", "/", s.handlePage)
}

// httpError is an error with the status code it answers with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code, fmt.Sprintf(format, args...)}
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument wraps a handler: it bounds the request's time, turns a
// returned error into a JSON error response with its status code, and
// records the request in the metrics.
func (s *Server) instrument(name string, h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inflight.Add(1)
		defer s.metrics.inflight.Add(-1)
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		sw := &statusWriter{ResponseWriter: w}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		if err := h(sw, r.WithContext(ctx)); err != nil {
			code := http.StatusInternalServerError
			var he *httpError
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &he):
				code = he.code
			case errors.As(err, &mbe):
				code = http.StatusRequestEntityTooLarge
				err = fmt.Errorf("request body larger than the limit of %d bytes", mbe.Limit)
			case errors.Is(err, context.DeadlineExceeded):
				code = http.StatusServiceUnavailable
				err = fmt.Errorf("timed out after %v waiting for the model", s.cfg.RequestTimeout)
			case errors.Is(err, context.Canceled):
				code = 499 // client closed the request (nginx's convention)
			case errors.Is(err, errBusy):
				code = http.StatusServiceUnavailable
			}
			if sw.code == 0 {
				writeJSON(sw, code, map[string]string{"error": err.Error()})
			}
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		s.metrics.request(name, code, time.Since(start).Seconds())
	})
}

// writeJSON sends v with the given status.
func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(v)
}

// run sends j to the batcher and waits for its result or the deadline.
func (s *Server) run(ctx context.Context, j *job) (result, error) {
	if s.closing.Load() {
		return result{}, errorf(http.StatusServiceUnavailable, "shutting down")
	}
	j.ctx, j.done = ctx, make(chan result, 1)
	if err := s.submit(j); err != nil {
		return result{}, err
	}
	select {
	case r := <-j.done:
		if r.err != nil {
			return r, r.err
		}
		return r, nil
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
}

// parseK reads ?k= (or the JSON value when not zero), defaulting to
// DefaultK, and checks it against MaxK.
func (s *Server) parseK(r *http.Request, fromJSON int) (int, error) {
	k := fromJSON
	if q := r.URL.Query().Get("k"); q != "" && k == 0 {
		v, err := strconv.Atoi(q)
		if err != nil {
			return 0, errorf(http.StatusBadRequest, "k=%q is not a number", q)
		}
		k = v
	}
	if k == 0 {
		k = DefaultK
	}
	if k < 1 || k > s.cfg.MaxK {
		return 0, errorf(http.StatusBadRequest, "k=%d out of range [1, %d]", k, s.cfg.MaxK)
	}
	return k, nil
}

func (s *Server) handleEmbed(w http.ResponseWriter, r *http.Request) error {
	in, err := s.readInput(r, false)
	if err != nil {
		return err
	}
	res, err := s.run(r.Context(), &job{img: in.img, hasImg: true})
	if err != nil {
		return err
	}
	norm := r.URL.Query().Get("normalize")
	normalized := norm == "1" || norm == "true"
	vec := append([]float32(nil), res.vec...)
	if normalized {
		embed.Normalize(vec)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"embedding": vec, "dim": len(vec), "encoder_id": s.cfg.Encoder.ID(), "normalized": normalized})
}

// neighbour is one search result as the API returns it.
type neighbour struct {
	ID        string  `json:"id"`
	Score     float32 `json:"score"`
	Thumbnail string  `json:"thumbnail,omitempty"`
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Index == nil {
		return errorf(http.StatusNotFound, "no index loaded (start the server with --index FILE)")
	}
	start := time.Now()
	in, err := s.readInput(r, true)
	if err != nil {
		return err
	}
	k, err := s.parseK(r, in.k)
	if err != nil {
		return err
	}
	j := &job{k: k}
	if in.id != "" {
		vec, ok := s.cfg.Index.Vector(in.id)
		if !ok {
			return errorf(http.StatusNotFound, "id %q is not in the index", in.id)
		}
		j.vec, j.exclude = vec, in.id
	} else {
		j.img, j.hasImg = in.img, true
	}
	res, err := s.run(r.Context(), j)
	if err != nil {
		return err
	}
	out := make([]neighbour, len(res.hits))
	for i, h := range res.hits {
		out[i] = neighbour{ID: h.ID, Score: h.Score}
		if st, err := os.Stat(h.ID); err == nil && st.Mode().IsRegular() {
			out[i].Thumbnail = "/thumb/" + url.PathEscape(h.ID)
		}
	}
	resp := map[string]any{"neighbors": out, "k": k, "took_ms": float64(time.Since(start).Microseconds()) / 1000}
	if in.id != "" {
		resp["query_id"] = in.id
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleClassify(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Classifier == nil {
		return errorf(http.StatusNotFound, "no classifier loaded (start the server with --classifier DIR)")
	}
	in, err := s.readInput(r, false)
	if err != nil {
		return err
	}
	res, err := s.run(r.Context(), &job{img: in.img, hasImg: true, classify: true})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"predictions": res.preds, "classes": s.cfg.Classifier.Info.Classes})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	v := map[string]any{"status": "ok", "encoder_id": s.cfg.Encoder.ID(), "encoder": s.cfg.Encoder.String(),
		"dim": s.cfg.Encoder.Dim(), "classifier": s.cfg.Classifier != nil, "index": s.cfg.Index != nil}
	if s.cfg.Index != nil {
		v["index_vectors"] = s.cfg.Index.Len()
		v["index_kind"] = s.cfg.Index.Kind().String()
	}
	if s.closing.Load() {
		v["status"] = "shutting down"
		return writeJSON(w, http.StatusServiceUnavailable, v)
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.writeTo(w)
	return nil
}
