package cloudsim

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestSlidingWindowAdmitsLimitPerAnySecond(t *testing.T) {
	tests := []struct {
		name      string
		perSecond float64
		every     time.Duration
		span      time.Duration
		want      int
	}{
		{"30/s hammered every ms for 3s", 30, time.Millisecond, 3 * time.Second, 90},
		{"10/s hammered every ms for 3s", 10, time.Millisecond, 3 * time.Second, 30},
		{"30/s at 20/s is never refused", 30, 50 * time.Millisecond, 3 * time.Second, 60},
		{"0.5/s hammered for 4s", 0.5, 10 * time.Millisecond, 4 * time.Second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newSlidingWindow(tt.perSecond)
			t0 := time.Unix(1700000000, 0)
			var admitted []time.Time
			for at := t0; at.Before(t0.Add(tt.span)); at = at.Add(tt.every) {
				ok, ri := w.allow(at)
				if ok {
					admitted = append(admitted, at)
				} else if ri.timeLeft <= 0 || ri.remain != 0 {
					t.Fatalf("refusal at %v says TimeLeft %v Remain %d", at.Sub(t0), ri.timeLeft, ri.remain)
				}
			}
			if len(admitted) != tt.want {
				t.Fatalf("admitted %d, want %d", len(admitted), tt.want)
			}
			for i, a := range admitted {
				n := 0
				for _, b := range admitted[i:] {
					if b.Sub(a) < w.window {
						n++
					}
				}
				if n > w.limit {
					t.Fatalf("%d admitted within one window from %v", n, a.Sub(t0))
				}
			}
		})
	}
}

// TestQuotaHoldsOverConcurrentBurst hammers one API with concurrent SDK
// calls for over three seconds and counts, in the journal, the calls the
// emulator accepted in the first three seconds after the first acceptance:
// 90 at 30 calls/s, within 5%.
func TestQuotaHoldsOverConcurrentBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("3-second burst")
	}
	s := startSim(t, testConfig())
	ep := s.Endpoints().OpenAPI
	const workers = 8
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		c := newSDK(t, ep, "simAK", "simSK", "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 3400*time.Millisecond {
				_, _ = c.call(context.Background(), "DescribeDomainCertificateInfo", map[string]string{"DomainName": "www.example.test"})
			}
		}()
	}
	wg.Wait()

	var accepted []time.Time
	rejected, other := 0, 0
	for _, e := range s.Journal().Entries() {
		switch {
		case e.Outcome == "ok":
			accepted = append(accepted, e.Time)
		case e.Code == "Throttling.User" && e.Status == 400:
			rejected++
		default:
			other++
		}
	}
	if len(accepted) == 0 || rejected == 0 || other != 0 {
		t.Fatalf("accepted %d, rejected %d, other %d: the burst did not exceed the quota", len(accepted), rejected, other)
	}
	slices.SortFunc(accepted, time.Time.Compare)
	t0 := accepted[0]
	inBurst := 0
	for _, a := range accepted {
		if a.Sub(t0) < 3*time.Second {
			inBurst++
		}
	}
	want := 3 * DefaultQuotas()["DescribeDomainCertificateInfo"] // 100/s, as documented
	if want != 300 {
		t.Fatalf("DescribeDomainCertificateInfo quota %v/s, want the documented 100", want/3)
	}
	if float64(inBurst) < want*0.95 || float64(inBurst) > want*1.05 {
		t.Fatalf("accepted %d calls in the first 3 s of the burst (%d refused), want %v ± 5%%", inBurst, rejected, want)
	}
	t.Logf("accepted %d in 3 s, %d in all, refused %d", inBurst, len(accepted), rejected)
}
