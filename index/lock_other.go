//go:build !unix

package index

import "sync"

var processLock sync.Mutex

// lockFile serialises Updates within this process only: there is no
// portable file lock in the standard library outside Unix.
func lockFile(string) (func(), error) {
	processLock.Lock()
	return processLock.Unlock, nil
}
