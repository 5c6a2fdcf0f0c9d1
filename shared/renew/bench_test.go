package renew_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/renew"
)

// BenchmarkRenewal measures one forced renewal of a two-name certificate
// (apex and wildcard: two DNS-01 challenges) against the emulator: due
// check with ARI, the preflight's record written and removed, order, two TXT records written through the alidns API,
// checked at the authoritative server, validated by the CA, removed,
// bundle written to the emulator's OSS. The account exists already.
func BenchmarkRenewal(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	e := h.engine(nil)
	certs := []manifest.Certificate{h.cert("bench", "example.test", "*.example.test")}
	if r := h.run(h.ctx, e, certs, renew.RunOptions{})[0]; !r.Renewed {
		b.Fatalf("%+v", r)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Run(h.ctx, certs, renew.RunOptions{Force: true})
		if err != nil || !res[0].Renewed {
			b.Fatalf("%v %+v", err, res)
		}
	}
}

// BenchmarkRenew100Propagation renews 100 certificates due at once (one
// name each, one zone) whose records appear at the authoritative server
// 10 s after they are written, at the production settings (the default
// concurrency, a check every 2 s, the alidns pace). It fails unless all
// are renewed within 3 × that delay plus the CA's latency, measured first
// as one renewal in a zone without delay (which also registers the
// account); two at a time would take 100 ÷ 2 × 10 s. Run it with
// -benchtime 1x.
func BenchmarkRenew100Propagation(b *testing.B) {
	const (
		n     = 100
		delay = 10 * time.Second
	)
	for range b.N {
		b.StopTimer()
		h := newHarness(b, harnessOpts{zones: []cloudsim.ZoneSettings{{Name: "example.test", Propagation: delay}, {Name: "warm.test"}}})
		e := h.engine(func(o *renew.Options) {
			o.PropagationTimeout, o.PollInterval = renew.DefaultPropagationTimeout, renew.DefaultPollInterval
		})
		start := time.Now()
		if r := h.run(h.ctx, e, []manifest.Certificate{h.cert("warm", "warm.test")}, renew.RunOptions{})[0]; !r.Renewed {
			b.Fatalf("%+v", r)
		}
		latency := time.Since(start)
		var certs []manifest.Certificate
		for i := range n {
			certs = append(certs, h.cert(fmt.Sprintf("c%03d", i), fmt.Sprintf("c%03d.example.test", i)))
		}
		b.StartTimer()
		start = time.Now()
		res := h.run(h.ctx, e, certs, renew.RunOptions{})
		took := time.Since(start)
		b.StopTimer()
		renewed := 0
		for _, r := range res {
			if r.Renewed {
				renewed++
			} else {
				b.Errorf("%s: %+v", r.Name, r)
			}
		}
		bound := 3*delay + latency
		b.ReportMetric(took.Seconds(), "s/run")
		b.ReportMetric(took.Seconds()/delay.Seconds(), "x-delay")
		b.ReportMetric(bound.Seconds(), "s-bound")
		b.ReportMetric(latency.Seconds(), "s-ca-latency")
		b.ReportMetric(float64(renewed), "renewed")
		b.ReportMetric(float64(waitOverlap(h, "example.test", delay)), "waits-at-once")
		if took > bound {
			b.Errorf("%d certificates in %v: more than 3 × %v + the CA's %v", n, took.Round(time.Millisecond), delay, latency.Round(time.Millisecond))
		}
	}
}
