package fanout_test

import (
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/product/vod"
)

// faultAdjustedBound is plan.LowerBound under faults, the floor the fleet
// benchmarks measure a run against: when a fraction lost of the calls
// (0 ≤ lost < 1) is answered with throttling or an error, each such answer
// still takes a quota slot, so an API's n calls need n ÷ (1 − lost) slots.
// 300 CDN targets at 30 calls/s with 30% throttled and 2% answered 5xx
// cannot end before 300 ÷ (30 × 0.68) ≈ 14.7 s.
func faultAdjustedBound(calls []plan.Call, lost float64) time.Duration {
	if lost <= 0 || lost >= 1 {
		return plan.LowerBound(calls)
	}
	return time.Duration(float64(plan.LowerBound(calls)) / (1 - lost))
}

func TestFaultAdjustedBound(t *testing.T) {
	var calls []plan.Call
	for range 300 {
		calls = append(calls, plan.Call{API: cdn.SetAPI})
	}
	for range 100 {
		calls = append(calls, plan.Call{API: vod.SetAPI})
	}
	if got := plan.LowerBound(calls); got != 10*time.Second {
		t.Fatalf("lower bound %v, want 10s", got)
	}
	lost := 0.32 // 30% throttled, 2% 5xx
	for _, tt := range []struct {
		lost float64
		want time.Duration
	}{
		{lost, time.Duration(float64(10*time.Second) / (1 - lost))}, // 300 ÷ (30 × 0.68)
		{0, 10 * time.Second},
		{1, 10 * time.Second}, // out of range: the plain bound
	} {
		if got := faultAdjustedBound(calls, tt.lost); got != tt.want {
			t.Errorf("lost %v: %v, want %v", tt.lost, got, tt.want)
		}
	}
}
