package cloudsim

import (
	"crypto/tls"
	"crypto/x509"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/probe"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func fingerprintPEM(t *testing.T, p testPair) string {
	t.Helper()
	leaf, ok := firstCertificate(p.cert)
	if !ok {
		t.Fatal("no certificate")
	}
	return bundle.Fingerprint(leaf)
}

func startEdge(t *testing.T, cfg EdgeConfig) *Edge {
	t.Helper()
	e, err := NewEdge(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestEdgeStaleTurnsServing: what certdrop's probe sees through the edge
// while a slow edge takes its delay to serve a new certificate.
func TestEdgeStaleTurnsServing(t *testing.T) {
	old := validPair(t, "www.example.test")
	cur := validPair(t, "www.example.test")
	e := startEdge(t, EdgeConfig{Delay: 300 * time.Millisecond})
	if err := e.SetPEM("www.example.test", old.cert, old.key, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := e.SetPEM("WWW.example.test", cur.cert, cur.key, time.Now()); err != nil {
		t.Fatal(err)
	}
	p, err := probe.New(probe.Options{Rate: math.Inf(1), Dial: e.Addr(), Backoff: 50 * time.Millisecond, Wait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	reqs := []probe.Request{{Name: "www.example.test", Expected: fingerprintPEM(t, cur), Previous: []string{fingerprintPEM(t, old)}}}
	res, err := p.Probe(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Verdict != probe.Stale {
		t.Fatalf("right after the Set: %s (%s), want stale", res[0].Verdict, res[0].Reason)
	}
	res, err = p.WaitStale(t.Context(), reqs, res)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Verdict != probe.Serving || res[0].Probes < 2 {
		t.Fatalf("after the delay: %s after %d probes, want serving", res[0].Verdict, res[0].Probes)
	}
}

func TestEdgeAnswers(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	www := validPair(t, "www.example.test")
	wild := validPair(t, "*.example.test")
	def := validPair(t, "edge.cdn.test")
	defCert, err := tls.X509KeyPair([]byte(def.cert), []byte(def.key))
	if err != nil {
		t.Fatal(err)
	}
	withDefault := startEdge(t, EdgeConfig{Now: clock.now, Default: &defCert})
	without := startEdge(t, EdgeConfig{Now: clock.now})
	for _, e := range []*Edge{withDefault, without} {
		if err := e.SetPEM("www.example.test", www.cert, www.key, clock.now()); err != nil {
			t.Fatal(err)
		}
		// The CDN names a wildcard domain ".example.test".
		if err := e.SetPEM(".example.test", wild.cert, wild.key, clock.now()); err != nil {
			t.Fatal(err)
		}
		if err := e.SetPEM("off.example.test", www.cert, www.key, clock.now()); err != nil {
			t.Fatal(err)
		}
		e.Remove("off.example.test", clock.now())
	}
	tests := []struct {
		name    string
		edge    *Edge
		sni     string
		want    string // fingerprint served; empty: handshake fails
		verdict probe.Verdict
	}{
		{"exact name", without, "www.example.test", fingerprintPEM(t, www), probe.Serving},
		{"wildcard domain", without, "img.example.test", fingerprintPEM(t, wild), probe.Serving},
		{"not two labels up", without, "a.b.example.test", "", probe.Unreachable},
		{"HTTPS turned off", without, "off.example.test", "", probe.Unreachable},
		{"unknown name", without, "nothing.other.test", "", probe.Unreachable},
		{"unknown name, default certificate", withDefault, "nothing.other.test", fingerprintPEM(t, def), probe.Other},
		{"HTTPS off, default certificate", withDefault, "off.example.test", fingerprintPEM(t, def), probe.Other},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := probe.New(probe.Options{Rate: math.Inf(1), Dial: tc.edge.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			exp := tc.want
			if exp == "" || tc.verdict == probe.Other {
				exp = fingerprintPEM(t, www)
			}
			res, err := p.Probe(t.Context(), []probe.Request{{Name: tc.sni, Expected: exp}})
			if err != nil {
				t.Fatal(err)
			}
			r := res[0]
			if r.Verdict != tc.verdict {
				t.Fatalf("verdict %s (%s), want %s", r.Verdict, r.Reason, tc.verdict)
			}
			if tc.want != "" && r.Served.Fingerprint != tc.want {
				t.Errorf("served %s, want %s", r.Served.Fingerprint, tc.want)
			}
		})
	}
}

// TestEdgeDelay follows the served certificate on a fake clock.
func TestEdgeDelay(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	e, err := NewEdge(EdgeConfig{Now: clock.now, Delay: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pairs := make([]testPair, 3)
	for i := range pairs {
		pairs[i] = validPair(t, "d.example.test")
	}
	served := func() string {
		der := e.Serving("d.example.test")
		if der == nil {
			return "none"
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pairs {
			if bundle.Fingerprint(c) == fingerprintPEM(t, p) {
				return string(rune('0' + i))
			}
		}
		return "unknown"
	}
	set := func(i int) {
		if err := e.SetPEM("d.example.test", pairs[i].cert, pairs[i].key, clock.now()); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		do   func()
		want string
	}{
		{func() { set(0) }, "none"},
		{func() { clock.add(time.Minute) }, "0"},
		{func() { set(1) }, "0"},
		{func() { clock.add(30 * time.Second); set(2) }, "0"},
		{func() { clock.add(30 * time.Second) }, "1"},
		{func() { clock.add(30 * time.Second) }, "2"},
		{func() { e.SetDelay("d.example.test", 0); e.Remove("d.example.test", clock.now()) }, "none"},
		{func() { e.SetDelay("d.example.test", -1); set(0) }, "none"},
		{func() { clock.add(time.Minute) }, "0"},
	}
	for i, s := range steps {
		s.do()
		if got := served(); got != s.want {
			t.Fatalf("step %d: serving %s, want %s", i, got, s.want)
		}
	}
}

func TestEdgePendingBounded(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	e, err := NewEdge(EdgeConfig{Now: clock.now, Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p := validPair(t, "b.example.test")
	for range 10 * edgeMaxPending {
		if err := e.SetPEM("b.example.test", p.cert, p.key, clock.now()); err != nil {
			t.Fatal(err)
		}
		clock.add(time.Second)
	}
	if n := len(e.names["b.example.test"]); n > edgeMaxPending+1 {
		t.Fatalf("%d certificates kept for one name, want at most %d", n, edgeMaxPending+1)
	}
}

func TestEdgeRefusesBadInput(t *testing.T) {
	e, err := NewEdge(EdgeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := validPair(t, "x.example.test"), validPair(t, "x.example.test")
	if err := e.SetPEM("x.example.test", a.cert, b.key, time.Now()); err == nil {
		t.Error("a key that does not match was accepted")
	}
	if err := e.Set("x.example.test", tls.Certificate{}, time.Now()); err == nil {
		t.Error("a certificate without key was accepted")
	}
	if _, err := NewEdge(EdgeConfig{Delay: -time.Second}); err == nil {
		t.Error("a negative delay was accepted")
	}
}

func TestEdgeClose(t *testing.T) {
	e, err := NewEdge(EdgeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	addr := e.Addr()
	// A connection that never sends a ClientHello is cut by Close.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(20 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- e.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close waited for an idle connection")
	}
	if c2, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c2.Close()
		t.Error("the edge still accepts after Close")
	}
}
