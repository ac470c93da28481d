package serve

import (
	"context"
	"errors"
	"time"

	"selfsup/data"
	"selfsup/embed"
	"selfsup/index"
	"selfsup/tensor"
)

// job is one request's work for the batcher.
type job struct {
	ctx      context.Context
	img      data.Image // preprocessed input, or
	vec      []float32  // a stored vector (search by ID)
	hasImg   bool
	k        int    // neighbours wanted (0: no search)
	exclude  string // ID to leave out of the neighbours
	classify bool
	done     chan result // buffered, 1
}

// result is what the batcher hands back.
type result struct {
	vec   []float32
	hits  []index.Hit
	preds []embed.Prediction
	err   error
}

// errBusy is returned when the queue is full.
var errBusy = errors.New("server busy: too many requests waiting; retry later")

// submit queues j without blocking.
func (s *Server) submit(j *job) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closing.Load() {
		return errorf(503, "shutting down")
	}
	select {
	case s.jobs <- j:
		return nil
	default:
		return errBusy
	}
}

// batcher runs until the jobs channel is closed, taking every job waiting
// (and, for up to BatchWait, more as they come, until MaxBatch) and
// running them as one batch.
func (s *Server) batcher() {
	defer close(s.stopped)
	batch := make([]*job, 0, s.cfg.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		j, ok := <-s.jobs
		if !ok {
			return
		}
		batch = append(batch[:0], j)
		open := true
	drain: // whatever is already queued
		for len(batch) < s.cfg.MaxBatch {
			select {
			case j, ok := <-s.jobs:
				if !ok {
					open = false
					break drain
				}
				batch = append(batch, j)
			default:
				break drain
			}
		}
		if open && len(batch) < s.cfg.MaxBatch && s.cfg.BatchWait > 0 {
			timer.Reset(s.cfg.BatchWait)
		wait:
			for len(batch) < s.cfg.MaxBatch {
				select {
				case j, ok := <-s.jobs:
					if !ok {
						open = false
						break wait
					}
					batch = append(batch, j)
				case <-timer.C:
					break wait
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		s.process(batch)
		clear(batch)
		if !open {
			return
		}
	}
}

// process embeds, searches and classifies one batch and answers every job.
func (s *Server) process(batch []*job) {
	live := batch[:0:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.done <- result{err: err} // the client gave up: skip its work
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	s.metrics.batch(len(live))
	res := make([]result, len(live))
	// embed every image of the batch in one forward pass
	var imgs []data.Image
	for _, j := range live {
		if j.hasImg {
			imgs = append(imgs, j.img)
		}
	}
	if len(imgs) > 0 {
		out, err := s.cfg.Encoder.EmbedImages(imgs)
		d := s.cfg.Encoder.Dim()
		r := 0
		for i, j := range live {
			if !j.hasImg {
				res[i].vec = j.vec
				continue
			}
			if err != nil {
				res[i].err = err
			} else {
				res[i].vec = out.Data[r*d : (r+1)*d : (r+1)*d]
			}
			r++
		}
		if err != nil {
			s.metrics.failure("embed")
		}
	} else {
		for i, j := range live {
			res[i].vec = j.vec
		}
	}
	// one search for every job that wants neighbours
	var qs []float32
	var who []int
	maxK := 0
	for i, j := range live {
		if j.k > 0 && res[i].err == nil {
			qs = append(qs, res[i].vec...)
			who = append(who, i)
			k := j.k
			if j.exclude != "" {
				k++
			}
			maxK = max(maxK, k)
		}
	}
	if len(who) > 0 {
		hits, err := s.cfg.Index.SearchBatch(qs, index.SearchOptions{K: maxK})
		if err != nil {
			s.metrics.failure("search")
		}
		for r, i := range who {
			if err != nil {
				res[i].err = err
				continue
			}
			j := live[i]
			keep := make([]index.Hit, 0, j.k)
			for _, h := range hits[r] {
				if h.ID != j.exclude && len(keep) < j.k {
					keep = append(keep, h)
				}
			}
			res[i].hits = keep
		}
	}
	// one classification for every job that wants probabilities
	var cs []float32
	who = who[:0]
	for i, j := range live {
		if j.classify && res[i].err == nil {
			cs = append(cs, res[i].vec...)
			who = append(who, i)
		}
	}
	if len(who) > 0 {
		preds, err := s.cfg.Classifier.Predict(tensor.FromData(cs, len(who), s.cfg.Encoder.Dim()))
		if err != nil {
			s.metrics.failure("classify")
		}
		for r, i := range who {
			if err != nil {
				res[i].err = err
			} else {
				res[i].preds = preds[r]
			}
		}
	}
	for i, j := range live {
		j.done <- res[i]
	}
}
