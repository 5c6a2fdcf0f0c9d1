package fanout_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/dcdn"
)

// casPlan is the mixed fleet's plan with delivery: cas on every target.
func (f *mixedFleet) casPlan(t *testing.T) *plan.Plan {
	t.Helper()
	m := &manifest.Manifest{}
	for _, c := range f.plan.Calls {
		tg := c.Target
		tg.Delivery = manifest.DeliveryCAS
		m.Targets = append(m.Targets, tg)
	}
	p, err := plan.Build(f.bundle, m, "", all.Products())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMixedFleetCAS deploys the mixed fleet (CDN, DCDN, VOD, Live, OSS
// custom domains) with delivery: cas: one UploadUserCertificate, then every
// target set by reference (OSS by "<CertId>-<region>") but Live, whose
// Set documents no reference and goes by upload; the key crosses the wire
// at most twice in all (the upload, Live's Set). A re-run uploads nothing, sends
// no key, and sets only the staging target (never compared), by reference.
func TestMixedFleetCAS(t *testing.T) {
	f := newMixedFleet(t, nil, "v1.mixed.test")
	ctx := context.Background()
	res, ups := fanout.RunCAS(ctx, f.client, f.client, f.casPlan(t), fastRetry(fanout.Options{Verify: true}))
	// Live's Set by upload runs beside the CAS upload and stores the same
	// certificate under the same name in CAS: when it lands first, the
	// upload is answered CertNameAlreadyExists and the certificate found.
	if len(ups) != 1 || !(ups[0].Uploaded || ups[0].Found) || ups[0].CertID == 0 {
		t.Fatalf("uploads %+v; want one", ups)
	}
	if c := countStates(res); c[fanout.Deployed] != len(res) {
		for _, r := range res {
			t.Logf("%s %s: %s %v", r.Call.Target.Product, r.Call.DomainName, r.State, r.Err)
		}
		t.Fatalf("first run: %v", c)
	}
	// Live's Set, and each upload attempt (none when the lookup found
	// Live's copy first).
	keys := 1 + ups[0].Attempts
	if sent, _ := f.sim.Journal().KeysSent(); sent != keys || keys > 2 {
		t.Errorf("the key crossed the wire %d times; want %d (Live's Set, %d CAS upload attempt(s)), at most twice", sent, keys, ups[0].Attempts)
	}
	if got, _ := f.sim.Installed(cloudsim.ProductLive, "l1.mixed.test"); got.CertType != "upload" || got.Fingerprint != f.bundle.Identity().Fingerprint {
		t.Errorf("live l1.mixed.test carries %+v; want the certificate by upload", got)
	}
	want := fmt.Sprintf("%d-%s", ups[0].CertID, manifest.CASRegionMainland)
	for d, c := range f.sim.OSS().Cnames(mixedBucket) {
		if c == nil || c.Type != "CAS" || c.CertID != want || c.Fingerprint != f.bundle.Identity().Fingerprint {
			t.Errorf("oss %s carries %+v; want CAS %s", d, c, want)
		}
	}
	for _, d := range mixedDomains[dcdn.Name][:2] {
		if got, _ := f.sim.Installed("dcdn", d); got.CertType != "cas" || got.CertID != ups[0].CertID {
			t.Errorf("dcdn %s carries %+v; want CertId %d by reference", d, got, ups[0].CertID)
		}
	}

	from := len(f.sim.Journal().Entries())
	res, ups = fanout.RunCAS(ctx, f.client, f.client, f.casPlan(t), fastRetry(fanout.Options{}))
	if !ups[0].Found || ups[0].Uploaded {
		t.Errorf("re-run upload %+v; want found, nothing uploaded", ups[0])
	}
	c := countStates(res)
	if c[fanout.Unchanged] != len(res)-1 || c[fanout.Deployed] != 1 {
		t.Errorf("re-run: %v; want all unchanged but the staging target", c)
	}
	byDomain, _, _ := f.sets(from)
	if len(byDomain) != 1 || byDomain["SetVodDomainSSLCertificate v1.mixed.test"] != 1 {
		t.Errorf("re-run set %v; want only the staging target", byDomain)
	}
	if sent, _ := f.sim.Journal().KeysSent(); sent != keys {
		t.Errorf("after the re-run the key crossed the wire %d times; want still %d", sent, keys)
	}
}
