package all_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/hub"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/alb"
	"github.com/certdrop/certdrop/shared/product/clb"
	"github.com/certdrop/certdrop/shared/product/internal/lb"
	"github.com/certdrop/certdrop/shared/product/nlb"
	"github.com/certdrop/certdrop/shared/report"
)

// The load balancer products against the emulator: ALB and NLB listeners
// (default and additional certificates, by CAS reference, asynchronous),
// CLB listeners and domain extensions (server certificates per region).

// fastWait polls the emulator's listeners often: it configures in 150 ms.
var fastWait = lb.WaitOptions{Interval: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond, Timeout: 10 * time.Second, Retries: 10}

// lbRegistry is the load balancer products with fast waits.
func lbRegistry() *product.Registry {
	return product.New(alb.NewWith(fastWait), nlb.NewWith(fastWait), clb.New())
}

// seedPEM issues a certificate for names, issued at notBefore, and
// returns its PEM chain.
func seedPEM(t *testing.T, notBefore time.Time, names ...string) string {
	t.Helper()
	root, err := cloudsim.NewRootCA("seed root", notBefore.Add(-time.Hour), notBefore.AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Issue(cloudsim.LeafRequest{DNSNames: names, NotBefore: notBefore, NotAfter: notBefore.AddDate(0, 0, 90)})
	if err != nil {
		t.Fatal(err)
	}
	leaks.SecretPEM(string(leaf.KeyPEM))
	return string(leaf.CertPEM)
}

// lbAccount is the load balancers the tests deploy to: ALB listener
// lsn-a (default old-api, additional old-www for www.certdrop.test and
// other for another domain), lsn-http (an HTTP listener), lsn-busy
// (Configuring for a second), lsn-intl (in eu-central-1), NLB listener
// lsn-n (TCPSSL, default old-api), CLB lb-1 (443 HTTPS, bandwidth 100,
// a domain extension for www) and lb-2 (443 HTTPS).
func lbAccount(t *testing.T) cloudsim.Config {
	t.Helper()
	cfg := simConfig()
	old := time.Now().AddDate(0, 0, -30)
	api, www, other := "api."+testDomain, "www."+testDomain, "other.example.org"
	cfg.CAS.Certificates = []cloudsim.SeedCASCert{
		{Name: "old-api", Cert: seedPEM(t, old, api, www)},
		{Name: "old-www", Cert: seedPEM(t, old, www)},
		{Name: "other", Cert: seedPEM(t, old, other)},
	}
	cfg.LoadBalancers = cloudsim.LoadBalancerSettings{
		ConfigureDelay: 150 * time.Millisecond,
		ALB: []cloudsim.LBListener{
			{ID: "lsn-a", Region: "cn-hangzhou", LoadBalancer: "alb-1", Default: "old-api", Additional: []string{"old-www", "other"}},
			{ID: "lsn-http", Region: "cn-hangzhou", Protocol: "HTTP"},
			{ID: "lsn-busy", Region: "cn-hangzhou", Default: "old-api", ConfiguringFor: time.Second},
			{ID: "lsn-intl", Region: "eu-central-1"},
		},
		NLB: []cloudsim.LBListener{{ID: "lsn-n", Region: "cn-hangzhou", Default: "old-api", Additional: []string{"other"}}},
		CLB: []cloudsim.ClassicLB{
			{ID: "lb-1", Region: "cn-hangzhou", Listeners: []cloudsim.ClassicListener{
				{Port: 443, Bandwidth: 100, DomainExtensions: []cloudsim.ClassicExtension{{Domain: www}, {Domain: other}}},
				{Port: 80, Protocol: "http"},
			}},
			{ID: "lb-2", Region: "cn-hangzhou", Listeners: []cloudsim.ClassicListener{{Port: 443}}},
		},
	}
	return cfg
}

// lbClient starts the emulator and a client of the load balancer products.
func lbClient(t *testing.T, cfg cloudsim.Config) (*cloudsim.Sim, *product.Client) {
	t.Helper()
	s := cloudsimtest.Start(t, cfg)
	return s, lbSimClient(t, s)
}

// lbSimClient is a client of the load balancer products against s (a
// fresh one is the next run's).
func lbSimClient(t *testing.T, s *cloudsim.Sim) *product.Client {
	t.Helper()
	ep := s.Endpoints()
	c, err := lbRegistry().NewClient(cloud.Options{Logger: leaks.Logger(), Getenv: env(s,
		alb.EnvEndpoint, ep.OpenAPI, nlb.EnvEndpoint, ep.OpenAPI, clb.EnvEndpoint, ep.OpenAPI,
		cloud.EnvCASEndpoint, ep.OpenAPI, cloud.EnvCASIntlEndpoint, ep.CASIntl)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Transport().CloseIdleConnections)
	return c
}

// deployYAML parses targets (the manifest's targets section) as a user's
// manifest, plans b onto it and runs the deployment as the function does.
func deployYAML(t *testing.T, c *product.Client, b *bundle.Bundle, targets string) ([]fanout.Result, []fanout.Upload) {
	t.Helper()
	p, err := plan.Build(b, parseYAML(t, c, targets), "", c.Registry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, ups := fanout.RunCAS(ctx, c, c, p, fanout.Options{})
	for _, r := range res {
		leaks.Seen(r.Err)
	}
	return res, ups
}

// parseYAML parses targets (the manifest's targets section) as a user's
// manifest, with c's products.
func parseYAML(t *testing.T, c *product.Client, targets string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse("lb.yaml", []byte("version: 1\ntargets:\n"+targets), c.Registry().Catalog())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// allIn stops the test unless every result is in state want.
func allIn(t *testing.T, res []fanout.Result, want fanout.State) {
	t.Helper()
	for _, r := range res {
		if r.State != want {
			t.Fatalf("%s: %s (%v); want %s", r.Call, r.State, r.Err, want)
		}
	}
}

// rerunUnchanged deploys b onto targets again and fails the test unless
// every target is unchanged and service answered none of writeAPIs.
func rerunUnchanged(t *testing.T, s *cloudsim.Sim, c *product.Client, b *bundle.Bundle, targets, service string, writeAPIs ...string) {
	t.Helper()
	before := writes(s, service, writeAPIs...)
	res, _ := deployYAML(t, c, b, targets)
	for _, r := range res {
		if r.State != fanout.Unchanged {
			t.Errorf("re-run: %s: %s (%v); want unchanged", r.Call, r.State, r.Err)
		}
	}
	if after := writes(s, service, writeAPIs...); after != before {
		t.Errorf("the re-run made %d writes; want none", after-before)
	}
}

// casID is the "<CertId>-<region>" of the only upload of region.
func casID(t *testing.T, ups []fanout.Upload, region string) string {
	t.Helper()
	for _, u := range ups {
		if u.Region == region && u.CertID != 0 {
			return lb.CertID{ID: u.CertID, Region: region}.String()
		}
	}
	t.Fatalf("no upload in %s: %+v", region, ups)
	return ""
}

// seededID is the id of a seeded CAS certificate.
func seededID(t *testing.T, s *cloudsim.Sim, name string) string {
	t.Helper()
	for _, c := range s.CASCertificates("cn-hangzhou") {
		if c.Name == name {
			return lb.CertID{ID: c.ID, Region: "cn-hangzhou"}.String()
		}
	}
	t.Fatalf("no CAS certificate %s", name)
	return ""
}

// writes counts the journal's successful calls of api by service.
func writes(s *cloudsim.Sim, service string, apis ...string) int {
	n := 0
	for _, e := range s.Journal().Entries() {
		if e.Service == service && slices.Contains(apis, e.API) && e.Outcome == "ok" {
			n++
		}
	}
	return n
}

const albTargets = `  - product: alb
    region: cn-hangzhou
    listener: lsn-a
    domains: [api.certdrop.test, www.certdrop.test]
  - product: alb
    region: cn-hangzhou
    listener: lsn-a
    domain: www.certdrop.test
    sni: true
`

// TestALBDefaultAndAdditional: one run sets lsn-a's default certificate
// and adds the additional one for www, which replaces the earlier
// certificate for exactly those names and leaves the unrelated additional
// certificate; the certificate goes to CAS once; a re-run finds it all in
// place, unchanged, with no write.
func TestALBDefaultAndAdditional(t *testing.T) {
	s, c := lbClient(t, lbAccount(t))
	b := testBundle(t, "api."+testDomain, "www."+testDomain)
	oldWWW, other := seededID(t, s, "old-www"), seededID(t, s, "other")

	res, ups := deployYAML(t, c, b, albTargets)
	allIn(t, res, fanout.Deployed)
	id := casID(t, ups, "cn-hangzhou")
	got, _ := s.LBListener(cloudsim.ProductALB, "lsn-a")
	if got.Status != "Running" || got.Default != id {
		t.Errorf("lsn-a: %s, default %s; want Running with %s", got.Status, got.Default, id)
	}
	if got.Additional[id] != "Associated" {
		t.Errorf("lsn-a's additional certificates %v lack %s Associated", got.Additional, id)
	}
	if _, ok := got.Additional[other]; !ok {
		t.Errorf("the unrelated additional certificate %s was removed: %v", other, got.Additional)
	}
	if _, ok := got.Additional[oldWWW]; ok {
		t.Errorf("the replaced certificate %s for www is still on the listener: %v", oldWWW, got.Additional)
	}
	if n := writes(s, "cas", "UploadUserCertificate"); n != 1 {
		t.Errorf("%d uploads to CAS; want 1", n)
	}
	if sent, _ := s.Journal().KeysSent(); sent != 1 {
		t.Errorf("the key crossed the wire %d times; want once", sent)
	}

	rerunUnchanged(t, s, c, b, albTargets, cloudsim.ProductALB,
		"UpdateListenerAttribute", "AssociateAdditionalCertificatesWithListener", "DissociateAdditionalCertificatesFromListener")
	if sent, _ := s.Journal().KeysSent(); sent != 1 {
		t.Errorf("after the re-run the key crossed the wire %d times; want once", sent)
	}
}

// TestALBAdditionalLeavesDefault: sni: true adds an additional certificate
// and never touches the default one.
func TestALBAdditionalLeavesDefault(t *testing.T) {
	s, c := lbClient(t, lbAccount(t))
	b := testBundle(t, "www."+testDomain)
	def := seededID(t, s, "old-api")
	res, ups := deployYAML(t, c, b, `  - product: alb
    region: cn-hangzhou
    listener: lsn-a
    domain: www.certdrop.test
    sni: true
`)
	if res[0].State != fanout.Deployed {
		t.Fatalf("%s (%v); want deployed", res[0].State, res[0].Err)
	}
	got, _ := s.LBListener(cloudsim.ProductALB, "lsn-a")
	if got.Default != def {
		t.Errorf("the default certificate is %s; want %s untouched", got.Default, def)
	}
	if got.Additional[casID(t, ups, "cn-hangzhou")] != "Associated" {
		t.Errorf("additional certificates %v lack the new one", got.Additional)
	}
	if n := writes(s, cloudsim.ProductALB, "UpdateListenerAttribute"); n != 0 {
		t.Errorf("%d UpdateListenerAttribute calls for an sni target; want none", n)
	}
}

// TestALBWaitsForBusyListener: a listener Configuring at the first call is
// waited for, and a write answered IncorrectStatus.Listener (another
// caller configuring it) is sent again once it is Running.
func TestALBWaitsForBusyListener(t *testing.T) {
	cfg := lbAccount(t)
	cfg.Faults.Scripted = []cloudsim.Script{{Domain: "lsn-a", API: "AssociateAdditionalCertificatesWithListener", Code: "IncorrectStatus.Listener"}}
	s, c := lbClient(t, cfg)
	b := testBundle(t, "api."+testDomain, "www."+testDomain)
	res, ups := deployYAML(t, c, b, `  - product: alb
    region: cn-hangzhou
    listener: lsn-busy
    domains: [api.certdrop.test, www.certdrop.test]
  - product: alb
    region: cn-hangzhou
    listener: lsn-a
    domain: www.certdrop.test
    sni: true
`)
	allIn(t, res, fanout.Deployed)
	id := casID(t, ups, "cn-hangzhou")
	if got, _ := s.LBListener(cloudsim.ProductALB, "lsn-busy"); got.Default != id {
		t.Errorf("lsn-busy carries %s; want %s", got.Default, id)
	}
	var busy, refusedWhileConfiguring int
	for _, e := range s.Journal().Entries() {
		if e.Code == "IncorrectStatus.Listener" {
			busy++
			if e.Domain == "lsn-busy" {
				refusedWhileConfiguring++
			}
		}
	}
	if busy != 1 || refusedWhileConfiguring != 0 {
		t.Errorf("%d busy answers (%d for lsn-busy); want only the scripted one: lsn-busy is waited for before the write", busy, refusedWhileConfiguring)
	}
	if n := writes(s, cloudsim.ProductALB, "AssociateAdditionalCertificatesWithListener"); n != 1 {
		t.Errorf("%d successful associations; want 1 after the busy answer", n)
	}
}

// TestNLBDefaultAndAdditional: NLB's names (CertificateIds,
// AdditionalCertificateIds) and TCPSSL listener, the unrelated additional
// certificate kept.
func TestNLBDefaultAndAdditional(t *testing.T) {
	s, c := lbClient(t, lbAccount(t))
	b := testBundle(t, "api."+testDomain, "www."+testDomain)
	other := seededID(t, s, "other")
	res, ups := deployYAML(t, c, b, `  - product: nlb
    region: cn-hangzhou
    listener: lsn-n
    domains: [api.certdrop.test, www.certdrop.test]
  - product: nlb
    region: cn-hangzhou
    listener: lsn-n
    domains: [api.certdrop.test, www.certdrop.test]
    sni: true
`)
	allIn(t, res, fanout.Deployed)
	id := casID(t, ups, "cn-hangzhou")
	got, _ := s.LBListener(cloudsim.ProductNLB, "lsn-n")
	if got.Default != id || got.Additional[id] != "Associated" {
		t.Errorf("lsn-n: default %s, additional %v; want %s in both", got.Default, got.Additional, id)
	}
	if _, ok := got.Additional[other]; !ok {
		t.Errorf("the unrelated additional certificate was removed: %v", got.Additional)
	}
}

// TestLBTargetFailures: a listener that takes no certificate, one that
// does not exist, one named in the wrong region and one whose
// additional-certificate quota is full each fail on their own, saying
// what to do; the other target is deployed.
func TestLBTargetFailures(t *testing.T) {
	cfg := lbAccount(t)
	cfg.LoadBalancers.MaxAdditionalCertificates = 2
	s, c := lbClient(t, cfg)
	b := testBundle(t, "api."+testDomain, "www."+testDomain)
	res, _ := deployYAML(t, c, b, `  - product: alb
    region: cn-hangzhou
    listener: lsn-http
    domains: [api.certdrop.test]
  - product: alb
    region: cn-hangzhou
    listener: lsn-missing
    domains: [api.certdrop.test]
  - product: alb
    region: cn-shanghai
    listener: lsn-intl
    domains: [api.certdrop.test]
  - product: alb
    region: cn-hangzhou
    listener: lsn-a
    domain: api.certdrop.test
    sni: true
  - product: nlb
    region: cn-hangzhou
    listener: lsn-n
    domains: [api.certdrop.test, www.certdrop.test]
`)
	want := map[string]struct{ code, hint string }{
		"lsn-http":                {"ListenerProtocol", "HTTPS or QUIC listener"},
		"lsn-missing":             {"ResourceNotFound.Listener", "check the target's listener and region"},
		"lsn-intl":                {"ResourceNotFound.Listener", "check the target's listener and region"},
		"lsn-a/api.certdrop.test": {"QuotaExceeded.AdditionalCertificatesNum", "remove additional certificates nothing uses"},
		"lsn-n":                   {"", ""},
	}
	for _, r := range res {
		w := want[r.Call.DomainName]
		if w.code == "" {
			if r.State != fanout.Deployed {
				t.Errorf("%s: %s (%v); want deployed", r.Call, r.State, r.Err)
			}
			continue
		}
		e := report.ErrorOf(r.Err)
		if r.State != fanout.Failed || e.Code != w.code || !strings.Contains(e.Hint, w.hint) {
			t.Errorf("%s: %s, code %q hint %q; want failed %s with %q", r.Call, r.State, e.Code, e.Hint, w.code, w.hint)
		}
	}
	got, _ := s.LBListener(cloudsim.ProductALB, "lsn-a")
	if len(got.Additional) != 2 {
		t.Errorf("lsn-a's additional certificates %v; want the two it had", got.Additional)
	}
}

// TestLBCASRegionFollowsListener: a listener outside the Chinese mainland
// takes its certificate from ap-southeast-1, one inside from cn-hangzhou:
// one upload to each region, each listener set with its own.
func TestLBCASRegionFollowsListener(t *testing.T) {
	s, c := lbClient(t, lbAccount(t))
	b := testBundle(t, "api."+testDomain, "www."+testDomain)
	res, ups := deployYAML(t, c, b, `  - product: alb
    region: eu-central-1
    listener: lsn-intl
    domains: [api.certdrop.test]
  - product: alb
    region: cn-hangzhou
    listener: lsn-busy
    domains: [api.certdrop.test]
`)
	allIn(t, res, fanout.Deployed)
	if got, _ := s.LBListener(cloudsim.ProductALB, "lsn-intl"); got.Default != casID(t, ups, "ap-southeast-1") {
		t.Errorf("lsn-intl carries %s; want the ap-southeast-1 upload", got.Default)
	}
	if got, _ := s.LBListener(cloudsim.ProductALB, "lsn-busy"); got.Default != casID(t, ups, "cn-hangzhou") {
		t.Errorf("lsn-busy carries %s; want the cn-hangzhou upload", got.Default)
	}
	if sent, _ := s.Journal().KeysSent(); sent != 2 {
		t.Errorf("the key crossed the wire %d times; want once per region (2)", sent)
	}
}

const clbTargets = `  - product: clb
    region: cn-hangzhou
    loadBalancer: lb-1
    port: 443
    domains: [api.certdrop.test, www.certdrop.test]
  - product: clb
    region: cn-hangzhou
    loadBalancer: lb-1
    port: 443
    domain: www.certdrop.test
    sni: true
  - product: clb
    region: cn-hangzhou
    loadBalancer: lb-2
    port: 443
    domains: [api.certdrop.test, www.certdrop.test]
`

// TestCLBListenersAndExtension: by upload, the certificate and its key go
// to the region's server certificates once for three targets; the two
// listeners are set with only their id and the certificate (the other
// attributes untouched), the domain extension of www with it, the other
// extension left; a re-run uploads nothing and writes nothing.
func TestCLBListenersAndExtension(t *testing.T) {
	s, c := lbClient(t, lbAccount(t))
	b := testBundle(t, "api."+testDomain, "www."+testDomain)
	res, _ := deployYAML(t, c, b, clbTargets)
	allIn(t, res, fanout.Deployed)
	certs := s.ServerCertificates("cn-hangzhou")
	if len(certs) != 1 || !certs[0].HasKey {
		t.Fatalf("server certificates %+v; want one, uploaded with its key", certs)
	}
	id := certs[0].ID
	if sent, _ := s.Journal().KeysSent(); sent != 1 {
		t.Errorf("the key crossed the wire %d times; want once", sent)
	}
	l1, _ := s.CLBListener("lb-1", 443)
	l2, _ := s.CLBListener("lb-2", 443)
	if l1.ServerCertificateID != id || l2.ServerCertificateID != id || l1.Extensions["www."+testDomain] != id {
		t.Errorf("lb-1 %+v, lb-2 %+v; want %s on both listeners and www's extension", l1, l2, id)
	}
	if l1.Extensions["other.example.org"] != "" || l1.Bandwidth != 100 {
		t.Errorf("lb-1's other extension or bandwidth changed: %+v", l1)
	}
	if want := []string{"ListenerPort", "LoadBalancerId", "RegionId", "ServerCertificateId"}; !slices.Equal(l1.LastSetParams, want) {
		t.Errorf("SetLoadBalancerHTTPSListenerAttribute sent %v; want only %v", l1.LastSetParams, want)
	}

	rerunUnchanged(t, s, c, b, clbTargets, cloudsim.ProductCLB,
		"UploadServerCertificate", "SetLoadBalancerHTTPSListenerAttribute", "SetDomainExtensionAttribute")
}

// TestCLBByCASReference: under delivery: cas the server certificate is
// made from the CAS certificate (no key to CLB); a fresh client (the next
// run) reuses it rather than uploading again.
func TestCLBByCASReference(t *testing.T) {
	s, c := lbClient(t, lbAccount(t))
	b := testBundle(t, "api."+testDomain, "www."+testDomain)
	targets := strings.ReplaceAll(clbTargets, "    port: 443\n", "    port: 443\n    delivery: cas\n")
	res, ups := deployYAML(t, c, b, targets)
	allIn(t, res, fanout.Deployed)
	certs := s.ServerCertificates("cn-hangzhou")
	if len(certs) != 1 || certs[0].HasKey || certs[0].AliCloudCertificateID == "" {
		t.Fatalf("server certificates %+v; want one, by CAS reference, without key", certs)
	}
	if sent, _ := s.Journal().KeysSent(); sent != 1 || ups[0].Attempts != 1 {
		t.Errorf("the key crossed the wire %d times; want once (the CAS upload)", sent)
	}
	// A later run: a fresh client.
	c3 := lbSimClient(t, s)
	b2 := testBundle(t, "api."+testDomain, "www."+testDomain) // a renewal
	res, _ = deployYAML(t, c3, b2, targets)
	allIn(t, res, fanout.Deployed)
	if n := len(s.ServerCertificates("cn-hangzhou")); n != 2 {
		t.Errorf("%d server certificates after the renewal; want 2 (one per certificate)", n)
	}
}

// TestCLBErrors: a port without a listener, an HTTP listener, a load
// balancer of another region and a domain without its extension fail
// each with what to do.
func TestCLBErrors(t *testing.T) {
	_, c := lbClient(t, lbAccount(t))
	b := testBundle(t, "api."+testDomain, "www."+testDomain)
	res, _ := deployYAML(t, c, b, `  - product: clb
    region: cn-hangzhou
    loadBalancer: lb-1
    port: 8443
    domains: [api.certdrop.test]
  - product: clb
    region: cn-hangzhou
    loadBalancer: lb-1
    port: 80
    domains: [api.certdrop.test]
  - product: clb
    region: cn-beijing
    loadBalancer: lb-2
    port: 443
    domains: [api.certdrop.test]
  - product: clb
    region: cn-hangzhou
    loadBalancer: lb-2
    port: 443
    domain: api.certdrop.test
    sni: true
`)
	want := []struct{ code, hint string }{
		{"ListenerNotFound", "check the target's port"},
		{"ListenerProtocolNotSupport", "HTTPS listener"},
		{"InvalidLoadBalancerId.NotFound", "check the target's loadBalancer and region"},
		{"NoDomainExtension", "add the domain extension in the console"},
	}
	for i, r := range res {
		e := report.ErrorOf(r.Err)
		if r.State != fanout.Failed || e.Code != want[i].code || !strings.Contains(e.Hint, want[i].hint) {
			t.Errorf("%s: %s, code %q hint %q; want failed %s with %q", r.Call, r.State, e.Code, e.Hint, want[i].code, want[i].hint)
		}
	}
}

// The load balancers' own errors are report errors with a code and hint.
var _ report.APIError = (*lb.Error)(nil)

// The products' client prunes their own stores (CLB's server
// certificates) beside CAS.
var _ fanout.Pruner = (*product.Client)(nil)

// TestCLBPrune: the prune deletes certdrop's server certificate that
// nothing uses and that is older than the newest two, keeps the newest
// two, one a listener uses (though older) and one certdrop did not
// upload; a dry run says the same and deletes nothing.
func TestCLBPrune(t *testing.T) {
	cfg := lbAccount(t)
	old := time.Now().AddDate(0, 0, -60)
	usedPEM := seedPEM(t, old, "api."+testDomain, "www."+testDomain)
	leaf := product.FirstCert(usedPEM)
	usedName := "certdrop-api.certdrop.test-" + leaf.NotAfter.UTC().Format("20060102") + "-" + bundle.Fingerprint(leaf)[:8]
	cfg.LoadBalancers.ServerCertificates = []cloudsim.SeedServerCert{
		{Region: "cn-hangzhou", Name: usedName, Cert: usedPEM},
		{Region: "cn-hangzhou", Name: "by-hand", Cert: seedPEM(t, old, "api."+testDomain)},
	}
	cfg.LoadBalancers.CLB[1].Listeners[0].ServerCertificate = usedName
	s, c := lbClient(t, cfg)
	target := `  - product: clb
    region: cn-hangzhou
    loadBalancer: lb-1
    port: 443
    domains: [api.certdrop.test, www.certdrop.test]
`
	var first string
	for i := 0; i < 3; i++ {
		res, _ := deployYAML(t, c, testBundle(t, "api."+testDomain, "www."+testDomain), target)
		if res[0].State != fanout.Deployed {
			t.Fatalf("deployment %d: %s (%v)", i, res[0].State, res[0].Err)
		}
		if i == 0 {
			l, _ := s.CLBListener("lb-1", 443)
			first = l.ServerCertificateID
		}
	}
	m := parseYAML(t, c, target)
	ctx := context.Background()
	for _, del := range []bool{false, true} {
		res := hub.Prune(ctx, c, c, m, hub.PruneOptions{Delete: del, Products: c.Registry()})
		var gone []string
		for _, d := range res.Deleted {
			if d.Store == "clb cn-hangzhou" {
				gone = append(gone, d.ID)
			}
		}
		if !slices.Equal(gone, []string{first}) || len(res.Failed) > 0 || len(res.Problems) > 0 {
			t.Errorf("delete=%v: deleted %v, failed %+v, problems %+v; want only %s", del, gone, res.Failed, res.Problems, first)
		}
		have := map[string]bool{}
		for _, sc := range s.ServerCertificates("cn-hangzhou") {
			have[sc.Name] = true
			if sc.ID == first && del {
				t.Errorf("%s is still there", first)
			}
		}
		if !have[usedName] || !have["by-hand"] {
			t.Errorf("delete=%v: the used or hand-made certificate was deleted: %v", del, have)
		}
		if n := len(s.ServerCertificates("cn-hangzhou")); n != 5-b2i(del) {
			t.Errorf("delete=%v: %d server certificates left; want %d", del, n, 5-b2i(del))
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// albSNITarget is an additional (SNI) certificate on ALB listener lsn-a
// for a name the test bundles' wildcard covers.
const albSNITarget = `  - product: alb
    region: cn-hangzhou
    listener: lsn-a
    domain: api.certdrop.test
    sni: true
`

// TestALBAdditionalByWildcardRerun: an additional certificate set for a
// name its wildcard covers is found on the next run (read by its id, not
// by the target's name, which CAS's keyword would not match): unchanged,
// no write.
func TestALBAdditionalByWildcardRerun(t *testing.T) {
	s, c := lbClient(t, lbAccount(t))
	b := testBundle(t, testDomain, "*."+testDomain)
	target := albSNITarget
	res, _ := deployYAML(t, c, b, target)
	if res[0].State != fanout.Deployed {
		t.Fatalf("%s (%v); want deployed", res[0].State, res[0].Err)
	}
	rerunUnchanged(t, s, c, b, target, cloudsim.ProductALB,
		"AssociateAdditionalCertificatesWithListener", "DissociateAdditionalCertificatesFromListener")
}

// TestALBAdditionalWildcardWithoutCertificate: a listener's additional
// wildcard certificate that certdrop set for a name it does not list
// exactly is what the target carries also to a Describe without a
// certificate in hand (a reconcile, a prune, the status page), so that a
// prune sees it in use.
func TestALBAdditionalWildcardWithoutCertificate(t *testing.T) {
	_, c := lbClient(t, lbAccount(t))
	b := testBundle(t, testDomain, "*."+testDomain)
	target := albSNITarget
	res, _ := deployYAML(t, c, b, target)
	if res[0].State != fanout.Deployed {
		t.Fatalf("%s (%v); want deployed", res[0].State, res[0].Err)
	}
	m := parseYAML(t, c, target)
	call, err := plan.TargetCall(c.Registry(), m.Targets[0])
	if err != nil {
		t.Fatal(err)
	}
	inst, err := c.Describe(context.Background(), call, product.Once{})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Fingerprint != b.Identity().Fingerprint {
		t.Errorf("without the certificate in hand: %+v; want the wildcard certdrop set (%s)", inst, b.Identity().Fingerprint)
	}
}
