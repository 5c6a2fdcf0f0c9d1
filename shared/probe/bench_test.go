package probe

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
)

// BenchmarkProbe2000Names probes 2,000 names (one op) against one loopback
// TLS server answering every name, unpaced, 64 at once.
func BenchmarkProbe2000Names(b *testing.B) {
	const names = 2000
	cert := testCert(b, "fleet", time.Now().Add(60*24*time.Hour), "*.fleet.test")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
			})
		}
	})
	defer func() { _ = ln.Close(); wg.Wait() }()
	reqs := make([]Request, names)
	for i := range reqs {
		reqs[i] = Request{Name: fmt.Sprintf("d%d.fleet.test", i), Expected: bundle.Fingerprint(cert.Leaf)}
	}
	p, err := New(Options{Rate: math.Inf(1), Workers: 64, Dial: ln.Addr().(*net.TCPAddr).String()})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := p.Probe(b.Context(), reqs)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Verdict != Serving {
				b.Fatalf("%s: %s %s", r.Name, r.Verdict, r.Reason)
			}
		}
	}
	b.ReportMetric(float64(names*b.N)/b.Elapsed().Seconds(), "probes/s")
}
