package checkpoint

import (
	"fmt"
	"slices"
	"strings"

	"selfsup/tensor"
)

// ShapeMismatch is one tensor whose shape differs between a checkpoint and a
// model.
type ShapeMismatch struct {
	Name       string
	Checkpoint []int
	Model      []int
}

// MismatchError explains why checkpoint tensors do not fit a model. Apply
// returns it with the name lists filled; Checkpoint.ApplyTo adds where the
// checkpoint came from and both architecture names, so the message can say
// what probably went wrong.
type MismatchError struct {
	// Source names the checkpoint ("checkpoint runs/x"); may be empty.
	Source string
	// CheckpointArch and ModelArch are the two architecture names, when
	// known.
	CheckpointArch, ModelArch string
	// Missing lists model tensors the checkpoint lacks, Unexpected
	// checkpoint tensors the model lacks (both only in strict mode), and
	// Shapes the tensors present in both with different shapes. All sorted.
	Missing    []string
	Unexpected []string
	Shapes     []ShapeMismatch
	// NoOverlap is set when, in non-strict mode, not one name is shared:
	// almost always a prefix mistake.
	NoOverlap bool
	// Invalid lists tensors that are nil or whose data does not fill their
	// shape, on either side.
	Invalid []string
}

// maxListed bounds how many names an error message lists per category.
const maxListed = 8

// Error lists every problem in one message, with a guess at the cause when
// one stands out.
func (e *MismatchError) Error() string {
	var parts []string
	if len(e.Invalid) > 0 {
		parts = append(parts, "nil or malformed tensors: "+listNames(e.Invalid))
	}
	if e.NoOverlap {
		parts = append(parts, "no tensor name in common (model has "+listNames(e.Missing)+"; checkpoint has "+listNames(e.Unexpected)+")")
	} else {
		if len(e.Missing) > 0 {
			parts = append(parts, fmt.Sprintf("%d missing from the checkpoint: %s", len(e.Missing), listNames(e.Missing)))
		}
		if len(e.Unexpected) > 0 {
			parts = append(parts, fmt.Sprintf("%d not in the model: %s", len(e.Unexpected), listNames(e.Unexpected)))
		}
	}
	for i, s := range e.Shapes {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more shape mismatches", len(e.Shapes)-maxListed))
			break
		}
		parts = append(parts, fmt.Sprintf("%s: shape %v in checkpoint, %v in model", s.Name, s.Checkpoint, s.Model))
	}
	msg := strings.Join(parts, "; ")
	if e.Source != "" {
		msg = e.Source + ": " + msg
	}
	if hint := e.hint(); hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

func listNames(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxListed], ", ") + fmt.Sprintf(", and %d more", len(names)-maxListed)
}

// hint guesses the cause: another architecture, or a name prefix that one
// side has and the other lacks.
func (e *MismatchError) hint() string {
	if e.CheckpointArch != "" && e.ModelArch != "" && e.CheckpointArch != e.ModelArch {
		return fmt.Sprintf("is this checkpoint from another architecture? it says %s, the model is %s", e.CheckpointArch, e.ModelArch)
	}
	if p := commonPrefix(e.Unexpected, e.Missing); p != "" {
		return fmt.Sprintf("the checkpoint's names carry the extra prefix %q: select them with WithPrefix(tensors, %q)", p, p)
	}
	if p := commonPrefix(e.Missing, e.Unexpected); p != "" {
		return fmt.Sprintf("the model's names carry the extra prefix %q that the checkpoint's lack: add it with AddPrefix(tensors, %q)", p, p)
	}
	return ""
}

// commonPrefix returns a dotted prefix p such that every name in short is p
// followed by a name in long, or "".
func commonPrefix(long, short []string) string {
	if len(long) == 0 || len(short) == 0 {
		return ""
	}
	in := make(map[string]bool, len(long))
	for _, n := range long {
		in[n] = true
	}
	first := short[0]
	for _, l := range long {
		if !strings.HasSuffix(l, "."+first) {
			continue
		}
		p := l[:len(l)-len(first)]
		ok := true
		for _, s := range short {
			if !in[p+s] {
				ok = false
				break
			}
		}
		if ok {
			return p
		}
	}
	return ""
}

// Apply copies the values of src (checkpoint tensors) into the existing
// tensors of dst (a model's tensors, by name), leaving dst's slices in place
// so that the model keeps pointing at them. In strict mode the two must
// have exactly the same names and shapes; otherwise only shared names are
// copied (loading an encoder out of a full model, say), but their shapes
// must still agree and at least one name must be shared. Nothing is copied
// unless everything fits; the error is a *MismatchError listing every
// problem.
func Apply(dst, src map[string]*tensor.Tensor, strict bool) error {
	if e := match(dst, src, strict); e != nil {
		return e
	}
	for name, d := range dst {
		if s, ok := src[name]; ok {
			copy(d.Data, s.Data)
		}
	}
	return nil
}

func match(dst, src map[string]*tensor.Tensor, strict bool) *MismatchError {
	e := &MismatchError{}
	shared := 0
	for name, d := range dst {
		s, ok := src[name]
		switch {
		case !wellFormed(d):
			e.Invalid = append(e.Invalid, "model "+name)
		case !ok:
			e.Missing = append(e.Missing, name)
		case !wellFormed(s):
			e.Invalid = append(e.Invalid, "checkpoint "+name)
		case !tensor.SameShape(d.Shape(), s.Shape()):
			e.Shapes = append(e.Shapes, ShapeMismatch{name, s.Shape(), d.Shape()})
		default:
			shared++
		}
	}
	for name := range src {
		if _, ok := dst[name]; !ok {
			e.Unexpected = append(e.Unexpected, name)
		}
	}
	slices.Sort(e.Missing)
	slices.Sort(e.Unexpected)
	slices.Sort(e.Invalid)
	slices.SortFunc(e.Shapes, func(a, b ShapeMismatch) int { return strings.Compare(a.Name, b.Name) })
	if !strict {
		e.NoOverlap = shared == 0 && len(e.Shapes) == 0 && len(dst) > 0
		if !e.NoOverlap {
			e.Missing, e.Unexpected = nil, nil
		}
	}
	if len(e.Missing)+len(e.Unexpected)+len(e.Shapes)+len(e.Invalid) == 0 && !e.NoOverlap {
		return nil
	}
	return e
}

func wellFormed(t *tensor.Tensor) bool {
	if t == nil {
		return false
	}
	n := 1
	for _, d := range t.Shape() {
		n *= d
	}
	return n == len(t.Data)
}

// ApplyTo copies the checkpoint's model tensors into model (see Apply).
// modelArch names the model's architecture; errors quote it next to the
// checkpoint's Arch and Dir. To load part of a checkpoint, select it first:
// ck.Model = WithPrefix(ck.Model, "encoder.").
func (c *Checkpoint) ApplyTo(model map[string]*tensor.Tensor, modelArch string, strict bool) error {
	if err := match(model, c.Model, strict); err != nil {
		err.Source = "checkpoint " + c.Dir
		err.CheckpointArch, err.ModelArch = c.Arch, modelArch
		return err
	}
	return Apply(model, c.Model, strict)
}

// WithPrefix returns the tensors of m whose names start with prefix, keyed by
// the rest of the name: WithPrefix(full, "encoder.") turns
// "encoder.layer1.0.conv1.weight" into "layer1.0.conv1.weight". The tensors
// are shared, not copied.
func WithPrefix(m map[string]*tensor.Tensor, prefix string) map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor)
	for name, t := range m {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			out[rest] = t
		}
	}
	return out
}

// AddPrefix returns m with prefix put before every name, the inverse of
// WithPrefix: use it to save an encoder's tensors as part of a larger model.
// The tensors are shared, not copied.
func AddPrefix(m map[string]*tensor.Tensor, prefix string) map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor, len(m))
	for name, t := range m {
		out[prefix+name] = t
	}
	return out
}
