package probe

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

func TestWaitStale(t *testing.T) {
	now := time.Now()
	srv := newSNIServer(t, 0)
	old := testCert(t, "old", now.Add(20*24*time.Hour), "turns.example.test", "stays.example.test", "good.example.test")
	cur := testCert(t, "new", now.Add(80*24*time.Hour), "turns.example.test", "stays.example.test", "good.example.test")
	fpOld, fpNew := bundle.Fingerprint(old.Leaf), bundle.Fingerprint(cur.Leaf)
	srv.set("turns.example.test", old)
	srv.set("stays.example.test", old)
	srv.set("good.example.test", cur)
	reqs := []Request{
		{Name: "turns.example.test", Expected: fpNew, Previous: []string{fpOld}},
		{Name: "stays.example.test", Expected: fpNew, Previous: []string{fpOld}},
		{Name: "good.example.test", Expected: fpNew, Previous: []string{fpOld}},
	}
	p, err := New(Options{Rate: math.Inf(1), Dial: srv.addr(), Backoff: 40 * time.Millisecond,
		MaxBackoff: 80 * time.Millisecond, Wait: 900 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first, err := p.Probe(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Verdict != Stale || first[1].Verdict != Stale || first[2].Verdict != Serving {
		t.Fatalf("first probe: %s %s %s", first[0].Verdict, first[1].Verdict, first[2].Verdict)
	}
	// The slow edge turns one name after 250 ms.
	timer := time.AfterFunc(250*time.Millisecond, func() { srv.set("turns.example.test", cur) })
	defer timer.Stop()
	start := time.Now()
	res, err := p.WaitStale(t.Context(), reqs, first)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Verdict != Serving || res[0].Served.Fingerprint != fpNew || res[0].Probes < 3 {
		t.Errorf("turning name: %s after %d probes, want serving after several", res[0].Verdict, res[0].Probes)
	}
	if res[1].Verdict != Stale || res[1].Probes < 5 {
		t.Errorf("stale name: %s after %d probes, want stale, re-probed with backoff", res[1].Verdict, res[1].Probes)
	}
	if res[2].Probes != 1 {
		t.Errorf("a serving name was re-probed %d times", res[2].Probes-1)
	}
	// The wait ends at its bound, not later.
	if took < 850*time.Millisecond || took > 2*time.Second {
		t.Errorf("WaitStale took %s, want about its 900 ms bound", took)
	}
	if first[0].Verdict != Stale {
		t.Error("WaitStale changed its argument")
	}
}

func TestWaitStaleContext(t *testing.T) {
	srv := newSNIServer(t, 0)
	old := testCert(t, "old", time.Now().Add(20*24*time.Hour), "s.example.test")
	srv.set("s.example.test", old)
	reqs := []Request{{Name: "s.example.test", Expected: bundle.Fingerprint(testCert(t, "n", time.Now().Add(time.Hour)).Leaf), Previous: []string{bundle.Fingerprint(old.Leaf)}}}
	p, err := New(Options{Rate: math.Inf(1), Dial: srv.addr(), Backoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first, err := p.Probe(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := p.WaitStale(ctx, reqs, first)
	if took := time.Since(start); err != nil || took > time.Second {
		t.Fatalf("WaitStale: %v after %s, want the context's 150 ms (default wait is %s)", err, took, DefaultWait)
	}
	if res[0].Verdict != Stale {
		t.Errorf("verdict %s, want stale kept", res[0].Verdict)
	}
	if _, err := p.WaitStale(t.Context(), reqs, nil); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("mismatched results: %v", err)
	}
}

// TestWaitStaleFresh: a Fresh name (HTTPS just switched on) is waited for
// while unreachable, until its edge serves; an unreachable name that is
// not Fresh is not re-probed.
func TestWaitStaleFresh(t *testing.T) {
	srv := newSNIServer(t, 0)
	cur := testCert(t, "new", time.Now().Add(80*24*time.Hour), "fresh.example.test", "gone.example.test")
	fp := bundle.Fingerprint(cur.Leaf)
	reqs := []Request{
		{Name: "fresh.example.test", Expected: fp, Fresh: true},
		{Name: "gone.example.test", Expected: fp},
	}
	p, err := New(Options{Rate: math.Inf(1), Dial: srv.addr(), Backoff: 40 * time.Millisecond,
		MaxBackoff: 80 * time.Millisecond, Wait: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	first, err := p.Probe(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Verdict != Unreachable || first[1].Verdict != Unreachable {
		t.Fatalf("first probe: %s %s", first[0].Verdict, first[1].Verdict)
	}
	timer := time.AfterFunc(250*time.Millisecond, func() { srv.set("fresh.example.test", cur) })
	defer timer.Stop()
	res, err := p.WaitStale(t.Context(), reqs, first)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Verdict != Serving || res[0].Probes < 3 {
		t.Errorf("fresh name: %s after %d probes, want serving after several", res[0].Verdict, res[0].Probes)
	}
	if res[1].Verdict != Unreachable || res[1].Probes != 1 {
		t.Errorf("unreachable name not fresh: %s after %d probes, want not re-probed", res[1].Verdict, res[1].Probes)
	}
}
