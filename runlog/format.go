package runlog

import (
	"math"
	"strconv"
	"time"
)

// appendCompact appends v in a short, readable form: integers without a
// decimal point, other values with four significant digits, and exponents
// without padding ("3e-5", not "3e-05").
func appendCompact(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	a := math.Abs(v)
	if v == math.Trunc(v) && a < 1e9 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	if a >= 1e4 && a < 1e9 {
		return strconv.AppendFloat(b, v, 'f', 0, 64)
	}
	start := len(b)
	b = strconv.AppendFloat(b, v, 'g', 4, 64)
	return compactExponent(b, start)
}

// compactExponent rewrites an exponent such as "e-05" or "e+07" written
// after b[start:] as "e-5" or "e7".
func compactExponent(b []byte, start int) []byte {
	e := -1
	for i := start; i < len(b); i++ {
		if b[i] == 'e' {
			e = i
			break
		}
	}
	if e < 0 || e+1 >= len(b) {
		return b
	}
	sign := b[e+1]
	digits := e + 2
	for digits < len(b)-1 && b[digits] == '0' {
		digits++
	}
	w := e + 1
	if sign == '-' {
		b[w] = '-'
		w++
	}
	w += copy(b[w:], b[digits:])
	return b[:w]
}

// appendRate appends a rate with about three significant digits.
func appendRate(b []byte, r float64) []byte {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0) || r < 0:
		return append(b, '?')
	case r >= 100:
		return strconv.AppendFloat(b, r, 'f', 0, 64)
	case r >= 10:
		return strconv.AppendFloat(b, r, 'f', 1, 64)
	case r >= 1:
		return strconv.AppendFloat(b, r, 'f', 2, 64)
	case r == 0:
		return append(b, '0')
	}
	start := len(b)
	b = strconv.AppendFloat(b, r, 'g', 2, 64)
	return compactExponent(b, start)
}

// appendDuration appends d rounded to whole seconds in a compact form:
// "45s", "1m58s", "2h03m", "3d04h".
func appendDuration(b []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	s := int64((d + time.Second/2) / time.Second)
	switch {
	case s < 60:
		b = strconv.AppendInt(b, s, 10)
		return append(b, 's')
	case s < 3600:
		b = strconv.AppendInt(b, s/60, 10)
		b = append(b, 'm')
		b = append2(b, s%60)
		return append(b, 's')
	case s < 86400:
		b = strconv.AppendInt(b, s/3600, 10)
		b = append(b, 'h')
		b = append2(b, s%3600/60)
		return append(b, 'm')
	}
	b = strconv.AppendInt(b, s/86400, 10)
	b = append(b, 'd')
	b = append2(b, s%86400/3600)
	return append(b, 'h')
}

// append2 appends 0 <= v < 100 as two digits.
func append2(b []byte, v int64) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}
