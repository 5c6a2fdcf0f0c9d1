package all_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
)

// lbMediaAccount is the other account of TestLBAccounts.
const lbMediaAccount = "1111111111111111"

// TestLBAccounts: ALB and CLB listeners in the function's own account
// and in another one (through STS), deployed in one run: each account's
// listeners through that account's client, the certificate uploaded to
// each account's own CAS and CLB server certificates once, no call
// answered with a certificate another account holds; the next run finds
// every listener unchanged, with no write. The two accounts' CAS and
// server certificate ids collide (each emulated account numbers its
// own), so a listing or a server certificate kept for one account and
// used for the other shows.
func TestLBAccounts(t *testing.T) {
	cfg := lbAccount(t)
	cfg.Accounts = []cloudsim.AccountSettings{{
		ID:    lbMediaAccount,
		Roles: []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: []string{"acs:ram::" + cloudsim.DefaultAccountID + ":root"}}},
		LoadBalancers: cloudsim.LoadBalancerSettings{
			ConfigureDelay: 150 * time.Millisecond,
			ALB:            []cloudsim.LBListener{{ID: "lsn-m", Region: "cn-hangzhou", LoadBalancer: "alb-m"}},
			CLB:            []cloudsim.ClassicLB{{ID: "lb-m", Region: "cn-hangzhou", Listeners: []cloudsim.ClassicListener{{Port: 443}}}},
		},
	}}
	sim := cloudsimtest.Start(t, cfg)
	c, err := lbRegistry().NewClient(cloud.Options{Logger: leaks.Logger(), Getenv: simEnv(sim)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Transport().CloseIdleConnections)
	m, err := manifest.Parse("lb.yaml", []byte(`version: 1
accounts:
  - name: media
    roleArn: acs:ram::`+lbMediaAccount+`:role/certdrop-deployer
targets:
  - product: alb
    region: cn-hangzhou
    listener: lsn-a
    domains: [api.certdrop.test, www.certdrop.test]
  - product: alb
    account: media
    region: cn-hangzhou
    listener: lsn-m
    domains: [api.certdrop.test, www.certdrop.test]
  - product: clb
    region: cn-hangzhou
    loadBalancer: lb-2
    port: 443
    domains: [api.certdrop.test, www.certdrop.test]
  - product: clb
    account: media
    region: cn-hangzhou
    loadBalancer: lb-m
    port: 443
    domains: [api.certdrop.test, www.certdrop.test]
`), c.Registry().Catalog())
	if err != nil {
		t.Fatal(err)
	}
	b := testBundle(t, "api."+testDomain, "www."+testDomain)
	media := sim.Account(lbMediaAccount)
	run := func() []fanout.Result {
		t.Helper()
		p, err := plan.Build(b, m, "", c.Registry())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		open := func(ctx context.Context, name string) (fanout.Client, fanout.CASClient, error) {
			if name == "" {
				return c, c, nil
			}
			a, _ := m.Account(name)
			ac, err := c.AssumeRole(ctx, a.RoleArn)
			if err != nil {
				return nil, nil, err
			}
			return ac, ac.(*product.Client), nil
		}
		res, _ := fanout.RunAccounts(ctx, open, p, fanout.Options{})
		for _, r := range res {
			leaks.Seen(r.Err)
		}
		return res
	}
	for _, r := range run() {
		if r.State != fanout.Deployed {
			t.Errorf("first run: %s %s: %s (%v); want deployed", r.Call.Target.Account, r.Call.DomainName, r.State, r.Err)
		}
	}
	// Each listener carries its own account's certificate.
	fp := b.Identity().Fingerprint
	for _, a := range []struct {
		name     string
		sim      *cloudsim.Sim
		alb, clb string
	}{{"own", sim, "lsn-a", "lb-2"}, {"media", media, "lsn-m", "lb-m"}} {
		l, _ := a.sim.LBListener(cloudsim.ProductALB, a.alb)
		var inCAS bool
		for _, cc := range a.sim.CASCertificates("cn-hangzhou") {
			if fmt.Sprintf("%d-cn-hangzhou", cc.ID) == l.Default && cc.Fingerprint == fp {
				inCAS = true
			}
		}
		if !inCAS {
			t.Errorf("%s: ALB %s's default certificate %q is not this certificate in the account's CAS", a.name, a.alb, l.Default)
		}
		cl, _ := a.sim.CLBListener(a.clb, 443)
		var inStore bool
		for _, sc := range a.sim.ServerCertificates("cn-hangzhou") {
			inStore = inStore || sc.ID == cl.ServerCertificateID
		}
		if !inStore {
			t.Errorf("%s: CLB %s:443 carries %q, not one of the account's server certificates", a.name, a.clb, cl.ServerCertificateID)
		}
	}
	uploads := map[string]int{}
	for _, e := range sim.Journal().Entries() {
		if e.Outcome != "ok" && (e.Service == cloudsim.ProductALB || e.Service == cloudsim.ProductCLB) {
			t.Errorf("%s in account %s answered %s", e.API, e.Account, e.Code)
		}
		if e.Outcome == "ok" && (e.API == "UploadServerCertificate" || e.API == "UploadUserCertificate") {
			uploads[e.Account+" "+e.API]++
		}
	}
	for _, a := range []string{cloudsim.DefaultAccountID, lbMediaAccount} {
		for _, api := range []string{"UploadServerCertificate", "UploadUserCertificate"} {
			if uploads[a+" "+api] != 1 {
				t.Errorf("%d %s in account %s; want 1 (%v)", uploads[a+" "+api], api, a, uploads)
			}
		}
	}

	before := len(sim.Journal().Entries())
	for _, r := range run() {
		if r.State != fanout.Unchanged {
			t.Errorf("second run: %s %s: %s (%v); want unchanged", r.Call.Target.Account, r.Call.DomainName, r.State, r.Err)
		}
	}
	for _, e := range sim.Journal().Entries()[before:] {
		switch e.API {
		case "UpdateListenerAttribute", "UploadServerCertificate", "UploadUserCertificate", "SetLoadBalancerHTTPSListenerAttribute":
			t.Errorf("the second run sent %s in account %s", e.API, e.Account)
		}
	}
}
