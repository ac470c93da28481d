// Package serve is the HTTP face of an encoder: a JSON API that embeds
// uploaded images, finds their nearest neighbours in an index and
// classifies them with a few-label probe, plus a small web page to try it
// by dropping an image. `selfsup serve` runs it; a Go service can mount
// Server.Handler in its own mux instead.
//
// Endpoints:
//
//	POST /embed     image -> {"embedding": [...], "dim", "encoder_id", "normalized"}
//	                (?normalize=true for a unit vector)
//	POST /search    image, or JSON {"id": "...", "k": 10} -> {"neighbors":
//	                [{"id", "score", "thumbnail"}]} (?k=10; an ID query leaves
//	                the item itself out)
//	POST /classify  image -> {"predictions": [{"class", "index",
//	                "probability"}]}; 404 when no classifier is loaded
//	GET  /healthz   {"status": "ok", ...}; 503 once shutting down
//	GET  /metrics   Prometheus text format: requests by endpoint and code,
//	                latency histograms, inference batch sizes, queue length
//	GET  /thumb/ID  a PNG thumbnail of an indexed image stored as a file
//	GET  /          the web page
//
// An image is sent as the raw request body (any content type but JSON) or
// as the first file of a multipart form. Bad input gets a JSON
// {"error": "..."} with 400 (not an image, bad JSON, bad k), 404 (unknown
// ID), 413 (body over MaxBodyBytes, or more pixels than MaxPixels) or 503
// (queue full, or the request's time ran out).
//
// Requests are decoded and preprocessed in their own goroutines (at most a
// few at a time, which bounds the memory full-size images take); the
// forward passes, searches and classifications run in one batcher
// goroutine that takes every request waiting, waits up to BatchWait for
// more while the batch is below MaxBatch, and runs them together: one
// forward pass and one index search per batch, so concurrency raises
// throughput instead of contending for the cores.
package serve
