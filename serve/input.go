package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"selfsup/data"
	"selfsup/embed"
)

// input is what a request asks about: a preprocessed image, or (search
// only) a stored ID, with an optional k from a JSON body.
type input struct {
	img data.Image
	id  string
	k   int
}

// searchRequest is the JSON body of a search by ID.
type searchRequest struct {
	ID string `json:"id"`
	K  int    `json:"k"`
}

// readInput reads the request body under the size limit: JSON (when
// allowed) naming a stored ID, a multipart form's first file, or the raw
// body as an encoded image, which it decodes and preprocesses.
func (s *Server) readInput(r *http.Request, allowJSON bool) (input, error) {
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return input{}, errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is larger than the limit of %d bytes", r.ContentLength, s.cfg.MaxBodyBytes)
	}
	body := r.Body // limited to MaxBodyBytes by instrument
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var raw []byte
	var err error
	switch {
	case ct == "application/json":
		if !allowJSON {
			return input{}, errorf(http.StatusBadRequest, "send an image (raw body or multipart form), not JSON")
		}
		dec := json.NewDecoder(body)
		dec.DisallowUnknownFields()
		var req searchRequest
		if err := dec.Decode(&req); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return input{}, err
			}
			return input{}, errorf(http.StatusBadRequest, "bad JSON body: %v (want {\"id\": \"...\", \"k\": 10})", err)
		}
		if req.ID == "" {
			return input{}, errorf(http.StatusBadRequest, `JSON body needs an "id" (or send an image instead)`)
		}
		if req.K < 0 {
			return input{}, errorf(http.StatusBadRequest, "k=%d out of range [1, %d]", req.K, s.cfg.MaxK)
		}
		return input{id: req.ID, k: req.K}, nil
	case strings.HasPrefix(ct, "multipart/"):
		if raw, err = firstFile(body, params["boundary"]); err != nil {
			return input{}, err
		}
	default:
		if raw, err = io.ReadAll(body); err != nil {
			return input{}, err
		}
	}
	if len(raw) == 0 {
		return input{}, errorf(http.StatusBadRequest, "empty body: send an image (PNG, JPEG, GIF, BMP or WebP)")
	}
	// decoding allocates in proportion to the pixels: a few at a time
	select {
	case s.decoders <- struct{}{}:
	case <-r.Context().Done():
		return input{}, r.Context().Err()
	}
	defer func() { <-s.decoders }()
	img, err := embed.DecodeImage(raw, s.cfg.MaxPixels)
	switch {
	case errors.Is(err, embed.ErrTooLarge):
		return input{}, errorf(http.StatusRequestEntityTooLarge, "%v", err)
	case err != nil:
		return input{}, errorf(http.StatusBadRequest, "%v", err)
	}
	x, err := s.cfg.Encoder.Preprocess(img, data.Image{})
	if err != nil {
		return input{}, errorf(http.StatusBadRequest, "%v", err)
	}
	return input{img: x}, nil
}

// firstFile returns the content of the first file part of a multipart
// body (a part with a file name, or else the first part named "image").
func firstFile(body io.Reader, boundary string) ([]byte, error) {
	if boundary == "" {
		return nil, errorf(http.StatusBadRequest, "multipart body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, errorf(http.StatusBadRequest, "multipart form without a file: send the image as a file field")
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, errorf(http.StatusBadRequest, "bad multipart body: %v", err)
		}
		if p.FileName() != "" || p.FormName() == "image" {
			var buf bytes.Buffer
			_, err := io.Copy(&buf, p)
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return nil, err
				}
				return nil, errorf(http.StatusBadRequest, "bad multipart body: %v", err)
			}
			return buf.Bytes(), nil
		}
	}
}
