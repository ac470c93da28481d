package serve

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
)

// latencyBuckets are the upper bounds (seconds) of the request latency
// histograms.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// batchBuckets are the upper bounds of the inference batch size histogram.
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}

// histogram counts observations into buckets with fixed upper bounds.
type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

// write prints the histogram in the Prometheus text format with the given
// label pairs (`key="value",` each, or empty).
func (h *histogram) write(w io.Writer, name, labels string) {
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{%sle=\"%s\"} %d\n", name, labels, strconv.FormatFloat(b, 'g', -1, 64), cum)
	}
	cum += h.counts[len(h.bounds)]
	fmt.Fprintf(w, "%s_bucket{%sle=\"+Inf\"} %d\n", name, labels, cum)
	trim := labels
	if trim != "" {
		trim = "{" + trim[:len(trim)-1] + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %s\n", name, trim, strconv.FormatFloat(h.sum, 'g', -1, 64))
	fmt.Fprintf(w, "%s_count%s %d\n", name, trim, h.n)
}

// metrics is the server's instrumentation, written by WriteTo in the
// Prometheus text exposition format (version 0.0.4).
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64  // (endpoint, code) -> count
	latency  map[string]*histogram // endpoint -> seconds
	batches  *histogram            // inference batch sizes
	inflight atomic.Int64          // requests being handled
	queued   func() int            // jobs waiting for the batcher
	vectors  func() int            // index size
	errors   map[string]uint64     // batch failures by stage
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, latency: map[string]*histogram{}, batches: newHistogram(batchBuckets), errors: map[string]uint64{}}
}

// request records one finished request.
func (m *metrics) request(endpoint string, code int, seconds float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{endpoint, strconv.Itoa(code)}]++
	h := m.latency[endpoint]
	if h == nil {
		h = newHistogram(latencyBuckets)
		m.latency[endpoint] = h
	}
	h.observe(seconds)
}

// batch records the size of one inference batch.
func (m *metrics) batch(n int) {
	m.mu.Lock()
	m.batches.observe(float64(n))
	m.mu.Unlock()
}

// failure counts a batch stage that failed.
func (m *metrics) failure(stage string) {
	m.mu.Lock()
	m.errors[stage]++
	m.mu.Unlock()
}

// writeTo prints every metric.
func (m *metrics) writeTo(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP selfsup_http_requests_total HTTP requests by endpoint and status code.")
	fmt.Fprintln(w, "# TYPE selfsup_http_requests_total counter")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		fmt.Fprintf(w, "selfsup_http_requests_total{endpoint=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	fmt.Fprintln(w, "# HELP selfsup_http_request_duration_seconds Time from request to response, by endpoint.")
	fmt.Fprintln(w, "# TYPE selfsup_http_request_duration_seconds histogram")
	eps := make([]string, 0, len(m.latency))
	for e := range m.latency {
		eps = append(eps, e)
	}
	sort.Strings(eps)
	for _, e := range eps {
		m.latency[e].write(w, "selfsup_http_request_duration_seconds", fmt.Sprintf("endpoint=%q,", e))
	}
	fmt.Fprintln(w, "# HELP selfsup_inference_batch_size Requests served by one batched forward pass and search.")
	fmt.Fprintln(w, "# TYPE selfsup_inference_batch_size histogram")
	m.batches.write(w, "selfsup_inference_batch_size", "")
	fmt.Fprintln(w, "# HELP selfsup_batch_failures_total Batches whose embedding, search or classification failed.")
	fmt.Fprintln(w, "# TYPE selfsup_batch_failures_total counter")
	for _, stage := range []string{"embed", "search", "classify"} {
		fmt.Fprintf(w, "selfsup_batch_failures_total{stage=%q} %d\n", stage, m.errors[stage])
	}
	fmt.Fprintln(w, "# HELP selfsup_http_requests_in_flight Requests being handled.")
	fmt.Fprintln(w, "# TYPE selfsup_http_requests_in_flight gauge")
	fmt.Fprintf(w, "selfsup_http_requests_in_flight %d\n", m.inflight.Load())
	if m.queued != nil {
		fmt.Fprintln(w, "# HELP selfsup_inference_queue_length Requests waiting for the batcher.")
		fmt.Fprintln(w, "# TYPE selfsup_inference_queue_length gauge")
		fmt.Fprintf(w, "selfsup_inference_queue_length %d\n", m.queued())
	}
	if m.vectors != nil {
		fmt.Fprintln(w, "# HELP selfsup_index_vectors Vectors in the search index.")
		fmt.Fprintln(w, "# TYPE selfsup_index_vectors gauge")
		fmt.Fprintf(w, "selfsup_index_vectors %d\n", m.vectors())
	}
}
