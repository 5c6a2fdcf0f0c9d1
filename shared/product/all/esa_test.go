package all_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
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
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/esa"
)

// simEnv is the environment that points every product at the emulator,
// with the test credentials.
func simEnv(s *cloudsim.Sim) func(string) string {
	m := map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": testAK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": testSK}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if k != "ALIBABA_CLOUD_ACCESS_KEY_ID" {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

// issued is a certificate for names, valid from nb to na, with its PEM
// and parsed bundle (nil when expired: the bundle parser refuses none,
// but the APIs refuse expired certificates).
type issued struct {
	pem string
	b   *bundle.Bundle
}

// issue issues a certificate under a throwaway CA.
func issue(t *testing.T, nb, na time.Time, names ...string) issued {
	t.Helper()
	root, err := cloudsim.NewRootCA("esa test root", nb.Add(-time.Hour), na.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Issue(cloudsim.LeafRequest{DNSNames: names, NotBefore: nb, NotAfter: na})
	if err != nil {
		t.Fatal(err)
	}
	leaks.SecretPEM(string(leaf.KeyPEM))
	chain := string(leaf.CertPEM) + string(root.CertPEM())
	b, err := bundle.Parse([]bundle.Source{{Name: "fullchain.pem", Data: []byte(chain)}, {Name: "privkey.pem", Data: leaf.KeyPEM}}, bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaks.SecretPEM(b.KeyPEM().Reveal())
	return issued{pem: chain, b: b}
}

// certdropName is the name certdrop gives c.
func (c issued) certdropName() string { return plan.CertName(c.b.Identity()) }

// TestESASiteQuota deploys one certificate to ESA sites through the
// fan-out, against the emulator's ESA with its certificate quota (two per
// site here, the free plan's):
//
//   - an empty site gets it added;
//   - a site at its quota with certdrop's earlier certificate for the
//     same names gets that one replaced in place (same Id, still two);
//   - a site at its quota with certdrop's expired certificate for other
//     names gets that one deleted, then the new one added;
//   - a site at its quota with only certificates certdrop did not create
//     (one of them named like certdrop's, with another fingerprint) fails
//     saying so, and nothing is deleted;
//   - a second run finds every deployed site unchanged.
func TestESASiteQuota(t *testing.T) {
	now := time.Now()
	names := []string{"www.example.test", "*.example.test"}
	newCert := issue(t, now.Add(-time.Hour), now.AddDate(0, 0, 90), names...)
	oldCert := issue(t, now.AddDate(0, -2, 0), now.AddDate(0, 0, 20), names...)
	expired := issue(t, now.AddDate(0, -4, 0), now.AddDate(0, 0, -1), "old.example.test")
	foreign1 := issue(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), "shop.example.test")
	foreign2 := issue(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), "blog.example.test")
	fake := issue(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), "api.example.test")
	seed := func(name string, c issued) cloudsim.ESACertSettings {
		return cloudsim.ESACertSettings{Name: name, Cert: c.pem}
	}
	sim := cloudsimtest.Start(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: testAK, AccessKeySecret: testSK}},
		OSS:         cloudsim.OSSSettings{Disabled: true},
		ESA: cloudsim.ESASettings{Sites: []cloudsim.ESASiteSettings{
			{Name: "fresh.test"},
			{Name: "replace.test", Certificates: []cloudsim.ESACertSettings{seed("manual-shop", foreign1), seed(oldCert.certdropName(), oldCert)}},
			{Name: "expired.test", Certificates: []cloudsim.ESACertSettings{seed("manual-shop", foreign1), seed(expired.certdropName(), expired)}},
			{Name: "foreign.test", Certificates: []cloudsim.ESACertSettings{seed("manual-blog", foreign2),
				seed("certdrop-api.example.test-20300101-deadbeef", fake)}},
		}},
	})
	c := newClient(t, cloud.Options{Getenv: simEnv(sim)})
	before := map[string][]cloudsim.ESACertificate{}
	var targets []manifest.Target
	for _, site := range []string{"fresh.test", "replace.test", "expired.test", "foreign.test"} {
		before[site], _ = sim.ESACertificates(site)
		targets = append(targets, manifest.Target{Product: esa.Name, Names: names, Address: site,
			Fields: map[string]string{"site": site}})
	}
	m := &manifest.Manifest{Version: 1, Targets: targets}
	p, err := plan.Build(newCert.b, m, "", all.Products())
	if err != nil || len(p.Calls) != 4 {
		t.Fatalf("plan: %v, %d calls", err, len(p.Calls))
	}
	ctx := context.Background()
	results := fanout.Run(ctx, c, p, fanout.Options{})
	state := map[string]fanout.Result{}
	for _, r := range results {
		state[r.Call.DomainName] = r
		leaks.Seen(r.Err)
	}
	fp := newCert.b.Identity().Fingerprint

	has := func(site string) []cloudsim.ESACertificate {
		got, _ := sim.ESACertificates(site)
		return got
	}
	carries := func(list []cloudsim.ESACertificate, fp string) (cloudsim.ESACertificate, bool) {
		i := slices.IndexFunc(list, func(c cloudsim.ESACertificate) bool { return c.Fingerprint == fp })
		if i < 0 {
			return cloudsim.ESACertificate{}, false
		}
		return list[i], true
	}

	if r := state["fresh.test"]; r.State != fanout.Deployed {
		t.Errorf("fresh.test: %s %v", r.State, r.Err)
	}
	if got, ok := carries(has("fresh.test"), fp); !ok || got.Name != p.CertName || got.Type != "upload" {
		t.Errorf("fresh.test carries %+v", has("fresh.test"))
	}

	r := state["replace.test"]
	got := has("replace.test")
	old, _ := carries(before["replace.test"], oldCert.b.Identity().Fingerprint)
	if nc, ok := carries(got, fp); r.State != fanout.Deployed || !ok || nc.ID != old.ID || len(got) != 2 {
		t.Errorf("replace.test: %s %v; carries %+v; want certdrop's earlier certificate %s replaced in place", r.State, r.Err, got, old.ID)
	}
	if _, ok := carries(got, foreign1.b.Identity().Fingerprint); !ok {
		t.Error("replace.test: the foreign certificate is gone")
	}

	r, got = state["expired.test"], has("expired.test")
	_, hasNew := carries(got, fp)
	_, hasExpired := carries(got, expired.b.Identity().Fingerprint)
	_, hasForeign := carries(got, foreign1.b.Identity().Fingerprint)
	if r.State != fanout.Deployed || !hasNew || hasExpired || !hasForeign || len(got) != 2 {
		t.Errorf("expired.test: %s %v; carries %+v; want certdrop's expired one deleted and the new one added", r.State, r.Err, got)
	}

	r, got = state["foreign.test"], has("foreign.test")
	var qf *esa.QuotaFullError
	if r.State != fanout.Failed || !errors.As(r.Err, &qf) || qf.Foreign != 2 ||
		!strings.Contains(r.Err.Error(), "quota is full") || !strings.Contains(r.Err.Error(), "CertQuotaCheckFailed") {
		t.Errorf("foreign.test: %s %v; want a failure saying the quota is full of certificates certdrop did not create", r.State, r.Err)
	}
	if !slices.EqualFunc(got, before["foreign.test"], func(a, b cloudsim.ESACertificate) bool { return a.ID == b.ID && a.Fingerprint == b.Fingerprint }) {
		t.Errorf("foreign.test changed: %+v, was %+v", got, before["foreign.test"])
	}
	for _, e := range sim.Journal().Entries() {
		if e.API == "DeleteCertificate" && e.Domain != "expired.test" {
			t.Errorf("DeleteCertificate on %s", e.Domain)
		}
	}

	// A second run: the deployed sites are unchanged, nothing is set.
	sets := journalCount(sim, "SetCertificate")
	for _, r := range fanout.Run(ctx, c, p, fanout.Options{}) {
		want := fanout.Unchanged
		if r.Call.DomainName == "foreign.test" {
			want = fanout.Failed
		}
		if r.State != want {
			t.Errorf("second run %s: %s %v, want %s", r.Call.DomainName, r.State, r.Err, want)
		}
	}
	if n := journalCount(sim, "SetCertificate") - sets; n != 1 {
		t.Errorf("second run: %d SetCertificate calls, want 1 (foreign.test, refused again)", n)
	}
}

// journalCount counts the calls of an action the emulator answered.
func journalCount(sim *cloudsim.Sim, api string) int {
	n := 0
	for _, e := range sim.Journal().Entries() {
		if e.API == api {
			n++
		}
	}
	return n
}

// TestESAByCASAndPrune: under delivery: cas the certificate is uploaded to
// Certificate Management Service once and set on the site by reference
// (Type=cas, CasId, Region), without the key; a site carrying a newer
// certificate is skipped_newer; the prune timer deletes certdrop's
// superseded certificate of a site and keeps every certificate certdrop
// did not create.
func TestESAByCASAndPrune(t *testing.T) {
	now := time.Now()
	names := []string{"shop.example.test"}
	cur := issue(t, now.Add(-time.Hour), now.AddDate(0, 0, 90), names...)
	older := issue(t, now.AddDate(0, -3, 0), now.AddDate(0, 0, 10), names...)
	newer := issue(t, now.Add(-time.Minute), now.AddDate(0, 0, 100), names...)
	foreign := issue(t, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), "blog.example.test")
	sim := cloudsimtest.Start(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: testAK, AccessKeySecret: testSK}},
		OSS:         cloudsim.OSSSettings{Disabled: true},
		ESA: cloudsim.ESASettings{Sites: []cloudsim.ESASiteSettings{
			{Name: "cas.test", CertificateQuota: 5, Certificates: []cloudsim.ESACertSettings{
				{Name: older.certdropName(), Cert: older.pem}, {Name: "manual-blog", Cert: foreign.pem}}},
			{Name: "newer.test", Certificates: []cloudsim.ESACertSettings{{Name: "manual-newer", Cert: newer.pem}}},
		}},
	})
	c := newClient(t, cloud.Options{Getenv: simEnv(sim)})
	target := func(site string) manifest.Target {
		return manifest.Target{Product: esa.Name, Names: names, Address: site, Fields: map[string]string{"site": site},
			Delivery: manifest.DeliveryCAS}
	}
	m := &manifest.Manifest{Version: 1, Targets: []manifest.Target{target("cas.test"), target("newer.test")}}
	p, err := plan.Build(cur.b, m, "", all.Products())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	results, ups := fanout.RunCAS(ctx, c, c, p, fanout.Options{})
	for _, r := range results {
		want := fanout.Deployed
		if r.Call.DomainName == "newer.test" {
			want = fanout.SkippedNewer
		}
		if r.State != want {
			t.Errorf("%s: %s %v, want %s", r.Call.DomainName, r.State, r.Err, want)
		}
	}
	if len(ups) != 1 || ups[0].CertID == 0 {
		t.Fatalf("uploads: %+v", ups)
	}
	got, _ := sim.ESACertificates("cas.test")
	i := slices.IndexFunc(got, func(e cloudsim.ESACertificate) bool { return e.Fingerprint == cur.b.Identity().Fingerprint })
	if i < 0 || got[i].Type != "cas" || got[i].CasID != strconv.FormatInt(ups[0].CertID, 10) || got[i].Region != "cn-hangzhou" || got[i].Name != p.CASName {
		t.Fatalf("cas.test carries %+v; want the CAS certificate %d by reference", got, ups[0].CertID)
	}
	for _, e := range sim.Journal().Entries() {
		if e.API == "SetCertificate" && e.KeySent {
			t.Error("a SetCertificate by reference sent a private key")
		}
	}

	// The prune: certdrop's older certificate for the same names is
	// superseded by the one just set; the foreign one is never touched.
	m.Defaults.Prune = true
	res := hub.Prune(ctx, c, c, m, hub.PruneOptions{Delete: true, Products: all.Products()})
	var deleted, kept []string
	for _, d := range res.Deleted {
		if d.Store != "" {
			deleted = append(deleted, d.Name)
		}
	}
	for _, k := range res.Kept {
		if k.Store != "" {
			kept = append(kept, k.Name)
		}
	}
	if !slices.Equal(deleted, []string{older.certdropName()}) || len(res.Failed) != 0 {
		t.Errorf("pruned %v (failed %+v, problems %+v); want %s", deleted, res.Failed, res.Problems, older.certdropName())
	}
	if !slices.Contains(kept, "manual-blog") || !slices.Contains(kept, "manual-newer") || !slices.Contains(kept, p.CASName) {
		t.Errorf("kept %v", kept)
	}
	after, _ := sim.ESACertificates("cas.test")
	if len(after) != 2 {
		t.Errorf("cas.test after the prune: %+v", after)
	}
}
