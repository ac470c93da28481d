package plot

import (
	"math"
	"slices"
	"testing"
)

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi   float64
		maxTicks int
		want     []float64
		step     float64
	}{
		{0, 1, 6, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, 0.2},
		{0, 1, 11, []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}, 0.1},
		{0, 20000, 10, []float64{0, 5000, 10000, 15000, 20000}, 5000},
		{0, 20000, 11, []float64{0, 2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 18000, 20000}, 2000},
		{-3.7, 12.1, 6, []float64{0, 5, 10}, 5},
		{-3.7, 12.1, 10, []float64{-2, 0, 2, 4, 6, 8, 10, 12}, 2},
		{0.31, 0.69, 5, []float64{0.4, 0.5, 0.6}, 0.1},
		{1e-6, 5e-6, 5, []float64{1e-6, 2e-6, 3e-6, 4e-6, 5e-6}, 1e-6},
		{95, 105, 3, []float64{95, 100, 105}, 5},
		{-1, -0.5, 6, []float64{-1, -0.9, -0.8, -0.7, -0.6, -0.5}, 0.1},
		{2, 2, 5, nil, 0},
		{math.NaN(), 1, 5, nil, 0},
	}
	for _, tt := range tests {
		got, step := niceTicks(tt.lo, tt.hi, tt.maxTicks)
		if !slices.Equal(got, tt.want) || step != tt.step {
			t.Errorf("niceTicks(%v, %v, %d) = %v step %v, want %v step %v", tt.lo, tt.hi, tt.maxTicks, got, step, tt.want, tt.step)
		}
		if len(got) > tt.maxTicks {
			t.Errorf("niceTicks(%v, %v, %d) gave %d ticks", tt.lo, tt.hi, tt.maxTicks, len(got))
		}
	}
}

func TestTickLabels(t *testing.T) {
	tests := []struct {
		lo, hi   float64
		maxTicks int
		want     []string
	}{
		{0, 1, 6, []string{"0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{0, 0.31, 4, []string{"0", "0.1", "0.2", "0.3"}},
		{0, 0.03, 4, []string{"0", "0.01", "0.02", "0.03"}},
		{0, 20000, 5, []string{"0", "5000", "10000", "15000", "20000"}},
		{0, 3e6, 4, []string{"0", "1e6", "2e6", "3e6"}},
		{0, 3e-5, 4, []string{"0", "1e-5", "2e-5", "3e-5"}},
		{-10, 10, 5, []string{"-10", "-5", "0", "5", "10"}},
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range linearTicks(tt.lo, tt.hi, tt.maxTicks) {
			got = append(got, tk.label)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("labels for [%v, %v] = %q, want %q", tt.lo, tt.hi, got, tt.want)
		}
	}
}

func TestLogTicks(t *testing.T) {
	tests := []struct {
		lo, hi    float64
		maxTicks  int
		wantMajor []string
		minor     bool // expect minor ticks
	}{
		{0.8, 125, 8, []string{"1", "10", "100"}, true},
		{1e-3, 10, 8, []string{"0.001", "0.01", "0.1", "1", "10"}, true},
		{1e-5, 1e5, 5, []string{"0.001", "1", "1000"}, false},
		{0.3, 6, 8, []string{"0.5", "1", "2", "5"}, true},
		{20, 80, 8, []string{"20", "50"}, true},
		{30, 45, 5, []string{"30", "35", "40", "45"}, false}, // under a decade: linear
	}
	for _, tt := range tests {
		ticks := logTicks(tt.lo, tt.hi, tt.maxTicks)
		var major []string
		minor := false
		for i, tk := range ticks {
			if i > 0 && tk.v <= ticks[i-1].v {
				t.Errorf("logTicks(%v, %v): not increasing at %d", tt.lo, tt.hi, i)
			}
			if tk.v < tt.lo*(1-1e-9) || tk.v > tt.hi*(1+1e-9) {
				t.Errorf("logTicks(%v, %v): tick %v outside the range", tt.lo, tt.hi, tk.v)
			}
			if tk.minor {
				minor = true
			} else {
				major = append(major, tk.label)
			}
		}
		if !slices.Equal(major, tt.wantMajor) || minor != tt.minor {
			t.Errorf("logTicks(%v, %v, %d) majors %q minor %v, want %q minor %v", tt.lo, tt.hi, tt.maxTicks, major, minor, tt.wantMajor, tt.minor)
		}
	}
}

func TestScalePix(t *testing.T) {
	lin := scale{lo: 0, hi: 10, p0: 100, p1: 300}
	logy := scale{lo: 1, hi: 1000, log: true, p0: 400, p1: 100} // y grows upwards
	tests := []struct {
		s    scale
		v    float64
		want float64
	}{
		{lin, 0, 100},
		{lin, 10, 300},
		{lin, 2.5, 150},
		{lin, -5, 0}, // outside the range maps outside the span
		{logy, 1, 400},
		{logy, 10, 300},
		{logy, 1000, 100},
		{logy, math.Sqrt(10), 350},
	}
	for _, tt := range tests {
		if got := tt.s.pix(tt.v); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("pix(%v) on %+v = %v, want %v", tt.v, tt.s, got, tt.want)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := lin.pix(v); !math.IsNaN(got) {
			t.Errorf("linear pix(%v) = %v, want NaN", v, got)
		}
	}
	for _, v := range []float64{0, -1} {
		if got := logy.pix(v); !math.IsNaN(got) {
			t.Errorf("log pix(%v) = %v, want NaN", v, got)
		}
	}
}

func TestDataRangeLimits(t *testing.T) {
	tests := []struct {
		name   string
		vals   []float64
		log    bool
		fixed  Range
		pad    float64
		lo, hi float64
		err    bool
	}{
		{"padded", []float64{0, 10}, false, Range{}, 0.05, -0.5, 10.5, false},
		{"fixed wins", []float64{0, 10}, false, Range{0, 100}, 0.05, 0, 100, false},
		{"single value", []float64{5, 5}, false, Range{}, 0.05, 4.5, 5.5, false},
		{"single zero", []float64{0}, false, Range{}, 0.05, -1, 1, false},
		{"non-finite ignored", []float64{math.NaN(), 1, math.Inf(1), 3}, false, Range{}, 0, 1, 3, false},
		{"log pads in log space", []float64{1, 100}, true, Range{}, 0.5, 0.1, 1000, false},
		{"log skips non-positive", []float64{-1, 0, 10, 1000}, true, Range{}, 0, 10, 1000, false},
		{"nothing", []float64{math.NaN()}, false, Range{}, 0.05, 0, 0, true},
		{"log fixed must be positive", []float64{1}, true, Range{0, 10}, 0, 0, 0, true},
	}
	for _, tt := range tests {
		d := newDataRange(tt.log)
		for _, v := range tt.vals {
			d.add(v)
		}
		lo, hi, err := d.limits(tt.fixed, tt.pad)
		if (err != nil) != tt.err {
			t.Errorf("%s: err = %v", tt.name, err)
			continue
		}
		if !tt.err && (math.Abs(lo-tt.lo) > 1e-9 || math.Abs(hi-tt.hi) > 1e-9) {
			t.Errorf("%s: limits %v..%v, want %v..%v", tt.name, lo, hi, tt.lo, tt.hi)
		}
	}
}

func TestClipRuns(t *testing.T) {
	nan := math.NaN()
	r := rect{0, 0, 10, 10}
	tests := []struct {
		name  string
		pts   []point
		runs  [][]point
		lones []point
	}{
		{"inside", []point{{1, 1}, {5, 5}, {9, 1}}, [][]point{{{1, 1}, {5, 5}, {9, 1}}}, nil},
		{"gap splits", []point{{1, 1}, {2, 2}, {nan, 3}, {4, 4}, {5, 5}}, [][]point{{{1, 1}, {2, 2}}, {{4, 4}, {5, 5}}}, nil},
		{"lone point", []point{{1, 1}, {nan, 0}, {5, 5}, {nan, 0}}, nil, []point{{1, 1}, {5, 5}}},
		{"leaves and comes back", []point{{5, 5}, {5, 15}, {8, 5}}, [][]point{{{5, 5}, {5, 10}}, {{6.5, 10}, {8, 5}}}, nil},
		{"crosses", []point{{-10, 5}, {20, 5}}, [][]point{{{0, 5}, {10, 5}}}, nil},
		{"outside", []point{{-10, -5}, {20, -5}}, nil, nil},
	}
	for _, tt := range tests {
		var runs [][]point
		var lones []point
		clipRuns(tt.pts, r, nil, func(p []point) { runs = append(runs, slices.Clone(p)) }, func(p point) { lones = append(lones, p) })
		if len(runs) != len(tt.runs) || len(lones) != len(tt.lones) {
			t.Errorf("%s: runs %v lones %v, want %v %v", tt.name, runs, lones, tt.runs, tt.lones)
			continue
		}
		for i := range runs {
			if !slices.EqualFunc(runs[i], tt.runs[i], func(a, b point) bool {
				return math.Abs(a.x-b.x) < 1e-9 && math.Abs(a.y-b.y) < 1e-9
			}) {
				t.Errorf("%s: run %d = %v, want %v", tt.name, i, runs[i], tt.runs[i])
			}
		}
		if !slices.Equal(lones, tt.lones) {
			t.Errorf("%s: lone points %v, want %v", tt.name, lones, tt.lones)
		}
	}
}

func TestEMA(t *testing.T) {
	got := ema([]float64{2, 2, 2, math.NaN(), 2}, 0.9)
	for i, v := range got {
		if i == 3 {
			if !math.IsNaN(v) {
				t.Errorf("NaN not passed through: %v", got)
			}
			continue
		}
		if math.Abs(v-2) > 1e-12 {
			t.Errorf("bias-corrected EMA of a constant drifted: %v", got)
		}
	}
	got = ema([]float64{0, 1}, 0.5)
	// acc = 0.5*0 + 0.5*1 = 0.5 over norm 0.75.
	if math.Abs(got[1]-0.5/0.75) > 1e-12 {
		t.Errorf("ema = %v, want [0 %v]", got, 0.5/0.75)
	}
}
