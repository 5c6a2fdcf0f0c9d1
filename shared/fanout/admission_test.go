package fanout

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/plan"
)

func TestAdmissionLimit(t *testing.T) {
	tests := []struct {
		name  string
		q     float64
		slots int
		works []time.Duration // targets that ended, in order
		want  int
	}{
		// 30 × 0.25 s × 1.25 = 9.4 → 10, + the buffer max(4, 30 × 0.25 s) = 8.
		{"first estimate", 30, 60, nil, 18},
		// The estimate moves an eighth of the way to each work time.
		{"one quick target", 30, 60, []time.Duration{50 * time.Millisecond}, 10 + 8 - 1},
		{"slow targets", 30, 60, repeat(2*time.Second, 40), 83},
		// Never more than one and a half times the call slots.
		{"capped by the slots", 30, 10, repeat(2*time.Second, 40), 15},
		// A slow pace: the buffer, within the slots.
		{"slow pace", 1, 4, repeat(10*time.Millisecond, 40), 5},
		{"one slot", 1000, 1, nil, 1},
		{"negative work counts as none", 30, 60, repeat(-time.Second, 60), 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAdmission(tt.q, tt.slots)
			for _, w := range tt.works {
				a.enter()
				a.leave(w)
			}
			a.mu.Lock()
			got := a.limit()
			a.mu.Unlock()
			if got != tt.want {
				t.Errorf("limit = %d, want %d (work estimate %v)", got, tt.want, a.work)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestAdmissionWaitsForALeave(t *testing.T) {
	a := newAdmission(4, 3) // limit: ceil(4 × 0.25 × 1.25) + 4 = 6, capped at 3 + 1 = 4
	for range 4 {
		a.enter()
	}
	entered := make(chan struct{})
	go func() {
		a.enter()
		close(entered)
	}()
	select {
	case <-entered:
		t.Fatal("a fifth target entered while four were under way")
	case <-time.After(20 * time.Millisecond):
	}
	a.leave(time.Millisecond)
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("a target that left did not let the next one in")
	}
}

// underWay counts the targets between their first call and the end of
// their Set, and keeps the most at once.
type underWay struct {
	*fakeClient
	latency time.Duration
	mu      sync.Mutex
	started map[string]bool
	now     int
	most    int
}

func (u *underWay) Describe(ctx context.Context, c plan.Call, calls Caller) (Installed, error) {
	u.mu.Lock()
	if !u.started[c.DomainName] {
		u.started[c.DomainName] = true
		u.now++
		u.most = max(u.most, u.now)
	}
	u.mu.Unlock()
	time.Sleep(u.latency)
	return u.fakeClient.Describe(ctx, c, calls)
}

func (u *underWay) Set(ctx context.Context, c plan.Call, calls Caller) error {
	time.Sleep(u.latency)
	err := u.fakeClient.Set(ctx, c, calls)
	u.mu.Lock()
	u.now--
	u.mu.Unlock()
	return err
}

// TestRunAdmitsWhatThePaceNeeds: with a p99 latency of 2 s, the call
// slots would allow all 400 targets under way at once; the calls take 5
// ms, so the pace needs a few dozen, and no more are under way, while
// every target is deployed.
func TestRunAdmitsWhatThePaceNeeds(t *testing.T) {
	const n = 400
	u := &underWay{fakeClient: newFake(), latency: 5 * time.Millisecond, started: map[string]bool{}}
	o := Options{
		Quotas:     map[string]float64{"SetCdnDomainSSLCertificate": 200, "DescribeDomainCertificateInfo": 200},
		LatencyP99: 2 * time.Second,
	}
	res := Run(context.Background(), u, testPlan(n), o)
	for _, r := range res {
		if r.State != Deployed {
			t.Fatalf("%s: %s %v", r.Call.DomainName, r.State, r.Err)
		}
	}
	// The first estimate admits ceil(200 × 0.25 × 1.25) + 50 = 113; the
	// slots would admit 600.
	if u.most > 113 || u.most < 2 {
		t.Errorf("%d targets were under way at once, want at most 113 of %d", u.most, n)
	}
	t.Logf("at most %d of %d targets under way", u.most, n)
}
