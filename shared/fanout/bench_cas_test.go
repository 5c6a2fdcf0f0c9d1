package fanout_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// BenchmarkFleetMixedCAS deploys a mixed fleet, 300 CDN, 150 DCDN, 150
// VOD, 150 Live and 50 OSS custom domains, with delivery: cas at the
// production quotas and 100 ms median latency: one lookup and one upload
// to CAS, then every target set by reference. The lower bound is the
// slowest API's calls ÷ its quota (CDN's and OSS's: 300 ÷ 30 = 50 ÷ 10 = 10
// s); the figure is the run's ratio to it, CAS lookup and upload included.
func BenchmarkFleetMixedCAS(b *testing.B) {
	for range b.N {
		b.StopTimer()
		counts := map[manifest.Product]int{manifest.CDN: 300, manifest.DCDN: 150, manifest.VOD: 150, manifest.Live: 150, manifest.OSS: 50}
		names := map[manifest.Product][]string{}
		for p, n := range counts {
			for i := range n {
				names[p] = append(names[p], fmt.Sprintf("%s%04d.mixed.test", string(p)[:1]+string(p)[len(p)-1:], i))
			}
		}
		reg := func(ds []string) []cloudsim.Domain {
			out := make([]cloudsim.Domain, len(ds))
			for i, d := range ds {
				out[i] = cloudsim.Domain{Name: d}
			}
			return out
		}
		sim, err := cloudsim.New(cloudsim.Config{
			Credentials: []cloudsim.Credential{{AccessKeyID: "benchAK", AccessKeySecret: "benchSK"}},
			Domains: cloudsim.Domains{CDN: reg(names[manifest.CDN]), DCDN: reg(names[manifest.DCDN]),
				VOD: reg(names[manifest.VOD]), Live: reg(names[manifest.Live])},
			Faults: cloudsim.Faults{Seed: 1, Latency: latency100ms},
			OSS:    cloudsim.OSSSettings{Region: mixedRegion, Buckets: []string{mixedBucket}},
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := sim.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = sim.Close() })
		env := map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "benchAK", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "benchSK"}
		for _, kv := range sim.Env() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		client, err := cloud.New(cloud.Options{Getenv: func(k string) string { return env[k] }})
		if err != nil {
			b.Fatal(err)
		}
		oc, err := oss.New(env["CERTDROP_OSS_ENDPOINT"], "benchAK", "benchSK", oss.AuthVersion(oss.AuthV4), oss.Region(mixedRegion), oss.ForcePathStyle(true))
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range names[manifest.OSS] {
			if err := oc.PutBucketCname(mixedBucket, d); err != nil {
				b.Fatal(err)
			}
		}
		m := &manifest.Manifest{}
		for _, p := range manifest.Products() {
			for _, d := range names[p] {
				t := manifest.Target{Product: p, Domain: d, Delivery: manifest.DeliveryCAS}
				if p == manifest.OSS {
					t.Bucket, t.Region = mixedBucket, mixedRegion
				}
				m.Targets = append(m.Targets, t)
			}
		}
		now := time.Now()
		root, err := cloudsim.NewRootCA("bench root", now.Add(-48*time.Hour), now.AddDate(2, 0, 0))
		if err != nil {
			b.Fatal(err)
		}
		leaf, err := root.Issue(cloudsim.LeafRequest{DNSNames: []string{"*.mixed.test"}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 3, 0)})
		if err != nil {
			b.Fatal(err)
		}
		bdl, err := bundle.Parse([]bundle.Source{{Name: "mixed.pem", Data: append(append([]byte{}, leaf.CertPEM...), leaf.KeyPEM...)}}, bundle.Options{})
		if err != nil {
			b.Fatal(err)
		}
		p, err := plan.Build(bdl, m, "")
		if err != nil {
			b.Fatal(err)
		}
		from := len(sim.Journal().Entries())
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
		if len(ups) != 1 || !ups[0].Uploaded {
			b.Fatalf("uploads %+v", ups)
		}
		sent, _ := sim.Journal().KeysSent()
		sets := 0
		for _, e := range sim.Journal().Entries()[from:] {
			if strings.HasPrefix(e.API, "Set") || e.API == plan.OSSPutCname {
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
		client.CloseIdleConnections()
	}
}
