package plot

import "math"

// clipSegment clips the segment a-b to r (Liang-Barsky) and reports
// whether any of it is left.
func clipSegment(a, b point, r rect) (point, point, bool) {
	t0, t1 := 0.0, 1.0
	dx, dy := b.x-a.x, b.y-a.y
	edges := [4][2]float64{
		{-dx, a.x - r.x0},
		{dx, r.x1 - a.x},
		{-dy, a.y - r.y0},
		{dy, r.y1 - a.y},
	}
	for _, e := range edges {
		p, q := e[0], e[1]
		if p == 0 {
			if q < 0 {
				return a, b, false
			}
			continue
		}
		t := q / p
		if p < 0 {
			if t > t1 {
				return a, b, false
			}
			t0 = math.Max(t0, t)
		} else {
			if t < t0 {
				return a, b, false
			}
			t1 = math.Min(t1, t)
		}
	}
	ca, cb := a, b
	if t0 > 0 {
		ca = point{a.x + t0*dx, a.y + t0*dy}
	}
	if t1 < 1 {
		cb = point{a.x + t1*dx, a.y + t1*dy}
	}
	return ca, cb, true
}

// clipRuns splits pts at gaps (points with a NaN coordinate) and at the
// edges of r, and calls emit with each connected run of at least two
// points that lies inside r. Isolated finite points inside r (a gap on
// both sides) are passed to lone, so that they can be marked instead of
// vanishing. run is scratch space reused between calls.
func clipRuns(pts []point, r rect, run []point, emit func([]point), lone func(point)) []point {
	run = run[:0]
	flush := func() {
		if len(run) >= 2 {
			emit(run)
		}
		run = run[:0]
	}
	ok := func(p point) bool { return finite(p.x) && finite(p.y) }
	for i, p := range pts {
		if !ok(p) {
			flush()
			continue
		}
		prevOK := i > 0 && ok(pts[i-1])
		nextOK := i+1 < len(pts) && ok(pts[i+1])
		if !prevOK && !nextOK {
			if r.contains(p) && lone != nil {
				lone(p)
			}
			continue
		}
		if !prevOK {
			continue // the segment from p to the next point adds p
		}
		a, b, visible := clipSegment(pts[i-1], p, r)
		if !visible {
			flush()
			continue
		}
		if a != pts[i-1] || len(run) == 0 {
			flush()
			run = append(run, a)
		}
		run = append(run, b)
		if b != p {
			flush()
		}
	}
	flush()
	return run
}
