package renew_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/renew"
	"github.com/certdrop/certdrop/shared/store"
)

// TestFirstIssuanceThenNothingDue: no bundle in the bucket, so the
// certificate is ordered through DNS-01 and written as one combined
// bundle; the next run finds it valid and orders nothing, reusing the
// account kept in the bucket.
func TestFirstIssuanceThenNothingDue(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	e := h.engine(nil)
	certs := []manifest.Certificate{h.cert("example.test", "example.test", "www.example.test")}

	res := h.run(h.ctx, e, certs, renew.RunOptions{})
	r := res[0]
	if !r.Renewed || r.Reason != renew.ReasonNoBundle || r.Error != nil {
		t.Fatalf("first run: %+v", r)
	}
	leaf, data := h.bundle("example.test")
	if !slices.Equal(leaf.DNSNames, []string{"example.test", "www.example.test"}) || !leaf.NotAfter.Equal(r.NotAfter) {
		t.Errorf("issued %v until %v; result says %v", leaf.DNSNames, leaf.NotAfter, r.NotAfter)
	}
	// One object: leaf, chain, key in the form the APIs take (SEC 1).
	b, err := bundle.Parse([]bundle.Source{{Name: "bundle.pem", Data: data}}, bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Intermediates) != 1 || !strings.Contains(string(data), "-----BEGIN EC PRIVATE KEY-----") {
		t.Errorf("bundle: %d intermediates; key form EC PRIVATE KEY: %v", len(b.Intermediates), strings.Contains(string(data), "EC PRIVATE KEY"))
	}
	if n := h.journalCount("AddDomainRecord", "example.test"); n != 4 {
		t.Errorf("%d TXT records added, want 4 (per name, the preflight's and the challenge's)", n)
	}
	h.assertNoTXTLeft()
	accts, _ := h.st.List(h.ctx, "certdrop/acme/accounts/")
	if len(accts) != 1 {
		t.Fatalf("accounts kept: %v", accts)
	}

	res = h.run(h.ctx, e, certs, renew.RunOptions{})
	if r := res[0]; r.Due || r.Renewed || r.Reason != renew.ReasonNotDue || !strings.Contains(r.Detail, "renewal window") ||
		r.NextDue.IsZero() || !r.NextDue.Before(r.NotAfter) {
		t.Errorf("second run: %+v", r)
	}
	// Forced, a fresh engine (the next invocation) orders again at once,
	// with the account kept in the bucket.
	res = h.run(h.ctx, h.engine(nil), certs, renew.RunOptions{Force: true, Names: []string{"example.test"}})
	if r := res[0]; !r.Renewed || r.Reason != renew.ReasonForced {
		t.Errorf("forced: %+v", r)
	}
	accounts, _ := h.acme("newAccount")
	orders, _ := h.acme("newOrder")
	if accounts != 1 || orders != 2 {
		t.Errorf("the CA saw %d new accounts and %d orders; want 1 and 2", accounts, orders)
	}
}

// TestRenewalWindowOpens: once the CA's ARI window has opened (long
// before a third of the lifetime is left), the certificate is renewed and
// the order names the one it replaces.
func TestRenewalWindowOpens(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	certs := []manifest.Certificate{h.cert("example.test", "example.test")}
	if r := h.run(h.ctx, h.engine(nil), certs, renew.RunOptions{})[0]; !r.Renewed {
		t.Fatalf("first: %+v", r)
	}
	old, oldPEM := h.bundle("example.test")
	// The next day, the window is not open yet: nothing is due.
	nextDay := func(o *renew.Options) { o.Now = func() time.Time { return time.Now().Add(25 * time.Hour) } }
	if r := h.run(h.ctx, h.engine(nextDay), certs, renew.RunOptions{})[0]; r.Due {
		t.Fatalf("before the window: %+v", r)
	}
	if err := h.sim.SetRenewalWindow(oldPEM, time.Now().Add(-time.Hour), time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := h.run(h.ctx, h.engine(nextDay), certs, renew.RunOptions{})[0]
	if !r.Renewed || r.Reason != renew.ReasonARIWindow {
		t.Fatalf("in the window: %+v", r)
	}
	leaf, _ := h.bundle("example.test")
	if leaf.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Errorf("the bundle was not replaced")
	}
	if _, replaces := h.acme("newOrder"); len(replaces) != 1 {
		t.Errorf("orders with replaces: %v, want 1", replaces)
	}
	h.assertNoTXTLeft()
}

// TestRenewBefore: renewBefore overrides the CA's window.
func TestRenewBefore(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.cert("rb", "example.test")
	if r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{c}, renew.RunOptions{})[0]; !r.Renewed {
		t.Fatalf("first: %+v", r)
	}
	nextDay := func(o *renew.Options) { o.Now = func() time.Time { return time.Now().Add(25 * time.Hour) } }
	c.RenewBefore = 30 * 24 * time.Hour
	if r := h.run(h.ctx, h.engine(nextDay), []manifest.Certificate{c}, renew.RunOptions{})[0]; r.Due || !strings.Contains(r.Detail, "renews from") {
		t.Fatalf("89 days left, renewBefore 30d: %+v", r)
	}
	c.RenewBefore = 89*24*time.Hour + 12*time.Hour
	r := h.run(h.ctx, h.engine(nextDay), []manifest.Certificate{c}, renew.RunOptions{})[0]
	if !r.Renewed || r.Reason != renew.ReasonRenewBefore {
		t.Fatalf("renewBefore reached: %+v", r)
	}
	h.assertNoTXTLeft()
}

// TestNamesChanged: a name added in the manifest makes the certificate due
// at once, whatever its expiry.
func TestNamesChanged(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	e := h.engine(nil)
	if r := h.run(h.ctx, e, []manifest.Certificate{h.cert("site", "example.test")}, renew.RunOptions{})[0]; !r.Renewed {
		t.Fatalf("first: %+v", r)
	}
	// The daily limit holds even when names change, unless forced.
	two := []manifest.Certificate{h.cert("site", "example.test", "api.example.test")}
	r := h.run(h.ctx, e, two, renew.RunOptions{})[0]
	if r.Renewed || r.Reason != renew.ReasonNamesChanged || r.Skipped != renew.SkipDailyLimit {
		t.Fatalf("same day: %+v", r)
	}
	nextDay := func(o *renew.Options) { o.Now = func() time.Time { return time.Now().Add(25 * time.Hour) } }
	r = h.run(h.ctx, h.engine(nextDay), two, renew.RunOptions{})[0]
	if !r.Renewed || r.Reason != renew.ReasonNamesChanged {
		t.Fatalf("next day: %+v", r)
	}
	leaf, _ := h.bundle("site")
	if !slices.Equal(leaf.DNSNames, []string{"api.example.test", "example.test"}) && !slices.Equal(leaf.DNSNames, []string{"example.test", "api.example.test"}) {
		t.Errorf("names %v", leaf.DNSNames)
	}
	h.assertNoTXTLeft()
}

// TestWildcardAndApex: *.example.test and example.test in one order put
// two TXT values on one name; both are checked and both removed.
func TestWildcardAndApex(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{h.cert("wild", "example.test", "*.example.test")}, renew.RunOptions{})[0]
	if !r.Renewed {
		t.Fatalf("%+v", r)
	}
	leaf, _ := h.bundle("wild")
	if !slices.Contains(leaf.DNSNames, "*.example.test") || !slices.Contains(leaf.DNSNames, "example.test") {
		t.Errorf("names %v", leaf.DNSNames)
	}
	if n := h.journalCount("DeleteDomainRecord", "example.test"); n != 3 {
		t.Errorf("%d records deleted, want 3 (the preflight's, two challenges')", n)
	}
	h.assertNoTXTLeft()
}

// TestCNAMEDelegation: _acme-challenge.shop.customer.test is a CNAME into
// delegate.test; certdrop may not write customer.test, so the record goes
// where the CNAME points.
func TestCNAMEDelegation(t *testing.T) {
	h := newHarness(t, harnessOpts{zones: []cloudsim.ZoneSettings{
		{Name: "customer.test", Records: []cloudsim.RecordSettings{{RR: "_acme-challenge.shop", Type: "CNAME", Value: "shop.challenges.delegate.test"}}},
		{Name: "delegate.test"},
	}})
	h.refuse["customer.test"] = true
	r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{h.cert("shop", "shop.customer.test")}, renew.RunOptions{})[0]
	if !r.Renewed {
		t.Fatalf("%+v", r)
	}
	if n := h.journalCount("AddDomainRecord", "delegate.test"); n != 2 {
		t.Errorf("%d records added in delegate.test, want 2 (the preflight's, the challenge's)", n)
	}
	if n := h.journalCount("AddDomainRecord", "customer.test"); n != 0 {
		t.Errorf("%d records added in customer.test, want 0", n)
	}
	h.assertNoTXTLeft()
}

// TestRecordNeverVisible: the zone never publishes what the API writes;
// the challenge is not answered, the record is removed, the failure is
// reported and the back-off is written so that the next run waits.
func TestRecordNeverVisible(t *testing.T) {
	h := newHarness(t, harnessOpts{zones: []cloudsim.ZoneSettings{{Name: "hidden.test", Unpublished: true}}})
	e := h.engine(func(o *renew.Options) { o.PropagationTimeout = 500 * time.Millisecond })
	certs := []manifest.Certificate{h.cert("hidden", "hidden.test")}
	before := time.Now()
	r := h.run(h.ctx, e, certs, renew.RunOptions{})[0]
	if r.Renewed || !errors.Is(r.Error, renew.ErrNotVisible) || !r.Failed() || !strings.Contains(r.Error.Error(), "not visible") {
		t.Fatalf("%+v", r)
	}
	if r.NextAttempt.Before(before.Add(time.Hour)) {
		t.Errorf("next attempt %v, want at least an hour away", r.NextAttempt)
	}
	h.assertNoTXTLeft()
	if _, err := h.st.Get(h.ctx, "certs/hidden/bundle.pem"); err == nil {
		t.Errorf("a bundle was written")
	}
	st, err := h.st.Get(h.ctx, "certdrop/acme/state/hidden.json")
	if err != nil || !strings.Contains(string(st.Data), `"failures": 1`) {
		t.Fatalf("state: %v %s", err, st.Data)
	}
	// The next run backs off without asking the CA.
	orders, _ := h.acme("newOrder")
	r = h.run(h.ctx, e, certs, renew.RunOptions{})[0]
	if after, _ := h.acme("newOrder"); r.Skipped != renew.SkipBackoff || r.Renewed || after != orders {
		t.Errorf("second run: %+v (%d orders)", r, after-orders)
	}
}

// TestCARateLimited: the CA refuses the order with rateLimited and
// Retry-After; the engine reports it and waits at least that long.
func TestCARateLimited(t *testing.T) {
	h := newHarness(t, harnessOpts{rateLimit: cloudsim.RateLimitSettings{Times: 5, RetryAfter: 3 * time.Hour}})
	before := time.Now()
	r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{h.cert("limited", "example.test")}, renew.RunOptions{})[0]
	if r.Renewed || !errors.Is(r.Error, renew.ErrRateLimited) || r.Skipped != renew.SkipRateLimited {
		t.Fatalf("%+v", r)
	}
	if r.NextAttempt.Before(before.Add(3 * time.Hour)) {
		t.Errorf("next attempt %v, want after the CA's Retry-After (3 h)", r.NextAttempt)
	}
	if n := h.journalCount("AddDomainRecord", ""); n != 1 {
		t.Errorf("%d records written, want 1 (the preflight's; none for a refused order)", n)
	}
	refused := 0
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "acme" && e.API == "newOrder" && e.Code == "rateLimited" {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d refused orders, want 1 (no retry against a rate limit)", refused)
	}
}

// TestEABRequired: a CA that needs an external account binding refuses
// an account without one; with the variables the manifest names set, the
// account is bound and the certificate issued.
func TestEABRequired(t *testing.T) {
	h := newHarness(t, harnessOpts{requireEAB: true})
	c := h.cert("eab", "example.test")
	c.EAB = &manifest.EAB{KeyIDEnv: "CERTDROP_SECRET_EAB_KID", MACKeyEnv: "CERTDROP_SECRET_EAB_HMAC"}
	r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{c}, renew.RunOptions{})[0]
	if r.Renewed || !errors.Is(r.Error, renew.ErrEABMissing) || !strings.Contains(r.Error.Error(), "CERTDROP_SECRET_EAB_HMAC") {
		t.Fatalf("without the variables: %+v", r)
	}
	noEAB := h.cert("noeab", "example.test")
	if r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{noEAB}, renew.RunOptions{})[0]; r.Renewed || !strings.Contains(r.Error.Error(), "externalAccountRequired") {
		t.Fatalf("without eab in the manifest: %+v", r)
	}
	h.env["CERTDROP_SECRET_EAB_KID"], h.env["CERTDROP_SECRET_EAB_HMAC"] = eabKID, eabMAC
	r = h.run(h.ctx, h.engine(nil), []manifest.Certificate{c}, renew.RunOptions{Force: true})[0]
	if !r.Renewed {
		t.Fatalf("with the variables: %+v", r)
	}
	h.assertNoTXTLeft()
}

// TestTwoCertificatesAtOnce: two due certificates are ordered
// concurrently; both land.
func TestTwoCertificatesAtOnce(t *testing.T) {
	h := newHarness(t, harnessOpts{zones: []cloudsim.ZoneSettings{{Name: "example.test"}, {Name: "other.test"}}})
	certs := []manifest.Certificate{h.cert("one", "example.test"), h.cert("two", "other.test", "*.other.test")}
	res := h.run(h.ctx, h.engine(nil), certs, renew.RunOptions{})
	for _, r := range res {
		if !r.Renewed {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	if res[0].Name != "one" || res[1].Name != "two" {
		t.Errorf("results out of order")
	}
	h.assertNoTXTLeft()
	if accounts, _ := h.acme("newAccount"); accounts != 1 {
		t.Errorf("%d accounts registered for one CA and e-mail", accounts)
	}
}

// TestDeadlineMidOrder: the deadline falls while the engine waits for the
// record to propagate; the record is removed all the same, the failure
// reported and the back-off written.
func TestDeadlineMidOrder(t *testing.T) {
	h := newHarness(t, harnessOpts{zones: []cloudsim.ZoneSettings{{Name: "slow.test", Propagation: time.Hour}}})
	e := h.engine(func(o *renew.Options) { o.PropagationTimeout = time.Minute })
	ctx, cancel := context.WithTimeout(h.ctx, 3*time.Second)
	defer cancel()
	start := time.Now()
	r := h.run(ctx, e, []manifest.Certificate{h.cert("slow", "slow.test")}, renew.RunOptions{})[0]
	if r.Renewed || !errors.Is(r.Error, context.DeadlineExceeded) || !r.Failed() {
		t.Fatalf("%+v", r)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v past a 3 s deadline", d)
	}
	h.assertNoTXTLeft()
	if h.journalCount("AddDomainRecord", "slow.test") != 2 {
		t.Errorf("the order never wrote its record (the preflight's and the challenge's)")
	}
	if _, err := h.st.Get(h.ctx, "certdrop/acme/state/slow.json"); err != nil {
		t.Errorf("no back-off state: %v", err)
	}
}

// TestDryRun reports what is due and orders nothing.
func TestDryRun(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{h.cert("dry", "example.test")}, renew.RunOptions{DryRun: true})[0]
	if !r.Due || r.Renewed || r.Skipped != renew.SkipDryRun || r.Reason != renew.ReasonNoBundle {
		t.Fatalf("%+v", r)
	}
	if orders, _ := h.acme("newOrder"); orders != 0 || h.journalCount("AddDomainRecord", "") != 0 {
		t.Errorf("a dry run ordered or wrote")
	}
}

// TestRecordNotRemovable: the DNS API refuses to delete the record. When
// the preflight's record is the first it cannot delete, nothing is
// ordered; when the challenge's is, the certificate is issued and
// written. Either way the record left behind is reported, never silently.
func TestRecordNotRemovable(t *testing.T) {
	for _, after := range []int{0, 1} {
		t.Run(fmt.Sprint("after ", after), func(t *testing.T) {
			h := newHarness(t, harnessOpts{faults: cloudsim.Faults{Scripted: []cloudsim.Script{
				{Domain: "example.test", API: "DeleteDomainRecord", Code: "IncorrectDomainUser", Times: 100, After: after},
			}}})
			h.leftoversExpected = true
			r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{h.cert("stuck", "example.test")}, renew.RunOptions{})[0]
			if !r.Failed() || len(r.LeftBehind) != 1 || r.LeftBehind[0] != "_acme-challenge.example.test" {
				t.Fatalf("%+v", r)
			}
			orders, _ := h.acme("newOrder")
			switch after {
			case 0:
				if r.Renewed || orders != 0 || r.Error.Code != "DNSWriteFailed" {
					t.Errorf("the preflight's record stuck: %+v (%d orders)", r, orders)
				}
			case 1:
				if !r.Renewed || orders != 1 {
					t.Errorf("the challenge's record stuck: %+v (%d orders)", r, orders)
				}
			}
		})
	}
}

// TestFlakyDNSAPI: throttling and 5xx from the DNS API are retried; the
// certificate is issued and nothing is left behind.
func TestFlakyDNSAPI(t *testing.T) {
	h := newHarness(t, harnessOpts{faults: cloudsim.Faults{Seed: 7, ThrottleRate: 0.3, ErrorRate: 0.1}})
	r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{h.cert("flaky", "example.test", "*.example.test")}, renew.RunOptions{})[0]
	if !r.Renewed {
		t.Fatalf("%+v", r)
	}
	h.assertNoTXTLeft()
	faults := 0
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "alidns" && e.Fault != "" {
			faults++
		}
	}
	if faults == 0 {
		t.Errorf("no fault was injected: the test proves nothing")
	}
}

// TestProfile: the order names the manifest's profile and the CA issues
// under it.
func TestProfile(t *testing.T) {
	h := newHarness(t, harnessOpts{profiles: map[string]time.Duration{"shortlived": 6 * 24 * time.Hour}})
	c := h.cert("short", "example.test")
	c.Profile = "shortlived"
	r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{c}, renew.RunOptions{})[0]
	if !r.Renewed || time.Until(r.NotAfter) > 7*24*time.Hour {
		t.Fatalf("%+v", r)
	}
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "acme" && e.API == "newOrder" && e.Profile != "shortlived" {
			t.Errorf("newOrder with profile %q", e.Profile)
		}
	}
}

// TestInvalidBundleIsDue: a bundle.pem that is not a bundle (or too large
// to be one) makes the certificate due.
func TestInvalidBundleIsDue(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	e := h.engine(nil)
	for name, data := range map[string][]byte{
		"junk":  []byte("not a certificate"),
		"large": make([]byte, 2<<20),
	} {
		if err := h.st.Put(h.ctx, "certs/"+name+"/bundle.pem", data, ""); err != nil {
			t.Fatal(err)
		}
		r := h.run(h.ctx, e, []manifest.Certificate{h.cert(name, "example.test")}, renew.RunOptions{DryRun: true})[0]
		if !r.Due || r.Reason != renew.ReasonInvalidBundle || r.Error != nil {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

// TestAccountUnknownToCA: the account kept in the bucket is one the CA
// does not know (its database was reset); a new one is registered, kept,
// and the certificate issued.
func TestAccountUnknownToCA(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.cert("acct", "example.test")
	if r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{c}, renew.RunOptions{})[0]; !r.Renewed {
		t.Fatalf("first: %+v", r)
	}
	accts, _ := h.st.List(h.ctx, "certdrop/acme/accounts/")
	o, err := h.st.Get(h.ctx, accts[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	var kept map[string]any
	if err := json.Unmarshal(o.Data, &kept); err != nil {
		t.Fatal(err)
	}
	kept["location"] = strings.TrimSuffix(kept["location"].(string), "/") + "0000"
	data, _ := json.Marshal(kept)
	if err := h.st.Put(h.ctx, accts[0].Key, data, ""); err != nil {
		t.Fatal(err)
	}
	r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{c}, renew.RunOptions{Force: true})[0]
	if !r.Renewed {
		t.Fatalf("with an unknown account: %+v", r)
	}
	if n, _ := h.acme("newAccount"); n != 2 {
		t.Errorf("%d accounts registered, want 2", n)
	}
	o, _ = h.st.Get(h.ctx, accts[0].Key)
	if strings.Contains(string(o.Data), "0000\"") {
		t.Errorf("the new account was not kept")
	}
	h.assertNoTXTLeft()
}

// deniedState is a bucket where the renewal state cannot be read.
type deniedState struct{ store.Store }

func (d deniedState) Get(ctx context.Context, key string) (*store.Object, error) {
	if strings.HasPrefix(key, "certdrop/acme/state/") {
		return nil, &store.Error{Op: "get", Key: key, Err: store.ErrDenied}
	}
	return d.Store.Get(ctx, key)
}

// TestStateUnreadable: without its state the engine cannot keep the daily
// limit or the back-off, so it orders nothing and says why.
func TestStateUnreadable(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	e := h.engine(func(o *renew.Options) { o.Store = deniedState{o.Store} })
	r := h.run(h.ctx, e, []manifest.Certificate{h.cert("x", "example.test")}, renew.RunOptions{})[0]
	if r.Renewed || !errors.Is(r.Error, store.ErrDenied) || !strings.Contains(r.Error.Error(), "renewal state") {
		t.Fatalf("%+v", r)
	}
	if n, _ := h.acme("newOrder"); n != 0 {
		t.Errorf("%d orders without state", n)
	}
}

// TestDeadlineAtTheCA: the deadline falls while the CA holds its answer to
// the challenge (the record is up) or to the finalization (the record is
// gone, the order counts); either way nothing is left behind and the state
// says when to try again.
func TestDeadlineAtTheCA(t *testing.T) {
	for _, op := range []string{"challenge", "finalize"} {
		t.Run(op, func(t *testing.T) {
			h := newHarness(t, harnessOpts{caDelays: map[string]time.Duration{op: time.Minute}})
			ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
			defer cancel()
			before := time.Now()
			r := h.run(ctx, h.engine(nil), []manifest.Certificate{h.cert("held", "example.test")}, renew.RunOptions{})[0]
			if r.Renewed || !errors.Is(r.Error, context.DeadlineExceeded) {
				t.Fatalf("%+v", r)
			}
			if time.Since(before) > 15*time.Second {
				t.Errorf("took %v", time.Since(before))
			}
			// The order was accepted: the next one waits a day.
			if r.NextAttempt.Before(before.Add(23 * time.Hour)) {
				t.Errorf("next attempt %v", r.NextAttempt)
			}
			if h.journalCount("AddDomainRecord", "") != 2 {
				t.Errorf("no record was written before the deadline (the preflight's and the challenge's)")
			}
		})
	}
}
