//go:build unix

package index

import (
	"os"
	"sync"
	"syscall"
)

// processLock serialises Updates within this process too (flock locks are
// per open file, so two goroutines would each get their own).
var processLock sync.Mutex

// lockFile takes an exclusive advisory lock on path (created if needed)
// and returns the function that releases it.
func lockFile(path string) (func(), error) {
	processLock.Lock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		processLock.Unlock()
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		processLock.Unlock()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		processLock.Unlock()
	}, nil
}
