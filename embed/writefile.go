package embed

import (
	"fmt"
	"io"
	"os"
	"strings"

	"selfsup/internal/atomicfile"
)

// RecordWriter is implemented by the writers of both formats.
type RecordWriter interface {
	// Write appends one record.
	Write(id string, vec []float32) error
	// Count returns the number of records written so far.
	Count() int64
	// Close completes the file (final count, flush).
	Close() error
}

// Formats lists the file formats WriteFile produces.
var Formats = []string{"bin", "npy"}

// FormatOf guesses a file's format from its name: "npy" for .npy, "bin"
// otherwise.
func FormatOf(path string) string {
	if strings.HasSuffix(strings.ToLower(path), ".npy") {
		return "npy"
	}
	return "bin"
}

// WriteFile creates an embeddings file at path in format ("bin" or "npy";
// "" guesses from the name) and lets fill stream records into it. The file
// (and, for .npy, its ID side file) appears atomically once fill returns
// nil and the writer is closed; on any error no output is left behind and
// an earlier file at path is untouched.
func WriteFile(path, format string, dim int, encoderID string, normalized bool, fill func(RecordWriter) error) error {
	if format == "" {
		format = FormatOf(path)
	}
	switch format {
	case "bin":
		return atomicfile.Write(path, 0o644, func(w io.Writer) error {
			ew, err := NewWriter(w, dim, encoderID, normalized)
			if err != nil {
				return err
			}
			if err := fill(ew); err != nil {
				return err
			}
			return ew.Close()
		})
	case "npy":
		return atomicfile.Write(path, 0o644, func(w io.Writer) error {
			f, ok := w.(*os.File)
			if !ok {
				return fmt.Errorf("internal error: %T is not a file", w)
			}
			return atomicfile.Write(IDsPath(path), 0o644, func(ids io.Writer) error {
				ew, err := NewNPYWriter(f, ids, dim, encoderID, normalized)
				if err != nil {
					return err
				}
				if err := fill(ew); err != nil {
					return err
				}
				return ew.Close()
			})
		})
	case "parquet":
		return fmt.Errorf("%s: the parquet format is not implemented (use bin or npy)", path)
	}
	return fmt.Errorf("%s: unknown embeddings format %q (bin or npy)", path, format)
}
