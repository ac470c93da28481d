package train

import (
	"sort"

	"selfsup/internal/atomicfile"
)

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func atomicWrite(path string, b []byte) error { return atomicfile.WriteFile(path, b, 0o644) }
