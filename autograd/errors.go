package autograd

import (
	"errors"
	"fmt"

	"selfsup/tensor"
)

// OpError is the panic value of an op called with arguments it cannot take
// (mismatched shapes, bad indices). It names the op and what was wrong.
type OpError struct {
	Op  string
	Msg string
}

func (e *OpError) Error() string { return "autograd." + e.Op + ": " + e.Msg }

func opErr(op, format string, args ...any) *OpError {
	return &OpError{Op: op, Msg: fmt.Sprintf(format, args...)}
}

// Guard runs f and turns an *OpError panic into a returned error, so code at
// an API boundary (a training step, a request handler) reports a readable
// error instead of crashing. Other panics propagate.
func Guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			var oe *OpError
			if e, ok := r.(error); ok && errors.As(e, &oe) {
				err = oe
				return
			}
			panic(r)
		}
	}()
	return f()
}

func checkSameShape(op string, a, b *Var) {
	if !tensor.SameShape(a.Value.Shape(), b.Value.Shape()) {
		panic(opErr(op, "shapes %v and %v differ", a.Value.Shape(), b.Value.Shape()))
	}
}

func checkDims(op, what string, v *Var, dims int) {
	if v.Value.Dims() != dims {
		panic(opErr(op, "%s must have %d dimensions, got shape %v", what, dims, v.Value.Shape()))
	}
}
