package serve

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"

	"golang.org/x/image/draw"

	"selfsup/embed"
)

// handleThumb serves a small PNG of an indexed image whose ID is the path
// of an image file. Only IDs in the index are served, so the endpoint
// cannot read other files.
func (s *Server) handleThumb(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if s.cfg.Index == nil || !s.cfg.Index.Has(id) {
		return errorf(http.StatusNotFound, "id %q is not in the index", id)
	}
	f, err := os.Open(id)
	if err != nil {
		return errorf(http.StatusNotFound, "id %q has no image file", id)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return errorf(http.StatusNotFound, "id %q is not an image file", id)
	}
	if st.Size() > s.cfg.MaxBodyBytes*4 {
		return errorf(http.StatusRequestEntityTooLarge, "the image file of %q is too large to thumbnail (%d bytes)", id, st.Size())
	}
	raw, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	select {
	case s.decoders <- struct{}{}:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	img, err := embed.DecodeImage(raw, s.cfg.MaxPixels)
	<-s.decoders
	if err != nil {
		if errors.Is(err, embed.ErrTooLarge) {
			return errorf(http.StatusRequestEntityTooLarge, "%v", err)
		}
		return errorf(http.StatusNotFound, "id %q: %v", id, err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, thumbnail(img, s.cfg.ThumbSize)); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "max-age=3600")
	_, err = w.Write(buf.Bytes())
	return err
}

// thumbnail scales img so that its longer side is at most size pixels
// (small images are scaled up to it, so MNIST digits stay visible).
func thumbnail(img image.Image, size int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w >= h {
		w, h = size, max(1, h*size/w)
	} else {
		w, h = max(1, w*size/h), size
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	scaler := draw.Interpolator(draw.CatmullRom)
	if b.Dx() < w {
		scaler = draw.NearestNeighbor // crisp pixels when enlarging
	}
	scaler.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}
