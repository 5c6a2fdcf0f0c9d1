package fanout

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/plan"
)

func TestAdmissionLimit(t *testing.T) {
	deployed := func(w time.Duration) ended { return ended{w, true, 100} }
	unchanged := func(w time.Duration) ended { return ended{w, false, 100} }
	tests := []struct {
		name  string
		q     float64
		slots int
		ended []ended // targets that ended, in order
		want  int
	}{
		// 30 × 0.25 s × 1.25 = 9.4 → 10, + the buffer max(4, 30 × 0.25 s) = 8.
		{"first estimate", 30, 60, nil, 18},
		// The estimate moves an eighth of the way to each work time: 0.225 s.
		{"one quick target", 30, 60, []ended{deployed(50 * time.Millisecond)}, 17},
		{"slow targets", 30, 60, repeat(deployed(2*time.Second), 40), 83},
		// Never more than one and a half times the call slots.
		{"capped by the slots", 30, 10, repeat(deployed(2*time.Second), 40), 15},
		// A slow pace: the buffer, within the slots.
		{"slow pace", 1, 4, repeat(deployed(10*time.Millisecond), 40), 5},
		{"one slot", 1000, 1, nil, 1},
		{"negative work counts as none", 30, 60, repeat(deployed(-time.Second), 60), 9},
		// A reconcile that finds its targets unchanged ends them at the
		// Describe pace, 100 a second: 100 × 0.3 × 1.25 + 25 = 63.
		{"unchanged targets end at the read pace", 30, 60, repeat(unchanged(300*time.Millisecond), 60), 63},
		// Every other one set: the estimated share settles at 7/15 after an
		// unchanged one, so targets end at 30 ÷ 7/15 = 64.3 a second:
		// 64.3 × 0.3 × 1.25 = 24.1 → 25, + the buffer 17.
		{"every other one set", 30, 60, alternate(deployed(300*time.Millisecond), unchanged(300*time.Millisecond), 60), 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAdmission(tt.q, tt.slots)
			for _, e := range tt.ended {
				a.enter()
				a.leave(e.work, e.set, e.read)
			}
			a.mu.Lock()
			got := a.limit()
			a.mu.Unlock()
			if got != tt.want {
				t.Errorf("limit = %d, want %d (work %v, sets %.2f, pace %.1f)", got, tt.want, a.work, a.sets, a.pace())
			}
		})
	}
}

// ended is a target that ended, as leave takes it.
type ended struct {
	work time.Duration
	set  bool
	read float64
}

func alternate(a, b ended, n int) []ended {
	out := make([]ended, n)
	for i := range out {
		out[i] = a
		if i%2 == 1 {
			out[i] = b
		}
	}
	return out
}

func repeat(e ended, n int) []ended {
	out := make([]ended, n)
	for i := range out {
		out[i] = e
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
	a.leave(time.Millisecond, true, 0)
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

// readsInFlight counts the Describe calls in flight and keeps the most at
// once.
type readsInFlight struct {
	*fakeClient
	latency time.Duration
	mu      sync.Mutex
	now     int
	most    int
}

func (u *readsInFlight) Describe(ctx context.Context, c plan.Call, calls Caller) (Installed, error) {
	u.mu.Lock()
	u.now++
	u.most = max(u.most, u.now)
	u.mu.Unlock()
	time.Sleep(u.latency)
	defer func() {
		u.mu.Lock()
		u.now--
		u.mu.Unlock()
	}()
	return u.fakeClient.Describe(ctx, c, calls)
}

// TestRunAdmitsAtTheReadPaceWhenNothingChanges: a reconcile whose targets
// all carry the certificate already ends them at the Describe pace (300
// a second here), not the Set pace (30): with reads taking 200 ms that
// needs about 60 of them in flight, which the Set pace alone would hold
// to about 18.
func TestRunAdmitsAtTheReadPaceWhenNothingChanges(t *testing.T) {
	const n = 600
	p := testPlan(n)
	u := &readsInFlight{fakeClient: newFake(), latency: 200 * time.Millisecond}
	for _, c := range p.Calls {
		u.installed[c.DomainName] = Installed{CertName: p.CertName, HTTPS: true}
	}
	o := Options{
		Quotas:     map[string]float64{"SetCdnDomainSSLCertificate": 30, "DescribeDomainCertificateInfo": 300},
		LatencyP99: 2 * time.Second,
	}
	for _, r := range Run(context.Background(), u, p, o) {
		if r.State != Unchanged {
			t.Fatalf("%s: %s %v", r.Call.DomainName, r.State, r.Err)
		}
	}
	if u.totalSets() != 0 {
		t.Fatalf("%d Set calls, want none", u.totalSets())
	}
	if u.most < 40 {
		t.Errorf("at most %d Describe calls in flight; want the 60 the read pace needs, not the 18 of the Set pace", u.most)
	}
	t.Logf("at most %d Describe calls in flight", u.most)
}
