package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The worker pool: Workers()-1 long-lived goroutines plus the calling one.
// A parallel loop started while another is running (from a worker, or from a
// second goroutine) runs serially in its caller instead of waiting for busy
// workers, so nesting can never deadlock.

type task struct {
	fn     func(worker, lo, hi int)
	worker int
	lo, hi int
	wg     *sync.WaitGroup
}

var (
	poolOnce  sync.Once
	poolQueue []chan task
	poolBusy  atomic.Bool
	nWorkers  int
)

func startPool() {
	nWorkers = runtime.GOMAXPROCS(0)
	if nWorkers < 1 {
		nWorkers = 1
	}
	poolQueue = make([]chan task, nWorkers)
	for w := 1; w < nWorkers; w++ {
		ch := make(chan task, 1)
		poolQueue[w] = ch
		go func() {
			for t := range ch {
				t.fn(t.worker, t.lo, t.hi)
				t.wg.Done()
			}
		}()
	}
}

// Workers returns the number of workers parallel loops use: GOMAXPROCS at
// the time of the first parallel call.
func Workers() int {
	poolOnce.Do(startPool)
	return nWorkers
}

// ParallelFor splits [0, n) into at most Workers() contiguous ranges of at
// least grain elements and calls fn(worker, lo, hi) for each, concurrently.
// worker is in [0, Workers()) and distinct for ranges that run at the same
// time, so fn may index per-worker scratch space with it.
func ParallelFor(n, grain int, fn func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if grain < 1 {
		grain = 1
	}
	parts := n / grain
	if parts > w {
		parts = w
	}
	if parts <= 1 || !poolBusy.CompareAndSwap(false, true) {
		fn(0, 0, n)
		return
	}
	defer poolBusy.Store(false)
	var wg sync.WaitGroup
	wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		lo, hi := p*n/parts, (p+1)*n/parts
		poolQueue[p] <- task{fn: fn, worker: p, lo: lo, hi: hi, wg: &wg}
	}
	fn(0, 0, n/parts)
	wg.Wait()
}

// ParallelItems calls fn(worker, i) for every i in [0, n), handing items to
// the workers one at a time from a shared counter, so a worker slowed down
// (by another process on a shared machine, or by a costlier item) does not
// hold the others up. A worker may get any number of items, in increasing
// order; worker indexes per-worker scratch space as in ParallelFor.
func ParallelItems(n int, fn func(worker, i int)) {
	if n <= 0 {
		return
	}
	w := min(Workers(), n)
	if w <= 1 || !poolBusy.CompareAndSwap(false, true) {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	defer poolBusy.Store(false)
	var next atomic.Int64
	run := func(worker, _, _ int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(worker, i)
		}
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for p := 1; p < w; p++ {
		poolQueue[p] <- task{fn: run, worker: p, wg: &wg}
	}
	run(0, 0, 0)
	wg.Wait()
}
