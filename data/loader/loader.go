package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"selfsup/data"
	"selfsup/tensor"
)

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("loader: iterator closed")

// Batch is one training step's input.
type Batch struct {
	// Views holds one [N, C, H, W] tensor per configured view; row k of
	// every view comes from image Indices[k].
	Views []*tensor.Tensor
	// Labels holds the dataset label of each image (-1 when unlabeled).
	Labels []int
	// Indices holds the dataset index of each image.
	Indices []int
	// Epoch and Step locate the batch: Step counts batches from 0 within
	// the epoch.
	Epoch, Step int
}

// Len is the number of images in the batch.
func (b Batch) Len() int { return len(b.Indices) }

// Loader produces batches of augmented views from a dataset. It is safe to
// run several iterators at once (for example a training and a validation
// pass), each with its own goroutines.
type Loader struct {
	ds     data.Dataset
	cfg    Config
	shapes [][3]int

	mu   sync.Mutex
	idle []*worker // worker states kept between iterators
}

// worker is one goroutine's reusable state.
type worker struct {
	src *rand.PCG
	rng *rand.Rand
	img data.Image // decode buffer
	out data.Image // view scratch
}

// New checks the configuration against the dataset and returns a loader.
// It works out every view's output shape (reading image 0 when the dataset's
// images vary in size) so that configuration mistakes, such as a Normalize
// with three means on one-channel images, surface here rather than in a
// worker.
func New(ds data.Dataset, cfg Config) (*Loader, error) {
	if ds == nil {
		return nil, errors.New("loader: nil dataset")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("loader for %s: %w", ds.Name(), err)
	}
	n := ds.Len()
	switch {
	case n == 0:
		return nil, fmt.Errorf("loader: dataset %s is empty", ds.Name())
	case cfg.DropLast && n < cfg.BatchSize:
		return nil, fmt.Errorf("loader: dataset %s has %d images, fewer than one batch of %d with DropLast", ds.Name(), n, cfg.BatchSize)
	}
	shapes, err := viewShapes(ds, cfg)
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	return &Loader{ds: ds, cfg: cfg, shapes: shapes}, nil
}

// Dataset returns the dataset the loader reads.
func (l *Loader) Dataset() data.Dataset { return l.ds }

// Config returns the configuration with defaults filled in.
func (l *Loader) Config() Config { return l.cfg }

// ViewShapes returns the C, H, W of every view's images.
func (l *Loader) ViewShapes() [][3]int { return append([][3]int(nil), l.shapes...) }

// StepsPerEpoch is the number of batches in an epoch.
func (l *Loader) StepsPerEpoch() int {
	n, bs := l.ds.Len(), l.cfg.BatchSize
	if l.cfg.DropLast {
		return n / bs
	}
	return (n + bs - 1) / bs
}

// Order returns the dataset indices of an epoch in the order the loader
// visits them (dropped ones included at the end).
func (l *Loader) Order(epoch int) []int {
	return order(l.ds.Len(), l.cfg.Shuffle, l.cfg.Seed, epoch)
}

// Release returns a batch's tensors to tensor.Buffers. The caller must not
// use them afterwards; releasing twice is harmless.
func (l *Loader) Release(b Batch) {
	for _, t := range b.Views {
		tensor.Buffers.Put(t)
	}
}

// Epoch starts an iterator over one epoch. Call Next until it returns
// io.EOF, and Close when done (Close after the end is harmless). Cancelling
// ctx stops the iterator: Next then returns ctx's error.
func (l *Loader) Epoch(ctx context.Context, epoch int) *Iter { return l.Resume(ctx, epoch, 0) }

// Resume starts an iterator at batch step of an epoch: it yields exactly the
// batches an uninterrupted Epoch(ctx, epoch) would from that step on.
func (l *Loader) Resume(ctx context.Context, epoch, step int) *Iter {
	ctx, cancel := context.WithCancel(ctx)
	steps := l.StepsPerEpoch()
	step = min(max(step, 0), steps)
	it := &Iter{
		l:      l,
		ctx:    ctx,
		cancel: cancel,
		ready:  make(chan *pending, l.cfg.Prefetch),
		slots:  make(chan struct{}, l.cfg.Prefetch),
	}
	jobs := make(chan job, 2*l.cfg.Workers)
	perm := l.Order(epoch)
	it.wg.Add(1 + l.cfg.Workers)
	go it.dispatch(epoch, step, steps, perm, jobs)
	for range l.cfg.Workers {
		go it.work(jobs)
	}
	return it
}

// Batches ranges over one epoch: for b, err := range l.Batches(ctx, e).
// Breaking out of the loop stops the workers. A non-nil error ends the
// sequence; the batches must be released by the loop body.
func (l *Loader) Batches(ctx context.Context, epoch int) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		it := l.Epoch(ctx, epoch)
		defer it.Close()
		for {
			b, err := it.Next()
			if err == io.EOF {
				return
			}
			if !yield(b, err) || err != nil {
				return
			}
		}
	}
}

// Iter yields the batches of one epoch in order. It is meant for one
// goroutine; cancel its context to stop it from another.
type Iter struct {
	l      *Loader
	ctx    context.Context
	cancel context.CancelFunc
	ready  chan *pending  // batches in step order, possibly still filling
	slots  chan struct{}  // bounds the batches allocated ahead of Next
	wg     sync.WaitGroup // dispatcher and workers
	err    error          // sticky: io.EOF, ErrClosed, a worker's error, ctx.Err()
	closed bool
}

// pending is a batch being filled by the workers.
type pending struct {
	batch Batch
	left  atomic.Int32  // images still to do
	done  chan struct{} // closed when left reaches 0
	mu    sync.Mutex
	err   error // error of the lowest failing row
	errK  int
}

func (p *pending) fail(k int, err error) {
	p.mu.Lock()
	if p.err == nil || k < p.errK {
		p.err, p.errK = err, k
	}
	p.mu.Unlock()
}

type job struct {
	p *pending
	k int
}

// dispatch allocates batches in order, at most Prefetch ahead of Next, and
// hands their rows to the workers.
func (it *Iter) dispatch(epoch, step, steps int, perm []int, jobs chan<- job) {
	defer it.wg.Done()
	defer close(it.ready)
	defer close(jobs)
	l := it.l
	bs := l.cfg.BatchSize
	for s := step; s < steps; s++ {
		select {
		case it.slots <- struct{}{}:
		case <-it.ctx.Done():
			return
		}
		idx := perm[s*bs : min((s+1)*bs, len(perm))]
		p := l.newPending(epoch, s, idx)
		it.ready <- p // cannot block: a slot is held for it
		for k := range idx {
			select {
			case jobs <- job{p, k}:
			case <-it.ctx.Done():
				return
			}
		}
	}
}

func (l *Loader) newPending(epoch, step int, idx []int) *pending {
	n := len(idx)
	p := &pending{done: make(chan struct{})}
	p.batch = Batch{
		Views:   make([]*tensor.Tensor, len(l.shapes)),
		Labels:  make([]int, n),
		Indices: append(make([]int, 0, n), idx...),
		Epoch:   epoch,
		Step:    step,
	}
	for v, s := range l.shapes {
		p.batch.Views[v] = tensor.Buffers.Get(n, s[0], s[1], s[2])
	}
	p.left.Store(int32(n))
	return p
}

// work decodes and augments rows until the dispatcher closes jobs. After
// cancellation it only counts rows down, so that it drains quickly.
func (it *Iter) work(jobs <-chan job) {
	defer it.wg.Done()
	w := it.l.getWorker()
	defer it.l.putWorker(w)
	for j := range jobs {
		if it.ctx.Err() == nil {
			if err := it.l.fill(w, j.p, j.k); err != nil {
				j.p.fail(j.k, err)
			}
		}
		if j.p.left.Add(-1) == 0 {
			close(j.p.done)
		}
	}
}

// fill decodes row k's image and writes its views into the batch tensors.
// A panic in a transform becomes an error naming the image and view.
func (l *Loader) fill(w *worker, p *pending, k int) (err error) {
	i := p.batch.Indices[k]
	v := -1
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("loader: %s image %d view %d: augmentation panicked: %v", l.ds.Name(), i, v, r)
		}
	}()
	img, err := l.ds.Image(i, w.img)
	if err != nil {
		return fmt.Errorf("loader: %s image %d: %w", l.ds.Name(), i, err)
	}
	w.img = img
	for v = range l.cfg.Views {
		w.src.Seed(SampleSeed(l.cfg.Seed, p.batch.Epoch, i, v))
		out := l.cfg.Views[v].Apply(w.out, img, w.rng)
		if !sameMemory(out, img) {
			w.out = out // keep the grown scratch for the next image
		}
		s := l.shapes[v]
		if out.C != s[0] || out.H != s[1] || out.W != s[2] || len(out.Pix) != s[0]*s[1]*s[2] {
			return fmt.Errorf("loader: %s image %d (%dx%dx%d): view %d produced %dx%dx%d, the batch holds %dx%dx%d",
				l.ds.Name(), i, img.C, img.H, img.W, v, out.C, out.H, out.W, s[0], s[1], s[2])
		}
		n := len(out.Pix)
		copy(p.batch.Views[v].Data[k*n:(k+1)*n], out.Pix)
	}
	p.batch.Labels[k] = l.ds.Label(i)
	return nil
}

func sameMemory(a, b data.Image) bool {
	return len(a.Pix) > 0 && len(b.Pix) > 0 && &a.Pix[0] == &b.Pix[0]
}

func (l *Loader) getWorker() *worker {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := len(l.idle); k > 0 {
		w := l.idle[k-1]
		l.idle = l.idle[:k-1]
		return w
	}
	src := rand.NewPCG(0, 0)
	return &worker{src: src, rng: rand.New(src)}
}

func (l *Loader) putWorker(w *worker) {
	l.mu.Lock()
	l.idle = append(l.idle, w)
	l.mu.Unlock()
}

// Next returns the next batch of the epoch, io.EOF after the last one, the
// first error of a failed image (naming it) or the context's error. After
// any error the iterator is closed and keeps returning that error. The
// batch's tensors are the caller's until it passes them to Release.
func (it *Iter) Next() (Batch, error) {
	if it.err != nil {
		return Batch{}, it.err
	}
	// A cancelled context wins over batches already waiting: select picks
	// at random among ready cases, so check it first.
	if err := it.ctx.Err(); err != nil {
		return Batch{}, it.stop(err)
	}
	var p *pending
	select {
	case q, ok := <-it.ready:
		if !ok {
			return Batch{}, it.stop(io.EOF)
		}
		p = q
	case <-it.ctx.Done():
		return Batch{}, it.stop(it.ctx.Err())
	}
	select {
	case <-p.done:
	case <-it.ctx.Done():
		it.stop(it.ctx.Err())
		it.l.Release(p.batch) // workers have stopped: safe
		return Batch{}, it.err
	}
	<-it.slots
	if p.err != nil {
		it.l.Release(p.batch)
		return Batch{}, it.stop(p.err)
	}
	return p.batch, nil
}

// stop records err (when none is recorded yet), shuts the goroutines down
// and returns the recorded error.
func (it *Iter) stop(err error) error {
	if it.err == nil {
		it.err = err
	}
	it.shutdown()
	return it.err
}

// Close stops the workers, waits for every goroutine of the iterator to
// exit and releases the batches assembled but not yet returned. It is
// idempotent.
func (it *Iter) Close() {
	if it.err == nil {
		it.err = ErrClosed
	}
	it.shutdown()
}

func (it *Iter) shutdown() {
	if it.closed {
		return
	}
	it.closed = true
	it.cancel()
	it.wg.Wait()
	for p := range it.ready {
		it.l.Release(p.batch)
	}
}
