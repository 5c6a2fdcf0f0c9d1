package main

import "testing"

// TestQuotaText: whole rates per second print as such; a rate documented
// per minute prints per minute, not as a long fraction per second.
func TestQuotaText(t *testing.T) {
	for _, tt := range []struct {
		q    float64
		want string
	}{
		{30, "30/s"}, {100, "100/s"}, {200.0 / 60, "200/min"}, {0.5, "30/min"}, {2.5, "150/min"}, {12.5, "12.5/s"},
	} {
		if got := quotaText(tt.q); got != tt.want {
			t.Errorf("quotaText(%v) = %q, want %q", tt.q, got, tt.want)
		}
	}
}
