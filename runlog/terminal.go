package runlog

import (
	"io"
	"os"

	"golang.org/x/term"
)

// terminalInfo reports whether w is an interactive terminal and, if so, its
// width in columns (0 when unknown). Anything that is not a file descriptor
// attached to a terminal (a bytes.Buffer, a pipe, a log file) is not one,
// and neither is a terminal whose TERM is "dumb" (editors' output panes).
func terminalInfo(w io.Writer) (isTerm bool, width int) {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false, 0
	}
	fd := int(f.Fd())
	if !term.IsTerminal(fd) || os.Getenv("TERM") == "dumb" {
		return false, 0
	}
	if cols, _, err := term.GetSize(fd); err == nil && cols > 0 {
		width = cols
	}
	return true, width
}
