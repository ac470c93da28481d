package checkpoint

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"time"
)

// formatTag identifies the layout of meta.json; Load refuses other values so
// that a checkpoint written by a future, incompatible selfsup fails loudly.
const formatTag = "selfsup-checkpoint/1"

// meta is the JSON form of meta.json.
type meta struct {
	Format  string              `json:"format"`
	Arch    string              `json:"arch"`
	Method  string              `json:"method,omitempty"`
	Config  json.RawMessage     `json:"config,omitempty"`
	Step    int64               `json:"step"`
	Epoch   int                 `json:"epoch"`
	Metrics metrics             `json:"metrics,omitempty"`
	Version string              `json:"selfsup_version"`
	Created time.Time           `json:"created"`
	Files   map[string]fileInfo `json:"files"`
}

// fileInfo lets Load detect a tensor file that was truncated, corrupted or
// swapped for another checkpoint's.
type fileInfo struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// metrics is a metrics map whose JSON form can carry the non-finite values
// that losses sometimes take: they are written as the strings "NaN", "+Inf"
// and "-Inf" (encoding/json refuses them as numbers).
type metrics map[string]float64

func (m metrics) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch {
		case math.IsNaN(v):
			out[k] = "NaN"
		case math.IsInf(v, 1):
			out[k] = "+Inf"
		case math.IsInf(v, -1):
			out[k] = "-Inf"
		default:
			out[k] = v
		}
	}
	return json.Marshal(out)
}

func (m *metrics) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = make(metrics, len(raw))
	for k, r := range raw {
		var v float64
		if err := json.Unmarshal(r, &v); err == nil {
			(*m)[k] = v
			continue
		}
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return fmt.Errorf("metric %q: %s is neither a number nor a string", k, r)
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !(math.IsNaN(v) || math.IsInf(v, 0)) {
			return fmt.Errorf("metric %q: string %q is not NaN, +Inf or -Inf", k, s)
		}
		(*m)[k] = v
	}
	return nil
}

// moduleVersion is the selfsup version recorded when a Checkpoint leaves
// Version empty: the main module's version from the build information
// ("(devel)" for a build from a source tree).
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == "selfsup" && bi.Main.Version != "" {
			return bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == "selfsup" {
				return d.Version
			}
		}
	}
	return "(unknown)"
}
