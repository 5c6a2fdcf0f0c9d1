package fanout_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/product/dcdn"
	"github.com/certdrop/certdrop/shared/product/live"
	ossproduct "github.com/certdrop/certdrop/shared/product/oss"
	"github.com/certdrop/certdrop/shared/product/vod"
)

// mixedFleet is an emulated account with domains of every product
// certdrop sets (CDN, DCDN, VOD, Live and OSS custom domains), a
// certificate for *.mixed.test planned onto all of them, and a client.
type mixedFleet struct {
	sim    *cloudsim.Sim
	client *product.Client
	plan   *plan.Plan
	bundle *bundle.Bundle
	root   *cloudsim.CA
	oss    *oss.Client
	// start is the journal's length once the scene is set.
	start int
}

// The mixed fleet's domains, one list per product.
var mixedDomains = map[manifest.Product][]string{
	cdn.Name:        {"c1.mixed.test", "c2.mixed.test"},
	dcdn.Name:       {"d1.mixed.test", "d2.mixed.test", "d3.mixed.test"},
	vod.Name:        {"v1.mixed.test"},
	live.Name:       {"l1.mixed.test"},
	ossproduct.Name: {"o1.mixed.test", "o2.mixed.test"},
}

// The bucket the mixed fleet's OSS custom domains are bound to, and its
// region (the emulator's OSS has one).
const (
	mixedBucket = "mixed-site"
	mixedRegion = "cn-hangzhou"
)

// newMixedFleet starts the emulator with the mixed fleet; mutate changes
// its configuration (faults, seeded certificates) and staging lists the
// targets planned with Env=staging.
func newMixedFleet(t *testing.T, mutate func(*cloudsim.Config, *cloudsim.CA), staging ...string) *mixedFleet {
	t.Helper()
	return buildMixedFleet(t, mixedDomains, mutate, func(tg *manifest.Target) {
		p, _ := all.Products().Get(tg.Product)
		tg.Staging = slices.Contains(staging, tg.Domain) && p.Spec().NoStaging == ""
	})
}

// buildMixedFleet starts the emulator with domains (quick quotas, before
// mutate), binds the OSS ones to the bucket, and plans a certificate for
// *.mixed.test onto all of them; target, when set, adjusts each target.
func buildMixedFleet(tb testing.TB, domains map[manifest.Product][]string, mutate func(*cloudsim.Config, *cloudsim.CA), target func(*manifest.Target)) *mixedFleet {
	tb.Helper()
	now := time.Now()
	root, err := cloudsim.NewRootCA("mixed root", now.Add(-48*time.Hour), now.AddDate(2, 0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	reg := func(ds []string) []cloudsim.Domain {
		out := make([]cloudsim.Domain, len(ds))
		for i, d := range ds {
			out[i] = cloudsim.Domain{Name: d}
		}
		return out
	}
	cfg := cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "mixedAK", AccessKeySecret: "mixedSK"}},
		Domains: cloudsim.Domains{
			CDN: reg(domains[cdn.Name]), DCDN: reg(domains[dcdn.Name]),
			VOD: reg(domains[vod.Name]), Live: reg(domains[live.Name]),
		},
		Quotas: quick(),
		OSS:    cloudsim.OSSSettings{Region: mixedRegion, Buckets: []string{mixedBucket}},
	}
	if mutate != nil {
		mutate(&cfg, root)
	}
	sim, env := cloudsimtest.StartEnv(tb, cfg)
	client, err := all.Products().NewClient(cloud.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(client.Transport().CloseIdleConnections)
	b := issueMixed(tb, root, now.Add(-time.Hour))
	m := &manifest.Manifest{}
	for _, p := range all.Products().Names() {
		for _, d := range domains[p] {
			t := manifest.Target{Product: p, Domain: d}
			if p == ossproduct.Name {
				t.Fields, t.Region = map[string]string{"bucket": mixedBucket}, mixedRegion
			}
			if target != nil {
				target(&t)
			}
			m.Targets = append(m.Targets, t)
		}
	}
	p, err := plan.Build(b, m, "", all.Products())
	if err != nil {
		tb.Fatal(err)
	}
	f := &mixedFleet{sim: sim, client: client, plan: p, bundle: b, root: root}
	// The custom domains are bound to the bucket, without a certificate,
	// as the console leaves them (the emulator skips the ownership check).
	oc := f.ossClient(tb, env)
	for _, d := range domains[ossproduct.Name] {
		if err := oc.PutBucketCname(mixedBucket, d); err != nil {
			tb.Fatal(err)
		}
	}
	f.oss, f.start = oc, len(sim.Journal().Entries())
	return f
}

// ossClient is an OSS SDK client of the emulator, for setting the scene.
func (f *mixedFleet) ossClient(tb testing.TB, env map[string]string) *oss.Client {
	tb.Helper()
	c, err := oss.New(env["CERTDROP_OSS_ENDPOINT"], env["ALIBABA_CLOUD_ACCESS_KEY_ID"], env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
		oss.AuthVersion(oss.AuthV4), oss.Region(mixedRegion), oss.ForcePathStyle(true))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// issueMixed issues a certificate for *.mixed.test, issued at notBefore.
func issueMixed(tb testing.TB, root *cloudsim.CA, notBefore time.Time) *bundle.Bundle {
	tb.Helper()
	leaf, err := root.Issue(cloudsim.LeafRequest{DNSNames: []string{"*.mixed.test"}, NotBefore: notBefore, NotAfter: notBefore.AddDate(0, 3, 0)})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := bundle.Parse([]bundle.Source{{Name: "mixed.pem", Data: append(append([]byte{}, leaf.CertPEM...), leaf.KeyPEM...)}}, bundle.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sets counts the emulator's Set calls (and OSS PutCname calls) per
// "action domain", and per action.
func (f *mixedFleet) sets(from int) (byDomain map[string]int, byAPI map[string]int, entries []cloudsim.Entry) {
	byDomain, byAPI = map[string]int{}, map[string]int{}
	all := f.sim.Journal().Entries()
	for _, e := range all[from:] {
		if strings.HasPrefix(e.API, "Set") || e.API == ossproduct.PutCname.Action {
			d := e.Domain
			if e.Service == "oss" {
				d = e.Key // the journal names the bucket; Key is the custom domain
			}
			byDomain[e.API+" "+d]++
			byAPI[e.API]++
			entries = append(entries, e)
		}
	}
	return byDomain, byAPI, entries
}

// TestMixedFleet deploys one certificate to CDN, DCDN, VOD, Live and OSS
// custom domains through the fan-out against the emulator, verifying each
// by Describe (for OSS, ListCname's SHA-1 fingerprint): every target is
// set exactly once with its product's API, the key going once to each OSS
// domain, a DCDN staging target is sent Env=staging, and a second run
// sets nothing but the staging target (never compared with production, as
// for CDN).
func TestMixedFleet(t *testing.T) {
	f := newMixedFleet(t, nil, "v1.mixed.test")
	res := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{Verify: true}))
	total := len(f.plan.Calls)
	if c := countStates(res); c[fanout.Deployed] != total {
		for _, r := range res {
			t.Logf("%s %s: %s %v", r.Call.Target.Product, r.Call.DomainName, r.State, r.Err)
		}
		t.Fatalf("first run: %v, want %d deployed", c, total)
	}
	byDomain, byAPI, entries := f.sets(f.start)
	for _, c := range f.plan.Calls {
		if n := byDomain[c.API.Action+" "+c.DomainName]; n != 1 {
			t.Errorf("%s %s: %d Set calls, want 1", c.API.Action, c.DomainName, n)
		}
	}
	if byAPI["SetDcdnDomainSSLCertificate"] != len(mixedDomains[dcdn.Name]) {
		t.Errorf("Set calls by API: %v", byAPI)
	}
	for _, e := range entries {
		if want := map[bool]string{true: "staging"}[e.Domain == "v1.mixed.test"]; e.Env != want {
			t.Errorf("%s %s sent Env=%q, want %q", e.API, e.Domain, e.Env, want)
		}
	}
	cnames := f.sim.OSS().Cnames(mixedBucket)
	for _, d := range mixedDomains[ossproduct.Name] {
		if got := cnames[d]; got == nil || got.Fingerprint != f.bundle.Identity().Fingerprint {
			t.Errorf("oss %s carries %+v", d, got)
		}
	}
	keys := 0
	for _, e := range entries {
		if e.API == ossproduct.PutCname.Action && e.KeySent {
			keys++
		}
	}
	if keys != len(mixedDomains[ossproduct.Name]) {
		t.Errorf("%d PutCname calls carried the key, want one per oss target", keys)
	}
	for _, d := range mixedDomains[dcdn.Name] {
		if got, ok := f.sim.Installed(cloudsim.ProductDCDN, d); !ok || got.CertName != f.plan.CertName {
			t.Errorf("dcdn %s carries %+v in production", d, got)
		}
	}
	if got, _ := f.sim.Installed(cloudsim.ProductVOD, "v1.mixed.test"); got.CertName == f.plan.CertName {
		t.Errorf("the staging vod target changed production: %+v", got)
	}
	if got, ok := f.sim.Staging(cloudsim.ProductVOD, "v1.mixed.test"); !ok || got.CertName != f.plan.CertName {
		t.Errorf("vod v1.mixed.test staging carries %+v", got)
	}

	from := len(f.sim.Journal().Entries())
	again := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{}))
	c := countStates(again)
	if c[fanout.Unchanged] != total-1 || c[fanout.Deployed] != 1 {
		t.Errorf("second run: %v, want %d unchanged and the staging target deployed", c, total-1)
	}
	byDomain, _, _ = f.sets(from)
	if n := len(byDomain); n != 1 || byDomain["SetVodDomainSSLCertificate v1.mixed.test"] != 1 {
		t.Errorf("the second run set %v, want only the staging target", byDomain)
	}
}

// TestMixedFleetDCDNThrottledAndNewer: a DCDN Set answered with
// throttling is retried until it succeeds (counted in Throttled, each try
// in the journal), and a DCDN domain and an OSS custom domain that carry a
// certificate issued after this one are skipped, not downgraded.
func TestMixedFleetDCDNThrottledAndNewer(t *testing.T) {
	var newerPEM, newerKey string
	f := newMixedFleet(t, func(cfg *cloudsim.Config, root *cloudsim.CA) {
		cfg.Faults.Scripted = append(cfg.Faults.Scripted, cloudsim.Script{
			Domain: "d1.mixed.test", API: "SetDcdnDomainSSLCertificate", Code: "Throttling.User", Times: 2})
		leaf, err := root.Issue(cloudsim.LeafRequest{DNSNames: []string{"*.mixed.test"},
			NotBefore: time.Now().Add(-10 * time.Minute), NotAfter: time.Now().AddDate(0, 1, 0)})
		if err != nil {
			t.Fatal(err)
		}
		newerPEM, newerKey = string(leaf.CertPEM), string(leaf.KeyPEM)
		for i := range cfg.Domains.DCDN {
			if cfg.Domains.DCDN[i].Name == "d2.mixed.test" {
				cfg.Domains.DCDN[i].Installed = &cloudsim.SeedCert{CertName: "renewed-by-hand", Cert: newerPEM}
			}
		}
	})
	err := f.oss.PutBucketCnameWithCertificate(mixedBucket, oss.PutBucketCname{Cname: "o2.mixed.test",
		CertificateConfiguration: &oss.CertificateConfiguration{Certificate: newerPEM, PrivateKey: newerKey}})
	if err != nil {
		t.Fatal(err)
	}
	newerID := f.sim.OSS().Cnames(mixedBucket)["o2.mixed.test"].CertID
	f.start = len(f.sim.Journal().Entries())
	res := fanout.Run(context.Background(), f.client, f.plan, fastRetry(fanout.Options{}))
	byDomain, _, _ := f.sets(f.start)
	for _, r := range res {
		switch r.Call.DomainName {
		case "d1.mixed.test":
			if r.State != fanout.Deployed || r.Attempts != 3 || r.Throttled != 2 {
				t.Errorf("the throttled DCDN target: %s, %d attempts, %d throttled, %v", r.State, r.Attempts, r.Throttled, r.Err)
			}
			if n := byDomain["SetDcdnDomainSSLCertificate d1.mixed.test"]; n != 3 {
				t.Errorf("the emulator saw %d DCDN Set calls for d1, want 3", n)
			}
		case "d2.mixed.test":
			if r.State != fanout.SkippedNewer || r.Attempts != 0 || r.Before == nil || r.Before.CertName != "renewed-by-hand" {
				t.Errorf("the DCDN domain with a newer certificate: %s, %d attempts, before %+v", r.State, r.Attempts, r.Before)
			}
			if n := byDomain["SetDcdnDomainSSLCertificate d2.mixed.test"]; n != 0 {
				t.Errorf("the newer certificate was overwritten: %d Set calls", n)
			}
		case "o2.mixed.test":
			if r.State != fanout.SkippedNewer || r.Attempts != 0 || r.Before == nil || !r.Before.HTTPS || r.Before.Fingerprint != "" {
				t.Errorf("the OSS domain with a newer certificate: %s, %d attempts, before %+v", r.State, r.Attempts, r.Before)
			}
			if n := byDomain["PutCname o2.mixed.test"]; n != 0 {
				t.Errorf("the newer certificate was overwritten: %d PutCname calls", n)
			}
		default:
			if r.State != fanout.Deployed {
				t.Errorf("%s %s: %s %v", r.Call.Target.Product, r.Call.DomainName, r.State, r.Err)
			}
		}
	}
	if got, _ := f.sim.Installed(cloudsim.ProductDCDN, "d2.mixed.test"); got.CertName != "renewed-by-hand" {
		t.Errorf("d2 carries %q", got.CertName)
	}
	if got := f.sim.OSS().Cnames(mixedBucket)["o2.mixed.test"]; got == nil || got.CertID != newerID {
		t.Errorf("o2 carries %+v, want %s", got, newerID)
	}
}
