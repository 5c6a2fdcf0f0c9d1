package fanout_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/product/dcdn"
	"github.com/certdrop/certdrop/shared/product/live"
	"github.com/certdrop/certdrop/shared/product/oss"
	"github.com/certdrop/certdrop/shared/product/vod"
)

// BenchmarkFleetMixedCAS deploys a mixed fleet, 300 CDN, 150 DCDN, 150
// VOD, 150 Live and 50 OSS custom domains, with delivery: cas at the
// production quotas and 100 ms median latency: one lookup and one upload
// to CAS, then every target set by reference (Live by upload: its Set
// documents no reference). The lower bound is the
// slowest API's calls ÷ its quota (CDN's and OSS's: 300 ÷ 30 = 50 ÷ 10 = 10
// s); the figure is the run's ratio to it, CAS lookup and upload included.
func BenchmarkFleetMixedCAS(b *testing.B) {
	for range b.N {
		b.StopTimer()
		counts := map[manifest.Product]int{cdn.Name: 300, dcdn.Name: 150, vod.Name: 150, live.Name: 150, oss.Name: 50}
		names := map[manifest.Product][]string{}
		for p, n := range counts {
			for i := range n {
				names[p] = append(names[p], fmt.Sprintf("%s%04d.mixed.test", string(p)[:1]+string(p)[len(p)-1:], i))
			}
		}
		f := buildMixedFleet(b, names, func(cfg *cloudsim.Config, _ *cloudsim.CA) {
			cfg.Quotas = nil // the production quotas
			cfg.Faults = cloudsim.Faults{Seed: 1, Latency: latency100ms}
		}, func(t *manifest.Target) { t.Delivery = manifest.DeliveryCAS })
		sim, client, p, from := f.sim, f.client, f.plan, f.start
		b.StartTimer()
		start := time.Now()
		res, ups := fanout.RunCAS(context.Background(), client, client, p, fanout.Options{})
		elapsed := time.Since(start)
		b.StopTimer()
		for _, r := range res {
			if r.State != fanout.Deployed {
				b.Fatalf("%s %s: %s %v", r.Call.Target.Product, r.Call.DomainName, r.State, r.Err)
			}
		}
		// Uploaded, or found: the Live targets go by upload, and a Live Set
		// sent before the CAS upload stores the certificate in CAS under
		// the same name, which the upload then finds (NameExists).
		if len(ups) != 1 || !(ups[0].Uploaded || ups[0].Found) || ups[0].CertID == 0 {
			b.Fatalf("uploads %+v", ups)
		}
		sent, _ := sim.Journal().KeysSent()
		sets := 0
		for _, e := range sim.Journal().Entries()[from:] {
			if strings.HasPrefix(e.API, "Set") || e.API == oss.PutCname.Action {
				sets++
			}
		}
		bound := p.LowerBound()
		b.ReportMetric(float64(len(res)), "targets")
		b.ReportMetric(float64(sets), "set-calls")
		b.ReportMetric(float64(sent), "keys-sent")
		b.ReportMetric(elapsed.Seconds(), "s/run")
		b.ReportMetric(bound.Seconds(), "s-lower-bound")
		b.ReportMetric(elapsed.Seconds()/bound.Seconds(), "x-lower-bound")
		b.ReportMetric(float64(ups[0].Duration.Milliseconds()), "ms-cas-upload")
	}
}
