package hub

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

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
	"github.com/certdrop/certdrop/shared/product/vod"
)

const zone = "certdrop.test"

// account is an emulator with a CDN, a VOD, a Live and a DCDN domain and
// a client pointed at it, CAS included.
func account(t *testing.T) (*cloudsim.Sim, *product.Client, *manifest.Manifest) {
	t.Helper()
	s := cloudsimtest.Start(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "ak", AccessKeySecret: "sk"}},
		Domains: cloudsim.Domains{
			CDN:  []cloudsim.Domain{{Name: "www." + zone}},
			VOD:  []cloudsim.Domain{{Name: "vod." + zone}},
			Live: []cloudsim.Domain{{Name: "pull." + zone}},
			DCDN: []cloudsim.Domain{{Name: "dcdn." + zone}},
		},
		OSS: cloudsim.OSSSettings{Disabled: true},
	})
	ep := s.Endpoints()
	vars := map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk",
		cdn.EnvEndpoint: ep.OpenAPI, vod.EnvEndpoint: ep.OpenAPI, live.EnvEndpoint: ep.OpenAPI,
		dcdn.EnvEndpoint: ep.OpenAPI, cloud.EnvCASEndpoint: ep.OpenAPI, cloud.EnvCASIntlEndpoint: ep.CASIntl,
	}
	c, err := all.Products().NewClient(cloud.Options{Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Transport().CloseIdleConnections)
	cas := manifest.DeliveryCAS
	m := &manifest.Manifest{Version: 1, Targets: []manifest.Target{
		{Product: cdn.Name, Domain: "www." + zone, Delivery: cas},
		{Product: vod.Name, Domain: "vod." + zone, Region: "cn-shanghai", Delivery: cas},
		{Product: dcdn.Name, Domain: "dcdn." + zone, Delivery: cas},
	}}
	return s, c, m
}

// TestRollbackLive: SetLiveDomainCertificate documents no reference to a
// certificate in CAS, so a live target with delivery: cas is deployed by
// upload and a rollback cannot set it: it fails RollbackNoReference, no
// Live Set is sent, and the other targets are rolled back.
func TestRollbackLive(t *testing.T) {
	s, c, m := account(t)
	m.Targets = append(m.Targets, manifest.Target{Product: live.Name, Domain: "pull." + zone, Delivery: manifest.DeliveryCAS})
	now := time.Now()
	names := []string{zone, "*." + zone}
	b := issue(t, now.Add(-2*time.Hour), 90*24*time.Hour, names...)
	cNew := issue(t, now.Add(-time.Hour), 90*24*time.Hour, names...)
	deploy(t, c, b, m)
	deploy(t, c, cNew, m)
	if got, _ := s.Installed(cloudsim.ProductLive, "pull."+zone); got.CertType != "upload" || got.Fingerprint != cNew.Identity().Fingerprint {
		t.Fatalf("live carries %+v; want C by upload", got)
	}
	liveSets := func() int {
		n := 0
		for _, e := range s.Journal().Entries() {
			if e.API == "SetLiveDomainCertificate" {
				n++
			}
		}
		return n
	}
	before := liveSets()
	rep, err := Rollback(context.Background(), c, c, m, RollbackOptions{Products: all.Products(), To: plan.CASCertName(b.Identity())})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Deployed != len(m.Targets)-1 || rep.Summary.Failed != 1 {
		t.Errorf("rollback %+v; want every target but live deployed, live failed", rep.Summary)
	}
	found := false
	for _, tg := range rep.Targets {
		if tg.Product == live.Name {
			found = true
			if tg.Error == nil || tg.Error.Code != "RollbackNoReference" {
				t.Errorf("live target %+v; want RollbackNoReference", tg)
			}
		}
	}
	if !found {
		t.Error("the report has no live target")
	}
	if n := liveSets() - before; n != 0 {
		t.Errorf("%d SetLiveDomainCertificate calls during the rollback; want 0", n)
	}
}

var root *cloudsim.CA

// issue returns a bundle for names issued at notBefore, valid for life.
func issue(t *testing.T, notBefore time.Time, life time.Duration, names ...string) *bundle.Bundle {
	t.Helper()
	if root == nil {
		var err error
		if root, err = cloudsim.NewRootCA("hub test root", time.Now().AddDate(-1, 0, 0), time.Now().AddDate(2, 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	leaf, err := root.Issue(cloudsim.LeafRequest{DNSNames: names, NotBefore: notBefore, NotAfter: notBefore.Add(life)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Parse([]bundle.Source{{Name: "bundle.pem", Data: append(leaf.CertPEM, leaf.KeyPEM...)}}, bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upload puts a bundle in CAS cn-hangzhou under name ("" for its certdrop
// name) without deploying it.
func upload(t *testing.T, c *product.Client, b *bundle.Bundle, name string) int64 {
	t.Helper()
	if name == "" {
		name = plan.CASCertName(b.Identity())
	}
	id, _, err := c.UploadCAS(context.Background(), manifest.CASRegionMainland, name, b.CertPEM(), b.KeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// deploy deploys a bundle to the manifest with CAS delivery.
func deploy(t *testing.T, c *product.Client, b *bundle.Bundle, m *manifest.Manifest) int64 {
	t.Helper()
	p, err := plan.Build(b, m, "", all.Products())
	if err != nil {
		t.Fatal(err)
	}
	results, ups := fanout.RunCAS(context.Background(), c, c, p, fanout.Options{})
	for _, r := range results {
		if !r.State.OK() {
			t.Fatalf("deploying %s: %s %v", p.CASName, r.State, r.Err)
		}
	}
	return ups[0].CertID
}

func carries(t *testing.T, s *cloudsim.Sim, m *manifest.Manifest, id int64) {
	t.Helper()
	for _, tg := range m.Targets {
		got, _ := s.Installed(string(tg.Product), tg.Domain)
		if got.CertID != id || got.CertType != "cas" {
			t.Errorf("%s carries CertId %d (%s); want %d by reference", tg, got.CertID, got.CertType, id)
		}
	}
}

// TestRollback deploys B then C by CAS and rolls back to B by name: every
// target is set back to B's CertId by reference, and no key crosses the
// wire. A second rollback finds every target unchanged. Rolling back to a
// certificate that is not in CAS, or has expired, is refused before any
// Set.
func TestRollback(t *testing.T) {
	s, c, m := account(t)
	now := time.Now()
	names := []string{zone, "*." + zone}
	b := issue(t, now.Add(-2*time.Hour), 90*24*time.Hour, names...)
	cNew := issue(t, now.Add(-time.Hour), 90*24*time.Hour, names...)
	idB := deploy(t, c, b, m)
	idC := deploy(t, c, cNew, m)
	carries(t, s, m, idC)
	keys, _ := s.Journal().KeysSent()

	ctx := context.Background()
	sets := setCount(s)
	rep, err := Rollback(ctx, c, c, m, RollbackOptions{Products: all.Products(), To: plan.CASCertName(b.Identity()), DryRun: true})
	if err != nil || rep.Summary.Planned != len(m.Targets) || !rep.DryRun || setCount(s) != sets {
		t.Errorf("dry-run rollback: %v %+v, %d Set calls; want every target planned, none set", err, rep.Summary, setCount(s)-sets)
	}
	rep, err = Rollback(ctx, c, c, m, RollbackOptions{Products: all.Products(), To: plan.CASCertName(b.Identity())})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != "rollback" || rep.Summary.Deployed != len(m.Targets) || !rep.Summary.OK() {
		t.Errorf("rollback report: mode %q, %+v; want every target deployed", rep.Mode, rep.Summary)
	}
	if len(rep.CAS) != 1 || rep.CAS[0].CertID != idB {
		t.Errorf("rollback CAS = %+v; want CertId %d", rep.CAS, idB)
	}
	carries(t, s, m, idB)
	if after, _ := s.Journal().KeysSent(); after != keys {
		t.Errorf("the rollback sent a key %d times; want 0", after-keys)
	}

	rep, err = Rollback(ctx, c, c, m, RollbackOptions{Products: all.Products(), To: plan.CASCertName(b.Identity())})
	if err != nil || rep.Summary.Unchanged != len(m.Targets) {
		t.Errorf("second rollback: %v %+v; want every target unchanged", err, rep.Summary)
	}
	// Rolling "back" to C, issued later than the B every target carries,
	// leaves them as they are: a rollback replaces only later certificates.
	rep, err = Rollback(ctx, c, c, m, RollbackOptions{Products: all.Products(), To: plan.CASCertName(cNew.Identity())})
	if err != nil || rep.Summary.Skipped != len(m.Targets) {
		t.Errorf("rollback to a later certificate: %v %+v; want every target skipped", err, rep.Summary)
	}
	carries(t, s, m, idB)

	sets = setCount(s)
	for _, tc := range []struct {
		to   string
		now  time.Time
		code string
	}{
		{"certdrop-certdrop.test-20200101-0badc0de", now, "RollbackNotInCAS"},
		{plan.CASCertName(b.Identity()), now.Add(91 * 24 * time.Hour), "RollbackExpired"},
		{"", now, "RollbackNoName"},
	} {
		_, err := Rollback(ctx, c, c, m, RollbackOptions{Products: all.Products(), To: tc.to, Now: func() time.Time { return tc.now }})
		var re *RefusedError
		if !errors.As(err, &re) || re.Code != tc.code || re.Hint == "" {
			t.Errorf("Rollback(%q): %v; want refused %s with a hint", tc.to, err, tc.code)
		}
	}
	if n := setCount(s); n != sets {
		t.Errorf("refused rollbacks sent %d Set calls; want 0", n-sets)
	}
}

// TestRollbackSameSecond: two renewals forced back to back can be issued
// in the same second; rolling back from the second to the first sets the
// targets (the one they carry is not earlier) instead of leaving them as
// they are.
func TestRollbackSameSecond(t *testing.T) {
	s, c, m := account(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	names := []string{zone, "*." + zone}
	first := issue(t, at, 90*24*time.Hour, names...)
	second := issue(t, at, 90*24*time.Hour, names...)
	idFirst := deploy(t, c, first, m)
	carries(t, s, m, deploy(t, c, second, m))
	rep, err := Rollback(context.Background(), c, c, m, RollbackOptions{Products: all.Products(), To: plan.CASCertName(first.Identity())})
	if err != nil || rep.Summary.Deployed != len(m.Targets) {
		t.Fatalf("rollback: %v %+v; want every target deployed", err, rep.Summary)
	}
	carries(t, s, m, idFirst)
}

func setCount(s *cloudsim.Sim) int {
	n := 0
	for _, e := range s.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") {
			n++
		}
	}
	return n
}

func deletes(s *cloudsim.Sim) int {
	n := 0
	for _, e := range s.Journal().Entries() {
		if e.API == "DeleteUserCertificate" {
			n++
		}
	}
	return n
}

// pruneSetup puts in CAS A, B and C for the same names, issued an hour
// apart, C deployed to every target by reference, and E, for other names,
// which expires an hour after now; it returns A and their CertIds.
func pruneSetup(t *testing.T, c *product.Client, m *manifest.Manifest, now time.Time) (a *bundle.Bundle, idA, idB, idC, idE int64) {
	t.Helper()
	names := []string{zone, "*." + zone}
	a = issue(t, now.Add(-3*time.Hour), 90*24*time.Hour, names...)
	b := issue(t, now.Add(-2*time.Hour), 90*24*time.Hour, names...)
	cNew := issue(t, now.Add(-time.Hour), 90*24*time.Hour, names...)
	e := issue(t, now.Add(-time.Hour), 2*time.Hour, "e."+zone)
	idA, idB, idE = upload(t, c, a, ""), upload(t, c, b, ""), upload(t, c, e, "")
	return a, idA, idB, deploy(t, c, cNew, m), idE
}

// TestPrune: with A, B, C for the same names (C carried by every target),
// a certificate about to expire, one uploaded by someone else and one whose
// certdrop-like name is not its own, a dry run deletes nothing and lists A
// (older than the newest two, carried by no target) and the expired one;
// --yes deletes exactly those; the rest are kept, each with its reason.
func TestPrune(t *testing.T) {
	s, c, m := account(t)
	now := time.Now()
	a, idA, idB, idC, idE := pruneSetup(t, c, m, now)
	foreign := upload(t, c, issue(t, now.Add(-time.Hour), 24*time.Hour, "x."+zone), "manual-upload")
	fake := upload(t, c, issue(t, now.Add(-time.Hour), 24*time.Hour, "y."+zone), "certdrop-y.certdrop.test-20990101-deadbeef")
	later := func() time.Time { return now.Add(2 * time.Hour) } // e has expired by then

	ctx := context.Background()
	dry := Prune(ctx, c, c, m, PruneOptions{Products: all.Products(), Now: later})
	if n := deletes(s); n != 0 {
		t.Fatalf("the dry run sent %d DeleteUserCertificate calls; want 0", n)
	}
	check := func(res *PruneResult, wantDeleted ...int64) {
		t.Helper()
		if !res.OK() {
			t.Errorf("prune problems: %+v failed %+v", res.Problems, res.Failed)
		}
		got := map[int64]string{}
		for _, d := range res.Deleted {
			got[d.CertID] = d.Reason
		}
		if len(got) != len(wantDeleted) {
			t.Errorf("deleted %v; want %v", got, wantDeleted)
		}
		for _, id := range wantDeleted {
			if _, ok := got[id]; !ok {
				t.Errorf("CertId %d not deleted; deleted %v", id, got)
			}
		}
		if _, ok := got[foreign]; ok {
			t.Error("a certificate certdrop did not name was deleted")
		}
		kept := map[int64]string{}
		for _, k := range res.Kept {
			kept[k.CertID] = k.Reason
		}
		for id, want := range map[int64]string{idB: "newest 2", idC: "carried by", fake: "not named by certdrop"} {
			if !strings.Contains(kept[id], want) {
				t.Errorf("CertId %d kept for %q; want a reason with %q", id, kept[id], want)
			}
		}
	}
	check(dry, idA, idE)
	if !dry.DryRun || !strings.Contains(dry.Deleted[0].Reason+dry.Deleted[1].Reason, "expired") {
		t.Errorf("dry run result %+v", dry)
	}

	res := Prune(ctx, c, c, m, PruneOptions{Products: all.Products(), Delete: true, Now: later})
	check(res, idA, idE)
	if n := deletes(s); n != 2 {
		t.Errorf("%d DeleteUserCertificate calls; want 2", n)
	}
	left, err := c.ListCAS(ctx, manifest.CASRegionMainland, "", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range left {
		if l.ID == idA || l.ID == idE {
			t.Errorf("CertId %d (%s) is still in CAS", l.ID, l.Name)
		}
	}
	if len(left) != 4 {
		t.Errorf("%d certificates left; want B, C and the two not named by certdrop", len(left))
	}
	// The deleted certificate cannot be rolled back to.
	_, err = Rollback(ctx, c, c, m, RollbackOptions{Products: all.Products(), To: plan.CASCertName(a.Identity())})
	var re *RefusedError
	if !errors.As(err, &re) || re.Code != "RollbackNotInCAS" {
		t.Errorf("rollback to a pruned certificate: %v; want RollbackNotInCAS", err)
	}
}

// TestOursByFingerprint lists, through the emulator, certdrop's uploads of
// certificates that expire late in the UTC day: CAS's EndDate is a date
// without a zone (the emulator writes UTC+8), so the date in certdrop's
// name (UTC) differs from it, and the certificate is recognised by its
// SHA-256 (Sha2), which the listing returns for uploads. A name in
// certdrop's form over another certificate is not ours.
func TestOursByFingerprint(t *testing.T) {
	_, c, _ := account(t)
	now := time.Now().UTC()
	for _, h := range []int{1, 15, 16, 20, 23} {
		// Expires at h:30 UTC in 60 days.
		end := time.Date(now.Year(), now.Month(), now.Day(), h, 30, 0, 0, time.UTC).AddDate(0, 0, 60)
		b := issue(t, now.Add(-time.Hour), end.Sub(now.Add(-time.Hour)), "late"+strconv.Itoa(h)+"."+zone)
		id := upload(t, c, b, "")
		got, err := c.ListCAS(context.Background(), manifest.CASRegionMainland, "late"+strconv.Itoa(h)+"."+zone, false)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, cc := range got {
			if cc.ID == id {
				found = true
				if !ours(cc) {
					t.Errorf("expiry %s: certdrop's upload %q (fingerprint %s, NotAfter %s) not recognised as ours", end, cc.Name, cc.Fingerprint, cc.NotAfter)
				}
			}
		}
		if !found {
			t.Errorf("expiry %s: upload %d not listed", end, id)
		}
	}
}

func TestOurs(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		name string
		c    fanout.CASCert
		want bool
	}{
		{"fingerprint matches, date one day off", fanout.CASCert{Name: "certdrop-a.example.com-20480505-abababab", Fingerprint: fp,
			NotAfter: time.Date(2048, 5, 4, 0, 0, 0, 0, time.UTC)}, true},
		{"fingerprint differs", fanout.CASCert{Name: "certdrop-a.example.com-20480504-deadbeef", Fingerprint: fp,
			NotAfter: time.Date(2048, 5, 4, 0, 0, 0, 0, time.UTC)}, false},
		{"no fingerprint, date a day off (zone unknown)", fanout.CASCert{Name: "certdrop-a.example.com-20480505-deadbeef",
			NotAfter: time.Date(2048, 5, 4, 0, 0, 0, 0, time.UTC)}, true},
		{"no fingerprint, date two days off", fanout.CASCert{Name: "certdrop-a.example.com-20480506-deadbeef",
			NotAfter: time.Date(2048, 5, 4, 0, 0, 0, 0, time.UTC)}, false},
		{"not certdrop's form", fanout.CASCert{Name: "manual-upload", Fingerprint: fp}, false},
	} {
		if got := ours(tt.c); got != tt.want {
			t.Errorf("%s: ours = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestPruneTargetsItCannotPlan: a target Prune cannot plan a Describe for
// (here: no products given, so no product is known) is not taken for a
// target that carries nothing: the run says so, and only expired
// certificates are deleted.
func TestPruneTargetsItCannotPlan(t *testing.T) {
	s, c, m := account(t)
	now := time.Now()
	_, idA, _, _, idE := pruneSetup(t, c, m, now)
	later := func() time.Time { return now.Add(2 * time.Hour) }

	res := Prune(context.Background(), c, c, m, PruneOptions{Delete: true, Now: later})
	if res.OK() || len(res.Problems) == 0 || !strings.Contains(res.Problems[0].Message, "unknown product") {
		t.Errorf("problems %+v; want each target that could not be planned", res.Problems)
	}
	for _, d := range res.Deleted {
		if d.CertID == idA {
			t.Error("a certificate whose use is unknown was deleted")
		}
	}
	if len(res.Deleted) != 1 || res.Deleted[0].CertID != idE || deletes(s) != 1 {
		t.Errorf("deleted %+v (%d calls); want the expired one only", res.Deleted, deletes(s))
	}
}
