package runlog

import (
	"math"
	"testing"
	"time"
)

func TestAppendCompact(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{3, "3"},
		{-42, "-42"},
		{1200, "1200"},
		{0.523, "0.523"},
		{0.52346, "0.5235"},
		{0.1, "0.1"},
		{3e-4, "0.0003"},
		{1.25e-5, "1.25e-5"},
		{-2.5e-7, "-2.5e-7"},
		{12.3456, "12.35"},
		{12345.6, "12346"},
		{2.5e12, "2.5e12"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
	}
	for _, tt := range tests {
		if got := string(appendCompact(nil, tt.v)); got != tt.want {
			t.Errorf("appendCompact(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestAppendDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{1400 * time.Millisecond, "1s"},
		{1600 * time.Millisecond, "2s"},
		{59 * time.Second, "59s"},
		{118*time.Second + 700*time.Millisecond, "1m59s"},
		{time.Hour + 3*time.Minute + 20*time.Second, "1h03m"},
		{3*24*time.Hour + 4*time.Hour, "3d04h"},
	}
	for _, tt := range tests {
		if got := string(appendDuration(nil, tt.d)); got != tt.want {
			t.Errorf("appendDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestAppendRate(t *testing.T) {
	tests := []struct {
		r    float64
		want string
	}{
		{1234.4, "1234"},
		{12.34, "12.3"},
		{5, "5.00"},
		{0.4234, "0.42"},
		{0.00123, "0.0012"},
		{0, "0"},
		{math.NaN(), "?"},
		{math.Inf(1), "?"},
	}
	for _, tt := range tests {
		if got := string(appendRate(nil, tt.r)); got != tt.want {
			t.Errorf("appendRate(%v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}
