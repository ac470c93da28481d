package serve_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"selfsup/serve"
)

// call sends a request and returns the status and the decoded JSON body
// (nil when the body is not JSON).
func call(t *testing.T, method, u, ctype string, body io.Reader) (int, map[string]any, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v map[string]any
	json.Unmarshal(raw, &v)
	return resp.StatusCode, v, raw
}

func multipartBody(t *testing.T, field, name string, content []byte) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("note", "ignored")
	fw, _ := mw.CreateFormFile(field, name)
	fw.Write(content)
	mw.Close()
	return mw.FormDataContentType(), &b
}

func TestEndpoints(t *testing.T) {
	f := newFixture(t, 12)
	_, ts := f.start(t, serve.Config{Classifier: f.clf})
	img, err := png.Decode(bytes.NewReader(f.pngs[3]))
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.enc.Embed(img)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("healthz", func(t *testing.T) {
		code, v, _ := call(t, "GET", ts.URL+"/healthz", "", nil)
		if code != 200 || v["status"] != "ok" || v["index_vectors"] != 12.0 || v["classifier"] != true || v["encoder_id"] != f.enc.ID() {
			t.Errorf("%d %v", code, v)
		}
	})
	embedOf := func(t *testing.T, v map[string]any) []float32 {
		raw, _ := v["embedding"].([]any)
		out := make([]float32, len(raw))
		for i, x := range raw {
			out[i] = float32(x.(float64))
		}
		return out
	}
	t.Run("embed raw body", func(t *testing.T) {
		code, v, raw := call(t, "POST", ts.URL+"/embed", "image/png", bytes.NewReader(f.pngs[3]))
		if code != 200 {
			t.Fatalf("%d %s", code, raw)
		}
		got := embedOf(t, v)
		if len(got) != f.enc.Dim() || v["dim"] != float64(f.enc.Dim()) {
			t.Fatalf("embedding of %d values", len(got))
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 {
				t.Fatalf("value %d: %v over HTTP, %v from Embed", i, got[i], want[i])
			}
		}
	})
	t.Run("embed multipart normalised", func(t *testing.T) {
		ct, body := multipartBody(t, "image", "x.png", f.pngs[3])
		code, v, raw := call(t, "POST", ts.URL+"/embed?normalize=true", ct, body)
		if code != 200 || v["normalized"] != true {
			t.Fatalf("%d %s", code, raw)
		}
		var n float64
		for _, x := range embedOf(t, v) {
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-4 {
			t.Errorf("squared norm %v, want 1", n)
		}
	})
	t.Run("search by image", func(t *testing.T) {
		code, v, raw := call(t, "POST", ts.URL+"/search?k=4", "application/octet-stream", bytes.NewReader(f.pngs[5]))
		if code != 200 {
			t.Fatalf("%d %s", code, raw)
		}
		nb := v["neighbors"].([]any)
		if len(nb) != 4 {
			t.Fatalf("%d neighbours, want 4", len(nb))
		}
		first := nb[0].(map[string]any)
		if first["id"] != f.files[5] || first["score"].(float64) < 0.9999 {
			t.Errorf("the image itself is not first: %v", first)
		}
		thumb, _ := first["thumbnail"].(string)
		if thumb == "" {
			t.Fatalf("no thumbnail URL for a file ID: %v", first)
		}
		resp, err := http.Get(ts.URL + thumb)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("thumbnail: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		th, err := png.Decode(resp.Body)
		if err != nil || th.Bounds().Dx() != serve.DefaultThumbSize {
			t.Errorf("thumbnail %v, %v", th, err)
		}
	})
	t.Run("search by id", func(t *testing.T) {
		body := fmt.Sprintf(`{"id": %q, "k": 3}`, f.files[2])
		code, v, raw := call(t, "POST", ts.URL+"/search", "application/json", strings.NewReader(body))
		if code != 200 {
			t.Fatalf("%d %s", code, raw)
		}
		nb := v["neighbors"].([]any)
		if len(nb) != 3 {
			t.Fatalf("%d neighbours", len(nb))
		}
		for _, n := range nb {
			if n.(map[string]any)["id"] == f.files[2] {
				t.Errorf("the query ID is among its own neighbours")
			}
		}
	})
	t.Run("classify", func(t *testing.T) {
		code, v, raw := call(t, "POST", ts.URL+"/classify", "image/png", bytes.NewReader(f.pngs[1]))
		if code != 200 {
			t.Fatalf("%d %s", code, raw)
		}
		preds := v["predictions"].([]any)
		sum := 0.0
		for _, p := range preds {
			sum += p.(map[string]any)["probability"].(float64)
		}
		if len(preds) != 2 || math.Abs(sum-1) > 1e-4 {
			t.Errorf("predictions %v", preds)
		}
		if top := preds[0].(map[string]any)["class"]; top != "bright" {
			t.Errorf("a bright training image classified %v", top)
		}
	})
	t.Run("page", func(t *testing.T) {
		code, _, raw := call(t, "GET", ts.URL+"/", "", nil)
		if code != 200 || !bytes.Contains(raw, []byte(`type="file"`)) {
			t.Errorf("%d %.100s", code, raw)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		code, _, raw := call(t, "GET", ts.URL+"/metrics", "", nil)
		text := string(raw)
		for _, want := range []string{
			`selfsup_http_requests_total{endpoint="/search",code="200"} 2`,
			`selfsup_http_requests_total{endpoint="/embed",code="200"} 2`,
			`selfsup_http_request_duration_seconds_bucket{endpoint="/classify",le="+Inf"} 1`,
			`selfsup_inference_batch_size_count 5`,
			"selfsup_index_vectors 12",
			"# TYPE selfsup_inference_batch_size histogram",
		} {
			if code != 200 || !strings.Contains(text, want) {
				t.Errorf("metrics lack %q:\n%s", want, text)
			}
		}
	})
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, 4)
	_, ts := f.start(t, serve.Config{MaxBodyBytes: 4000, MaxPixels: 50 * 50})
	big := encodePNG(t, bigNoise(40, 40)) // > 4000 bytes, < 2500 pixels
	tall := encodePNG(t, bigBlank(100, 100))
	for _, tc := range []struct {
		name, method, path, ctype string
		body                      []byte
		code                      int
		want                      string
	}{
		{"not an image", "POST", "/embed", "text/plain", []byte("hello world"), 400, "not a supported image"},
		{"empty body", "POST", "/search", "image/png", nil, 400, "empty body"},
		{"truncated png", "POST", "/search", "image/png", f.pngs[0][:50], 400, "not a supported image"},
		{"body over the limit", "POST", "/embed", "image/png", big, 413, "limit of 4000 bytes"},
		{"too many pixels", "POST", "/search", "image/png", tall, 413, "more than the limit"},
		{"unknown id", "POST", "/search", "application/json", []byte(`{"id": "nope"}`), 404, "not in the index"},
		{"bad json", "POST", "/search", "application/json", []byte(`{"id": `), 400, "bad JSON"},
		{"unknown json field", "POST", "/search", "application/json", []byte(`{"image": "x"}`), 400, "bad JSON"},
		{"json to embed", "POST", "/embed", "application/json", []byte(`{"id": "x"}`), 400, "not JSON"},
		{"bad k", "POST", "/search?k=abc", "image/png", f.pngs[0], 400, "not a number"},
		{"k too large", "POST", "/search?k=1000", "image/png", f.pngs[0], 400, "out of range"},
		{"no classifier", "POST", "/classify", "image/png", f.pngs[0], 404, "no classifier"},
		{"unknown thumbnail", "GET", "/thumb/" + url.PathEscape("/etc/passwd"), "", nil, 404, "not in the index"},
		{"multipart without file", "POST", "/embed", "multipart/form-data; boundary=xyz", []byte("--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--xyz--\r\n"), 400, "without a file"},
		{"wrong method", "GET", "/search", "", nil, 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, v, raw := call(t, tc.method, ts.URL+tc.path, tc.ctype, bytes.NewReader(tc.body))
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, raw)
			}
			if msg, _ := v["error"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want it to mention %q", msg, tc.want)
			}
		})
	}
	// a body over the limit without Content-Length (chunked) is caught
	// while reading
	pr, pw := io.Pipe()
	go func() { pw.Write(big); pw.Close() }()
	code, _, raw := call(t, "POST", ts.URL+"/embed", "image/png", pr)
	if code != 413 {
		t.Errorf("chunked oversize body: %d %s", code, raw)
	}
}

func TestTimeoutAndClose(t *testing.T) {
	f := newFixture(t, 4)
	_, ts := f.start(t, serve.Config{RequestTimeout: time.Nanosecond})
	code, v, _ := call(t, "POST", ts.URL+"/search", "image/png", bytes.NewReader(f.pngs[0]))
	if code != 503 {
		t.Errorf("a request past its deadline: %d %v", code, v)
	}
	s, ts2 := f.start(t, serve.Config{})
	s.Close()
	code, v, _ = call(t, "POST", ts2.URL+"/search", "image/png", bytes.NewReader(f.pngs[0]))
	if code != 503 || !strings.Contains(fmt.Sprint(v["error"]), "shutting down") {
		t.Errorf("after Close: %d %v", code, v)
	}
	if code, _, _ := call(t, "GET", ts2.URL+"/healthz", "", nil); code != 503 {
		t.Errorf("healthz after Close: %d", code)
	}
}

// Concurrent requests are batched and each gets its own answer.
func TestConcurrentBatching(t *testing.T) {
	f := newFixture(t, 16)
	_, ts := f.start(t, serve.Config{BatchWait: 20 * time.Millisecond, MaxBatch: 64})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := g % len(f.pngs)
			resp, err := http.Post(ts.URL+"/search?k=1", "image/png", bytes.NewReader(f.pngs[i]))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var v struct {
				Neighbors []struct{ ID string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
				errs <- fmt.Errorf("status %d, %v", resp.StatusCode, err)
				return
			}
			if len(v.Neighbors) != 1 || v.Neighbors[0].ID != f.files[i] {
				errs <- fmt.Errorf("request for image %d got %v", i, v.Neighbors)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, _, raw := call(t, "GET", ts.URL+"/metrics", "", nil)
	// 32 requests in fewer than 32 batches
	var count, sum float64
	for _, line := range strings.Split(string(raw), "\n") {
		fmt.Sscanf(line, "selfsup_inference_batch_size_count %g", &count)
		fmt.Sscanf(line, "selfsup_inference_batch_size_sum %g", &sum)
	}
	if sum != 32 || count >= 32 {
		t.Errorf("%g requests in %g batches: not batched", sum, count)
	}
}
