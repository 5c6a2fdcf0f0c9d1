package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

func TestProbeVerdicts(t *testing.T) {
	now := time.Now()
	srv := newSNIServer(t, 0)
	newCert := testCert(t, "new.example.test", now.Add(60*24*time.Hour+time.Hour), "new.example.test", "stale.example.test", "other.example.test")
	oldCert := testCert(t, "old", now.Add(10*24*time.Hour+time.Hour), "stale.example.test")
	foreign := testCert(t, "edge default", now.Add(300*24*time.Hour), "default.cdn.test")
	srv.set("new.example.test", newCert)
	srv.set("stale.example.test", oldCert)
	srv.set("other.example.test", foreign)
	fpNew, fpOld := bundle.Fingerprint(newCert.Leaf), bundle.Fingerprint(oldCert.Leaf)
	silent := newSilentListener(t)
	notTLS := newNotTLSServer(t)

	tests := []struct {
		name      string
		req       Request
		verdict   Verdict
		served    *tls.Certificate
		days      int
		covers    bool
		reasonHas string
	}{
		{name: "serving", req: Request{Name: "new.example.test", Expected: fpNew, Previous: []string{fpOld}, Addr: srv.addr()},
			verdict: Serving, served: &newCert, days: 60, covers: true},
		{name: "serving with upper-case fingerprint", req: Request{Name: "new.example.test", Expected: strings.ToUpper(fpNew), Addr: srv.addr()},
			verdict: Serving, served: &newCert, days: 60, covers: true},
		{name: "stale", req: Request{Name: "stale.example.test", Expected: fpNew, Previous: []string{fpOld}, Addr: srv.addr()},
			verdict: Stale, served: &oldCert, days: 10, covers: true},
		{name: "old certificate certdrop does not know is other", req: Request{Name: "stale.example.test", Expected: fpNew, Addr: srv.addr()},
			verdict: Other, served: &oldCert, days: 10, covers: true},
		{name: "other, not covering the name", req: Request{Name: "other.example.test", Expected: fpNew, Previous: []string{fpOld}, Addr: srv.addr()},
			verdict: Other, served: &foreign, days: 299, covers: false},
		{name: "no expected: new is other", req: Request{Name: "new.example.test", Addr: srv.addr()},
			verdict: Other, served: &newCert, days: 60, covers: true},
		{name: "server aborts the handshake", req: Request{Name: "unknown.example.test", Expected: fpNew, Addr: srv.addr()},
			verdict: Unreachable, reasonHas: "handshake:"},
		{name: "connection refused", req: Request{Name: "new.example.test", Expected: fpNew, Addr: closedAddr(t)},
			verdict: Unreachable, reasonHas: "connect:"},
		{name: "accepts and never answers", req: Request{Name: "new.example.test", Expected: fpNew, Addr: silent.addr()},
			verdict: Unreachable, reasonHas: "timed out after 300ms"},
		{name: "not TLS", req: Request{Name: "new.example.test", Expected: fpNew, Addr: notTLS},
			verdict: Unreachable, reasonHas: "handshake:"},
	}
	p, err := New(Options{HandshakeTimeout: 300 * time.Millisecond, Rate: math.Inf(1), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]Request, len(tests))
	for i, tc := range tests {
		reqs[i] = tc.req
	}
	res, err := p.Probe(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := res[i]
			if r.Verdict != tc.verdict {
				t.Fatalf("verdict %s (reason %q), want %s", r.Verdict, r.Reason, tc.verdict)
			}
			if r.Name != tc.req.Name || r.Addr != tc.req.Addr || r.Probes != 1 || !r.At.Equal(now) {
				t.Errorf("result %+v does not identify the probe", r)
			}
			if tc.served == nil {
				if r.Served != nil || !strings.Contains(r.Reason, tc.reasonHas) {
					t.Errorf("served %+v reason %q, want none and a reason with %q", r.Served, r.Reason, tc.reasonHas)
				}
				return
			}
			s := r.Served
			if s == nil {
				t.Fatal("no served certificate recorded")
			}
			leaf := tc.served.Leaf
			if s.Fingerprint != bundle.Fingerprint(leaf) || s.Subject != leaf.Subject.String() ||
				s.Issuer != leaf.Issuer.String() || !s.NotAfter.Equal(leaf.NotAfter) || s.DaysLeft != tc.days || s.Covers != tc.covers {
				t.Errorf("served %+v, want the leaf %s (days %d covers %v)", s, leaf.Subject, tc.days, tc.covers)
			}
			if r.Reason != "" {
				t.Errorf("reason %q for a certificate read", r.Reason)
			}
		})
	}
}

// newNotTLSServer answers every connection with an HTTP response.
func newNotTLSServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

func TestDialOverride(t *testing.T) {
	srv := newSNIServer(t, 0)
	c := testCert(t, "a", time.Now().Add(24*time.Hour*30), "a.invalid")
	srv.set("a.invalid", c)
	// The name does not resolve: only the override reaches the server, and
	// the SNI is still the name (the server answers per SNI).
	p, err := New(Options{Dial: srv.addr(), Rate: math.Inf(1)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Probe(t.Context(), []Request{{Name: "a.invalid", Expected: bundle.Fingerprint(c.Leaf), Addr: closedAddr(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Verdict != Serving || res[0].Addr != srv.addr() {
		t.Fatalf("got %+v, want serving through %s", res[0], srv.addr())
	}
}

func TestRefusedRequests(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		reqs []Request
		want error
	}{
		{"wildcard", []Request{{Name: "ok.example.test"}, {Name: "*.example.test"}}, ErrWildcard},
		{"IP address", []Request{{Name: "127.0.0.1"}}, ErrInvalidRequest},
		{"empty name", []Request{{Name: ""}}, ErrInvalidRequest},
		{"name with a space", []Request{{Name: "a b.example.test"}}, ErrInvalidRequest},
		{"name with markup", []Request{{Name: "<script>.example.test"}}, ErrInvalidRequest},
		{"long label", []Request{{Name: strings.Repeat("a", 64) + ".test"}}, ErrInvalidRequest},
		{"short fingerprint", []Request{{Name: "a.test", Expected: "abcd"}}, ErrInvalidRequest},
		{"bad previous", []Request{{Name: "a.test", Expected: fp, Previous: []string{"zz" + fp[2:]}}}, ErrInvalidRequest},
		{"address without port", []Request{{Name: "a.test", Addr: "127.0.0.1"}}, ErrInvalidRequest},
		{"too many", make([]Request, MaxRequests+1), ErrTooMany},
	}
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := p.Probe(t.Context(), tc.reqs)
			if !errors.Is(err, tc.want) || res != nil {
				t.Fatalf("err %v results %v, want %v and none", err, res, tc.want)
			}
		})
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, o := range []Options{
		{Workers: MaxWorkers + 1}, {Rate: -1}, {HandshakeTimeout: 2 * MaxHandshakeTimeout},
		{Wait: MaxWait + time.Second}, {Dial: "no-port"},
	} {
		if _, err := New(o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("New(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
}

// TestBoundedConcurrency: never more than Workers handshakes at once, and
// each ends at HandshakeTimeout.
func TestBoundedConcurrency(t *testing.T) {
	silent := newSilentListener(t)
	p, err := New(Options{Workers: 3, HandshakeTimeout: 200 * time.Millisecond, Rate: math.Inf(1), Dial: silent.addr()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	open, maxOpen := 0, 0
	dial := p.dial
	p.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		open++
		maxOpen = max(maxOpen, open)
		mu.Unlock()
		return &countedConn{Conn: c, done: func() { mu.Lock(); open--; mu.Unlock() }}, nil
	}
	reqs := make([]Request, 9)
	for i := range reqs {
		reqs[i] = Request{Name: "n" + string(rune('a'+i)) + ".example.test"}
	}
	start := time.Now()
	res, err := p.Probe(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	for _, r := range res {
		if r.Verdict != Unreachable || r.Elapsed > time.Second {
			t.Errorf("%s: %s after %s", r.Name, r.Verdict, r.Elapsed)
		}
	}
	if maxOpen != 3 || silent.max() == 0 {
		t.Errorf("%d connections open at once (server saw %d), want 3", maxOpen, silent.max())
	}
	// 9 probes, 3 at a time, 200 ms each: at least 3 rounds.
	if took < 550*time.Millisecond || took > 5*time.Second {
		t.Errorf("took %s, want about 600 ms", took)
	}
}

// countedConn calls done once, on its first Close.
type countedConn struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.done)
	return c.Conn.Close()
}

func TestPaced(t *testing.T) {
	srv := newSNIServer(t, 0)
	c := testCert(t, "p", time.Now().Add(24*time.Hour*30), "p.example.test")
	srv.set("p.example.test", c)
	p, err := New(Options{Rate: 20, Dial: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]Request, 11)
	for i := range reqs {
		reqs[i] = Request{Name: "p.example.test", Expected: bundle.Fingerprint(c.Leaf)}
	}
	start := time.Now()
	res, err := p.Probe(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	// 11 starts at 20/s with a burst of 1: 10 intervals of 50 ms.
	if took := time.Since(start); took < 450*time.Millisecond {
		t.Errorf("11 probes at 20/s took %s, want at least 500 ms", took)
	}
	for _, r := range res {
		if r.Verdict != Serving {
			t.Errorf("%+v", r)
		}
	}
}

// TestContextEnds: a call never outlives its context, and what it could
// not probe is unprobed, not unreachable.
func TestContextEnds(t *testing.T) {
	silent := newSilentListener(t)
	p, err := New(Options{Workers: 2, HandshakeTimeout: 10 * time.Second, Rate: math.Inf(1), Dial: silent.addr()})
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]Request, 6)
	for i := range reqs {
		reqs[i] = Request{Name: "c" + string(rune('a'+i)) + ".example.test"}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := p.Probe(ctx, reqs)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Probe outlived its context: %s", took)
	}
	if !errors.Is(err, ErrNotProbed) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want ErrNotProbed and the deadline", err)
	}
	for _, r := range res {
		if r.Verdict != Unprobed || r.Reason == "" {
			t.Errorf("%s: %s %q, want unprobed with a reason", r.Name, r.Verdict, r.Reason)
		}
	}
}

func TestDaysLeft(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		after time.Duration
		want  int
	}{
		{0, 0}, {time.Hour, 0}, {24 * time.Hour, 1}, {47 * time.Hour, 1},
		{-time.Hour, -1}, {-24 * time.Hour, -1}, {-25 * time.Hour, -2},
	} {
		if got := DaysLeft(now.Add(tc.after), now); got != tc.want {
			t.Errorf("DaysLeft(now%+v) = %d, want %d", tc.after, got, tc.want)
		}
	}
}

// TestTurnAfterTheDeadline: at one probe a second, the second request's
// turn comes after a deadline 300 ms away, so the pacer refuses it before
// the context has ended: it is unprobed, with a reason, and the call says
// the deadline left no time.
func TestTurnAfterTheDeadline(t *testing.T) {
	srv := newSNIServer(t, 0)
	srv.set("a.example.test", testCert(t, "a", time.Now().Add(24*time.Hour), "a.example.test"))
	p, err := New(Options{Workers: 1, HandshakeTimeout: time.Second, Rate: 1, Dial: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	res, err := p.Probe(ctx, []Request{{Name: "a.example.test"}, {Name: "b.example.test"}})
	if !errors.Is(err, ErrNotProbed) || !errors.Is(err, ErrNoTurn) {
		t.Errorf("err %v, want ErrNotProbed and ErrNoTurn", err)
	}
	if len(res) != 2 || res[0].Verdict == Unprobed || res[1].Verdict != Unprobed || !strings.Contains(res[1].Reason, "deadline") {
		t.Errorf("results %+v; want the first probed, the second unprobed for the deadline", res)
	}
}
