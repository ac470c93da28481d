package plot

import (
	"fmt"
	"math"
	"strconv"
)

// Range fixes an axis to [Min, Max]. The zero Range (or any with
// Max <= Min) means "fit the data".
type Range struct {
	Min, Max float64
}

func (r Range) set() bool { return finite(r.Min) && finite(r.Max) && r.Max > r.Min }

// scale maps data values on one axis to pixels: lo maps to p0 and hi to
// p1 (for a y axis p0 is the bottom of the plot, so p1 < p0).
type scale struct {
	lo, hi float64
	log    bool
	p0, p1 float64
}

// valid reports whether v can be placed on the axis at all.
func (s scale) valid(v float64) bool { return finite(v) && (!s.log || v > 0) }

// pix maps a data value to a pixel coordinate. Values outside the range
// map outside [p0, p1]; invalid values give NaN.
func (s scale) pix(v float64) float64 {
	if !s.valid(v) {
		return math.NaN()
	}
	lo, hi := s.lo, s.hi
	if s.log {
		v, lo, hi = math.Log10(v), math.Log10(lo), math.Log10(hi)
	}
	return s.p0 + (v-lo)/(hi-lo)*(s.p1-s.p0)
}

// dataRange returns the span of the valid values seen by add, padded by a
// fraction pad of the span on each side (in log space for a log axis).
type dataRange struct {
	lo, hi float64
	n      int
	log    bool
}

func newDataRange(log bool) dataRange { return dataRange{lo: math.Inf(1), hi: math.Inf(-1), log: log} }

func (d *dataRange) add(v float64) {
	if !finite(v) || (d.log && v <= 0) {
		return
	}
	d.n++
	d.lo = math.Min(d.lo, v)
	d.hi = math.Max(d.hi, v)
}

// limits turns the data span into axis limits: a fixed range wins; a
// single value gets a span around it; otherwise the span is padded.
func (d dataRange) limits(fixed Range, pad float64) (lo, hi float64, err error) {
	if fixed.set() {
		if d.log && fixed.Min <= 0 {
			return 0, 0, fmt.Errorf("range [%g, %g] is not positive, which a log axis needs", fixed.Min, fixed.Max)
		}
		return fixed.Min, fixed.Max, nil
	}
	if d.n == 0 {
		return 0, 0, fmt.Errorf("no values to draw")
	}
	lo, hi = d.lo, d.hi
	if d.log {
		llo, lhi := math.Log10(lo), math.Log10(hi)
		if lhi-llo < 1e-9 {
			llo, lhi = llo-0.5, lhi+0.5
		}
		p := pad * (lhi - llo)
		return math.Pow(10, llo-p), math.Pow(10, lhi+p), nil
	}
	if hi-lo <= 1e-12*math.Max(math.Abs(lo), math.Abs(hi)) {
		w := math.Abs(lo) * 0.1
		if w == 0 {
			w = 1
		}
		return lo - w, hi + w, nil
	}
	p := pad * (hi - lo)
	return lo - p, hi + p, nil
}

// tick is one axis mark; minor ticks have no label and no grid line.
type tick struct {
	v     float64
	label string
	minor bool
}

// niceStep returns the smallest step of the form m*10^k (m in 1, 2, 5)
// that puts at most maxTicks ticks in [lo, hi], as m and 10^k (or, for
// negative k, the divisor 10^-k so that tick values can be computed
// exactly as integer/divisor).
func niceStep(lo, hi float64, maxTicks int) (m int64, mag float64, div float64) {
	span := hi - lo
	raw := span / float64(max(maxTicks, 2))
	k := int(math.Floor(math.Log10(raw)))
	for ; ; k++ {
		for _, mm := range []int64{1, 2, 5} {
			step := float64(mm) * math.Pow10(k)
			n := math.Floor(hi/step+1e-9) - math.Ceil(lo/step-1e-9) + 1
			if n <= float64(maxTicks) {
				if k < 0 {
					return mm, 1, math.Pow10(-k)
				}
				return mm, math.Pow10(k), 1
			}
		}
	}
}

// niceTicks returns round tick values (multiples of 1, 2 or 5 times a
// power of ten) inside [lo, hi], at most maxTicks of them, and the step.
func niceTicks(lo, hi float64, maxTicks int) (vals []float64, step float64) {
	if !(hi > lo) || !finite(lo) || !finite(hi) {
		return nil, 0
	}
	m, mag, div := niceStep(lo, hi, maxTicks)
	step = float64(m) * mag / div
	first := int64(math.Ceil(lo/step - 1e-9))
	last := int64(math.Floor(hi/step + 1e-9))
	for i := first; i <= last; i++ {
		v := float64(i*m) * mag / div
		if v == 0 {
			v = 0 // no negative zero
		}
		vals = append(vals, v)
	}
	return vals, step
}

// linearTicks returns labelled ticks for a linear axis.
func linearTicks(lo, hi float64, maxTicks int) []tick {
	vals, step := niceTicks(lo, hi, maxTicks)
	big := math.Max(math.Abs(lo), math.Abs(hi))
	ticks := make([]tick, len(vals))
	for i, v := range vals {
		ticks[i] = tick{v: v, label: formatTick(v, step, big)}
	}
	return ticks
}

// formatTick writes a tick value with just the decimals its step needs,
// switching to exponent form for very large or very small numbers.
func formatTick(v, step, big float64) string {
	if v == 0 {
		return "0"
	}
	if big >= 1e6 || step < 1e-4 {
		return compactG(v)
	}
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// compactG formats v in the shortest form, with a short exponent ("1e6",
// "2.5e-5").
func compactG(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	for i := 0; i < len(s); i++ {
		if s[i] != 'e' {
			continue
		}
		mant, exp := s[:i], s[i+1:]
		sign := ""
		if exp[0] == '-' {
			sign = "-"
		}
		exp = exp[1:]
		for len(exp) > 1 && exp[0] == '0' {
			exp = exp[1:]
		}
		return mant + "e" + sign + exp
	}
	return s
}

// logTicks returns ticks for a log axis over [lo, hi] (both > 0): powers
// of ten (every few decades when the range is wide), 2 and 5 times them
// when the range is narrow, unlabelled minor ticks at 2..9 when there is
// room, and plain linear ticks when the range is less than a decade.
func logTicks(lo, hi float64, maxTicks int) []tick {
	if !(lo > 0) || !(hi > lo) {
		return nil
	}
	const eps = 1e-9
	klo := int(math.Floor(math.Log10(lo) + eps))
	khi := int(math.Ceil(math.Log10(hi) - eps))
	inRange := func(v float64) bool { return v >= lo*(1-eps) && v <= hi*(1+eps) }
	decades := khi - klo
	every := 1
	for decades/every+1 > maxTicks {
		every++
	}
	var ticks []tick
	var majors int
	for k := klo; k <= khi; k++ {
		v := math.Pow(10, float64(k))
		if inRange(v) && (k%every == 0) {
			ticks = append(ticks, tick{v: v, label: compactG(v)})
			majors++
		}
	}
	if majors >= 2 {
		if every == 1 && decades <= 8 {
			ticks = append(ticks, logMinor(klo, khi, inRange, nil)...)
		}
		return sortTicks(ticks)
	}
	// Narrow range: add 2x and 5x labels if that gives at least two.
	ticks = ticks[:0]
	for k := klo; k <= khi; k++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, float64(k))
			if inRange(v) {
				ticks = append(ticks, tick{v: v, label: compactG(v)})
			}
		}
	}
	if len(ticks) >= 2 && len(ticks) <= maxTicks {
		skip := map[float64]bool{}
		for _, t := range ticks {
			skip[t.v] = true
		}
		ticks = append(ticks, logMinor(klo, khi, inRange, skip)...)
		return sortTicks(ticks)
	}
	// Less than a decade: linear nice ticks read best.
	return linearTicks(lo, hi, maxTicks)
}

func logMinor(klo, khi int, inRange func(float64) bool, skip map[float64]bool) []tick {
	var ticks []tick
	for k := klo; k <= khi; k++ {
		for m := 2.0; m <= 9; m++ {
			v := m * math.Pow(10, float64(k))
			if inRange(v) && !skip[v] {
				ticks = append(ticks, tick{v: v, minor: true})
			}
		}
	}
	return ticks
}

func sortTicks(t []tick) []tick {
	for i := 1; i < len(t); i++ {
		for j := i; j > 0 && t[j].v < t[j-1].v; j-- {
			t[j], t[j-1] = t[j-1], t[j]
		}
	}
	return t
}

// axisTicks returns the ticks for a scale.
func axisTicks(s scale, maxTicks int) []tick {
	if s.log {
		return logTicks(s.lo, s.hi, maxTicks)
	}
	return linearTicks(s.lo, s.hi, maxTicks)
}
