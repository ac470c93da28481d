package tensor

import (
	"math"
	"os"
	"sync"
)

// Buffers is the process-wide buffer pool. Training steps allocate the same
// sizes every step; taking buffers from here and returning them when a step's
// graph is freed keeps the steady state free of large allocations and the
// peak RSS near one step's working set.
var Buffers = &Pool{free: map[int][][]float32{}, poison: os.Getenv("SELFSUP_POOL_POISON") != ""}

// Pool recycles float32 buffers by exact length. It is safe for concurrent
// use. With SELFSUP_POOL_POISON set, returned buffers are filled with NaN, so
// a use after release shows up as NaN in tests instead of silent garbage.
type Pool struct {
	mu     sync.Mutex
	free   map[int][][]float32
	held   int64 // elements currently in free lists
	poison bool
}

// Get returns a tensor of the given shape whose contents are undefined.
func (p *Pool) Get(shape ...int) *Tensor {
	n := checkShape(shape)
	return &Tensor{shape: append([]int(nil), shape...), Data: p.getData(n)}
}

// GetZeroed returns a zeroed tensor of the given shape.
func (p *Pool) GetZeroed(shape ...int) *Tensor {
	t := p.Get(shape...)
	clear(t.Data)
	return t
}

func (p *Pool) getData(n int) []float32 {
	if n == 0 {
		return []float32{}
	}
	p.mu.Lock()
	list := p.free[n]
	if k := len(list); k > 0 {
		d := list[k-1]
		list[k-1] = nil
		p.free[n] = list[:k-1]
		p.held -= int64(n)
		p.mu.Unlock()
		return d
	}
	p.mu.Unlock()
	return make([]float32, n)
}

// Put returns t's buffer to the pool. The caller must not use t (or any view
// sharing its data) afterwards. Put(nil) is a no-op.
func (p *Pool) Put(t *Tensor) {
	if t == nil || cap(t.Data) == 0 {
		return
	}
	d := t.Data[:cap(t.Data)]
	t.Data = nil
	if p.poison {
		nan := float32(math.NaN())
		for i := range d {
			d[i] = nan
		}
	}
	p.mu.Lock()
	p.free[len(d)] = append(p.free[len(d)], d)
	p.held += int64(len(d))
	p.mu.Unlock()
}

// HeldBytes reports how many bytes sit unused in the pool.
func (p *Pool) HeldBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held * 4
}

// Trim drops every pooled buffer so the garbage collector can reclaim it.
func (p *Pool) Trim() {
	p.mu.Lock()
	p.free = map[int][][]float32{}
	p.held = 0
	p.mu.Unlock()
}
