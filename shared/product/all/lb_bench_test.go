package all_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/alb"
	"github.com/certdrop/certdrop/shared/product/clb"
	"github.com/certdrop/certdrop/shared/product/internal/lb"
	"github.com/certdrop/certdrop/shared/product/nlb"
)

// BenchmarkLoadBalancers deploys one certificate to a fleet of listeners
// against the emulator at the documented (or chosen) quotas, with the
// listeners' asynchronous states (Configuring for 300 ms after each
// write) and certdrop's default waits: 40 ALB listeners, each with its
// default certificate and an additional one that replaces an older
// additional certificate, 20 NLB listeners, and 40 CLB listeners on 4
// load balancers (one server certificate upload for all). It reports the
// run's time against the quota floor (the busiest write API's calls ÷ its
// quota): the ALB writes are paced at 200 calls a minute. Above the floor:
// the two targets of one listener run one after the other, each write
// waits out the listener's Configuring state, and the waits' reads share
// GetListenerAttribute's and ListListenerCertificates' 10 calls/s.
func BenchmarkLoadBalancers(b *testing.B) {
	const albN, nlbN, clbLBs, clbPorts = 40, 20, 4, 10
	old := time.Now().AddDate(0, 0, -30)
	t := &testing.T{}
	oldDefault := seedPEM(t, old, "bench.test", "*.bench.test")
	oldWild := seedPEM(t, old, "*.bench.test")
	var targets strings.Builder
	cfg := simConfig()
	cfg.CAS.Certificates = []cloudsim.SeedCASCert{{Name: "old-default", Cert: oldDefault}, {Name: "old-wild", Cert: oldWild}}
	cfg.LoadBalancers.ConfigureDelay = 300 * time.Millisecond
	for i := range albN {
		id := fmt.Sprintf("lsn-benchalb%03d", i)
		cfg.LoadBalancers.ALB = append(cfg.LoadBalancers.ALB, cloudsim.LBListener{ID: id, Region: "cn-hangzhou",
			Default: "old-default", Additional: []string{"old-wild"}})
		fmt.Fprintf(&targets, "  - {product: alb, region: cn-hangzhou, listener: %s, domains: [bench.test, \"*.bench.test\"]}\n", id)
		fmt.Fprintf(&targets, "  - {product: alb, region: cn-hangzhou, listener: %s, domain: \"*.bench.test\", sni: true}\n", id)
	}
	for i := range nlbN {
		id := fmt.Sprintf("lsn-benchnlb%03d", i)
		cfg.LoadBalancers.NLB = append(cfg.LoadBalancers.NLB, cloudsim.LBListener{ID: id, Region: "cn-hangzhou", Default: "old-default"})
		fmt.Fprintf(&targets, "  - {product: nlb, region: cn-hangzhou, listener: %s, domains: [bench.test, \"*.bench.test\"]}\n", id)
	}
	for i := range clbLBs {
		id := fmt.Sprintf("lb-bench%02d", i)
		c := cloudsim.ClassicLB{ID: id, Region: "cn-hangzhou"}
		for p := range clbPorts {
			c.Listeners = append(c.Listeners, cloudsim.ClassicListener{Port: 443 + p})
			fmt.Fprintf(&targets, "  - {product: clb, region: cn-hangzhou, loadBalancer: %s, port: %d, domains: [bench.test, \"*.bench.test\"]}\n", id, 443+p)
		}
		cfg.LoadBalancers.CLB = append(cfg.LoadBalancers.CLB, c)
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := cloudsimtest.Start(b, cfg)
		ep := s.Endpoints()
		reg := product.New(alb.NewWith(lb.DefaultWait), nlb.NewWith(lb.DefaultWait), clb.New())
		c, err := reg.NewClient(cloud.Options{Getenv: env(s, alb.EnvEndpoint, ep.OpenAPI, nlb.EnvEndpoint, ep.OpenAPI,
			clb.EnvEndpoint, ep.OpenAPI, cloud.EnvCASEndpoint, ep.OpenAPI, cloud.EnvCASIntlEndpoint, ep.CASIntl)})
		if err != nil {
			b.Fatal(err)
		}
		m, err := manifest.Parse("bench.yaml", []byte("version: 1\ntargets:\n"+targets.String()), reg.Catalog())
		if err != nil {
			b.Fatal(err)
		}
		p, err := plan.Build(testBundle(b, "bench.test", "*.bench.test"), m, "", reg)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, _ := fanout.RunCAS(context.Background(), c, c, p, fanout.Options{})
		elapsed := time.Since(start)
		b.StopTimer()
		deployed := 0
		for _, r := range res {
			if r.State == fanout.Deployed {
				deployed++
			} else {
				b.Errorf("%s: %s (%v)", r.Call, r.State, r.Err)
			}
		}
		// The floor: the busiest write API's calls ÷ its quota, each
		// product's operation on its own (an additional certificate costs
		// an association and a dissociation).
		perAPI := map[string]float64{}
		quota := map[string]float64{}
		for _, c := range p.Calls {
			k := c.API.Service + ":" + c.API.Action
			perAPI[k]++
			quota[k] = c.API.Quota
			if c.API == alb.AssociateAPI {
				perAPI["alb:dissociate"]++
				quota["alb:dissociate"] = alb.DissociateAPI.Quota
			}
		}
		var worst float64
		for k, n := range perAPI {
			worst = max(worst, n/quota[k])
		}
		floor := time.Duration(worst * float64(time.Second))
		b.ReportMetric(float64(deployed), "targets")
		b.ReportMetric(elapsed.Seconds(), "s/run")
		b.ReportMetric(floor.Seconds(), "floor-s")
		b.ReportMetric(elapsed.Seconds()/floor.Seconds(), "x-floor")
		c.Transport().CloseIdleConnections()
		_ = s.Close()
	}
}
