package all_test

import (
	"context"
	"errors"
	"testing"

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
	"github.com/certdrop/certdrop/shared/product/vod"
)

// casSim is an account with a domain of every OpenAPI product, CAS in both
// regions, the given faults.
func casSim(t *testing.T, faults cloudsim.Faults) (*cloudsim.Sim, *product.Client) {
	t.Helper()
	cfg := simConfig()
	cfg.Domains.CDN = append(cfg.Domains.CDN, cloudsim.Domain{Name: "intl." + testDomain}, cloudsim.Domain{Name: "legacy." + testDomain})
	cfg.Domains.DCDN = []cloudsim.Domain{{Name: "dcdn." + testDomain}}
	cfg.Domains.Live = append(cfg.Domains.Live, cloudsim.Domain{Name: "up." + testDomain})
	cfg.Faults = faults
	s := cloudsimtest.Start(t, cfg)
	ep := s.Endpoints()
	c := newClient(t, cloud.Options{Getenv: env(s, dcdn.EnvEndpoint, ep.OpenAPI, cloud.EnvCASEndpoint, ep.OpenAPI, cloud.EnvCASIntlEndpoint, ep.CASIntl)})
	return s, c
}

// casTargets: every product by reference in cn-hangzhou, and a CDN domain
// in ap-southeast-1.
func casTargets() []manifest.Target {
	cas := manifest.DeliveryCAS
	ts := []manifest.Target{
		{Product: cdn.Name, Domain: "www." + testDomain, Delivery: cas},
		{Product: cdn.Name, Domain: "intl." + testDomain, Delivery: cas, CASRegion: manifest.CASRegionInternational},
		{Product: cdn.LegacyName, Domain: "legacy." + testDomain, Delivery: cas},
		{Product: vod.Name, Domain: "vod." + testDomain, Region: "cn-shanghai", Delivery: cas},
		{Product: dcdn.Name, Domain: "dcdn." + testDomain, Delivery: cas},
		// No live target: SetLiveDomainCertificate documents no reference
		// to CAS, so a live target with delivery: cas goes by upload (plan
		// tests it), and its Set would store the certificate in CAS under
		// the upload's name.
	}
	return ts
}

func casPlan(t *testing.T, b *bundle.Bundle) *plan.Plan {
	t.Helper()
	p, err := plan.Build(b, &manifest.Manifest{Version: 1, Targets: casTargets()}, "", all.Products())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// count returns how many journal entries of service and api ended
// outcome ("" for any).
func count(s *cloudsim.Sim, service, api, outcome string) int {
	n := 0
	for _, e := range s.Journal().Entries() {
		if e.Service == service && e.API == api && (outcome == "" || e.Outcome == outcome) {
			n++
		}
	}
	return n
}

// TestCASDeliveryUploadOnceAndRerun: the first run uploads the certificate
// once per CAS region and sets every product by reference to its CertId
// (or name); the key crosses the wire once per region; a re-run finds
// both uploads, uploads nothing, sends no key and sets nothing.
func TestCASDeliveryUploadOnceAndRerun(t *testing.T) {
	s, c := casSim(t, cloudsim.Faults{})
	b := testBundle(t, testDomain, "*."+testDomain)
	p := casPlan(t, b)
	ctx := context.Background()

	results, ups := fanout.RunCAS(ctx, c, c, p, fanout.Options{})
	if len(ups) != 2 {
		t.Fatalf("uploads = %+v; want one per region", ups)
	}
	ids := map[string]int64{}
	for _, u := range ups {
		if u.Err != nil || !u.Uploaded || u.Found || u.CertID == 0 || u.Attempts != 1 || u.Duration <= 0 {
			t.Errorf("upload %s = %+v; want uploaded once with a CertId", u.Region, u)
		}
		ids[u.Region] = u.CertID
	}
	for _, r := range results {
		if r.State != fanout.Deployed {
			t.Errorf("%s: %s (%v); want deployed", r.Call, r.State, r.Err)
			continue
		}
		got, _ := s.Installed(productOf(r.Call.Target.Product), r.Call.DomainName)
		if got.Fingerprint != b.Identity().Fingerprint {
			t.Errorf("%s carries %s; want the bundle's certificate", r.Call, got.CertName)
		}
		if !r.Call.Target.CAS() {
			if got.CertType != "upload" {
				t.Errorf("%s: CertType %q; want upload", r.Call, got.CertType)
			}
			continue
		}
		want := ids[r.Call.Target.CertRegion()]
		if got.CertType != "cas" || got.CertID != want || got.CertRegion != r.Call.Target.CertRegion() {
			t.Errorf("%s: CertType %q CertId %d region %q; want cas, %d, %s", r.Call, got.CertType, got.CertID, got.CertRegion, want, r.Call.Target.CertRegion())
		}
	}
	if n := count(s, "cas", "UploadUserCertificate", ""); n != 2 {
		t.Errorf("%d UploadUserCertificate calls; want 2", n)
	}
	sent, returned := s.Journal().KeysSent()
	if sent != 2 || returned != 0 {
		t.Errorf("the key crossed the wire %d times out and %d back; want 2 (one upload per region) and 0", sent, returned)
	}

	// The re-run: nothing uploaded, nothing set, no key sent.
	results, ups = fanout.RunCAS(ctx, c, c, casPlan(t, b), fanout.Options{})
	for _, u := range ups {
		if u.Err != nil || !u.Found || u.Uploaded || u.Attempts != 0 || u.CertID != ids[u.Region] {
			t.Errorf("re-run upload %s = %+v; want found, CertId %d, nothing uploaded", u.Region, u, ids[u.Region])
		}
	}
	for _, r := range results {
		if r.State != fanout.Unchanged || r.Attempts != 0 {
			t.Errorf("re-run %s: %s after %d Set calls; want unchanged, none", r.Call, r.State, r.Attempts)
		}
	}
	if n := count(s, "cas", "UploadUserCertificate", ""); n != 2 {
		t.Errorf("%d UploadUserCertificate calls after the re-run; want still 2", n)
	}
	if sent, _ := s.Journal().KeysSent(); sent != 2 {
		t.Errorf("the key crossed the wire %d times after the re-run; want still 2", sent)
	}
}

// TestCASUploadThrottledIsRetried: a throttled upload is retried, then the
// targets are set by reference.
func TestCASUploadThrottledIsRetried(t *testing.T) {
	b := testBundle(t, testDomain, "*."+testDomain)
	name := plan.CASCertName(b.Identity())
	s, c := casSim(t, cloudsim.Faults{Scripted: []cloudsim.Script{
		{Domain: name, API: "UploadUserCertificate", Code: "Throttling.User", Times: 2},
	}})
	results, ups := fanout.RunCAS(context.Background(), c, c, casPlan(t, b), fanout.Options{})
	throttled := 0
	for _, u := range ups {
		throttled += u.Throttled
		if u.Err != nil || u.CertID == 0 || u.Attempts != u.Throttled+1 {
			t.Errorf("%s upload = %+v; want in CAS after its throttled attempts", u.Region, u)
		}
	}
	if throttled != 2 {
		t.Errorf("%d throttled uploads; want the 2 scripted", throttled)
	}
	for _, r := range results {
		if r.State != fanout.Deployed {
			t.Errorf("%s: %s (%v); want deployed", r.Call, r.State, r.Err)
		}
	}
	if n := count(s, "cas", "UploadUserCertificate", ""); n != 4 {
		t.Errorf("%d upload calls; want 4 (one per region, two throttled)", n)
	}
}

// TestCASUploadFailsNoSet: when the uploads fail, no Set is sent for the
// targets referencing them: they fail with the upload's error. (Every
// target is delivered by reference here: an upload-delivery Set stores the
// certificate in CAS under the same name, as the service does, and the
// lookup may then find it and rightly use it, a race this test avoids.)
func TestCASUploadFailsNoSet(t *testing.T) {
	b := testBundle(t, testDomain, "*."+testDomain)
	name := plan.CASCertName(b.Identity())
	s, c := casSim(t, cloudsim.Faults{Scripted: []cloudsim.Script{
		// Both regions' uploads are refused.
		{Domain: name, API: "UploadUserCertificate", Code: "QuotaExceeded.Certificate", Status: 400, Times: 2},
	}})
	results, ups := fanout.RunCAS(context.Background(), c, c, casPlan(t, b), fanout.Options{})
	if len(ups) != 2 {
		t.Fatalf("uploads = %+v; want one per region", ups)
	}
	for _, u := range ups {
		leaks.Seen(u.Err) // TestMain checks that no rendering holds the key
		if u.Err == nil || u.CertID != 0 || u.Uploaded {
			t.Errorf("upload %s = %+v; want refused", u.Region, u)
		}
	}
	for _, r := range results {
		leaks.Seen(r.Err)
	}
	for _, r := range results {
		var ue *fanout.UploadError
		if r.State != fanout.Failed || !errors.As(r.Err, &ue) || r.Attempts != 0 {
			t.Errorf("%s: %s after %d Set calls (%v); want failed with the upload's error, no Set", r.Call, r.State, r.Attempts, r.Err)
		}
		if n := setCalls(s, r.Call.DomainName); n != 0 {
			t.Errorf("%s: %d Set calls reached the service; want 0", r.Call, n)
		}
	}
	var e *cloud.Error
	if !errors.As(results[0].Err, &e) || e.Code != "QuotaExceeded.Certificate" {
		t.Errorf("the failed target's error is %v; want the upload's QuotaExceeded.Certificate", results[0].Err)
	}
}

// setCalls counts the Set calls the emulator received for a domain.
func setCalls(s *cloudsim.Sim, domain string) int {
	n := 0
	for _, e := range s.Journal().Entries() {
		if e.Domain == domain && len(e.API) > 3 && e.API[:3] == "Set" {
			n++
		}
	}
	return n
}

// productOf names a product as the emulator does.
func productOf(p manifest.Product) string {
	switch p {
	case cdn.LegacyName:
		return "cdn"
	}
	return string(p)
}

// racer is a CAS client whose first lookup misses an upload made right
// after it by someone else (a product's Set with CertType=upload stores
// its certificate in CAS under the same name).
type racer struct {
	*product.Client
	b     *bundle.Bundle
	raced bool
}

func (r *racer) ListCAS(ctx context.Context, region, keyword string, expired bool) ([]fanout.CASCert, error) {
	if !r.raced {
		r.raced = true
		if _, _, err := r.Client.UploadCAS(ctx, region, plan.CASCertName(r.b.Identity()), r.b.CertPEM(), r.b.KeyPEM()); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return r.Client.ListCAS(ctx, region, keyword, expired)
}

// TestCASUploadNameTakenBySameCertificate: an upload refused with
// CertNameAlreadyExists because the same certificate was uploaded under
// the name meanwhile uses that one; the targets are set to it.
func TestCASUploadNameTakenBySameCertificate(t *testing.T) {
	s, c := casSim(t, cloudsim.Faults{})
	b := testBundle(t, testDomain, "*."+testDomain)
	tg := []manifest.Target{{Product: cdn.Name, Domain: "www." + testDomain, Delivery: manifest.DeliveryCAS}}
	p, err := plan.Build(b, &manifest.Manifest{Version: 1, Targets: tg}, "", all.Products())
	if err != nil {
		t.Fatal(err)
	}
	results, ups := fanout.RunCAS(context.Background(), c, &racer{Client: c, b: b}, p, fanout.Options{})
	if len(ups) != 1 || ups[0].Err != nil || !ups[0].Found || ups[0].CertID == 0 || ups[0].Attempts != 1 {
		t.Fatalf("upload = %+v; want the refused upload resolved to the certificate already there", ups)
	}
	if results[0].State != fanout.Deployed {
		t.Errorf("%s: %s %v", results[0].Call, results[0].State, results[0].Err)
	}
	if got, _ := s.Installed("cdn", "www."+testDomain); got.CertID != ups[0].CertID {
		t.Errorf("www carries CertId %d; want %d", got.CertID, ups[0].CertID)
	}
	if n := count(s, "cas", "UploadUserCertificate", "error"); n != 1 {
		t.Errorf("%d refused uploads; want 1 (CertNameAlreadyExists)", n)
	}
}
