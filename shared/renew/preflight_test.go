package renew_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/certdrop/certdrop/internal/testutil"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/renew"
)

// assertNothingAtTheCA checks that no account was registered and no order
// placed.
func (h *harness) assertNothingAtTheCA() {
	h.t.Helper()
	accounts, _ := h.acme("newAccount")
	orders, _ := h.acme("newOrder")
	if accounts != 0 || orders != 0 {
		h.t.Errorf("the CA saw %d new accounts and %d orders; want none", accounts, orders)
	}
}

// TestNameInNoZone: the DNS provider lists its zones and none holds the
// name (elsewhere.test is in DNS, hosted outside the account): refused
// before the CA is asked anything, and retried after the back-off's
// first step, not a day later.
func TestNameInNoZone(t *testing.T) {
	h := newHarness(t, harnessOpts{zones: []cloudsim.ZoneSettings{{Name: "example.test"}, {Name: "elsewhere.test", External: true}}})
	before := time.Now()
	r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{h.cert("elsewhere", "example.test", "www.elsewhere.test")}, renew.RunOptions{})[0]
	if r.Renewed || !r.Failed() || !strings.Contains(fmt.Sprint(r.Error), "no zone of this account holds _acme-challenge.www.elsewhere.test") ||
		r.Error.Code != "NoDNSZone" || !errors.Is(r.Error, renew.ErrNoZone) {
		t.Fatalf("%+v", r)
	}
	h.assertNothingAtTheCA()
	if h.journalCount("AddDomainRecord", "") != 0 || len(r.LeftBehind) != 0 {
		t.Errorf("records written (%d) or left behind (%v)", h.journalCount("AddDomainRecord", ""), r.LeftBehind)
	}
	if r.NextAttempt.After(before.Add(2 * time.Hour)) {
		t.Errorf("next attempt %v: more than the back-off's first step", r.NextAttempt)
	}
}

// TestDNSWriteDenied: the function's role may not write the zone. The
// preflight finds it before any order, and since nothing was written,
// nothing is reported left behind.
func TestDNSWriteDenied(t *testing.T) {
	h := newHarness(t, harnessOpts{denyActions: []string{"AddDomainRecord", "DeleteDomainRecord", "DescribeSubDomainRecords"}})
	before := time.Now()
	r := h.run(h.ctx, h.engine(nil), []manifest.Certificate{h.cert("denied", "example.test")}, renew.RunOptions{})[0]
	if r.Renewed || !r.Failed() || !strings.Contains(fmt.Sprint(r.Error), "Forbidden.RAM") || r.Error.Code != "DNSWriteFailed" {
		t.Fatalf("%+v", r)
	}
	if len(r.LeftBehind) != 0 {
		t.Errorf("left behind %v, though nothing was written", r.LeftBehind)
	}
	h.assertNothingAtTheCA()
	if r.NextAttempt.After(before.Add(2 * time.Hour)) {
		t.Errorf("next attempt %v: more than the back-off's first step", r.NextAttempt)
	}
}

// flakyWrites fails the challenge's write (every append after the first
// `pass`), without an answer: the record's fate is unknown.
type flakyWrites struct {
	renew.Provider
	pass    int32
	appends atomic.Int32
}

func (f *flakyWrites) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	if f.appends.Add(1) > f.pass {
		return nil, errors.New("test: connection reset by peer")
	}
	return f.Provider.AppendRecords(ctx, zone, recs)
}

func (f *flakyWrites) FindZone(ctx context.Context, name string) (string, error) {
	return f.Provider.(renew.ZoneFinder).FindZone(ctx, name)
}

// TestOrderWithoutChallengeNotCounted: the order was placed but its
// challenge record could not be written: the CA validated nothing, so the
// order does not hold the next attempt back a day.
func TestOrderWithoutChallengeNotCounted(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.cert("unlucky", "example.test")
	inner := renew.NewProviders(h.getenv, func(context.Context) (alidns.Caller, error) { return h.client, nil })
	flaky := &flakyWrites{pass: 1} // the preflight's write passes, the challenge's fails
	e := h.engine(func(o *renew.Options) {
		o.Providers = func(ctx context.Context, c manifest.Certificate) (renew.Provider, error) {
			p, err := inner(ctx, c)
			flaky.Provider = p
			return flaky, err
		}
	})
	before := time.Now()
	r := h.run(h.ctx, e, []manifest.Certificate{c}, renew.RunOptions{})[0]
	if r.Renewed || !r.Failed() || !strings.Contains(fmt.Sprint(r.Error), "connection reset") {
		t.Fatalf("%+v", r)
	}
	if orders, _ := h.acme("newOrder"); orders != 1 {
		t.Fatalf("%d orders, want 1", orders)
	}
	if r.NextAttempt.After(before.Add(2 * time.Hour)) {
		t.Errorf("next attempt %v: the order without a challenge held it back a day", r.NextAttempt)
	}
	later := func(o *renew.Options) { o.Now = func() time.Time { return time.Now().Add(90 * time.Minute) } }
	flaky.pass = 1 << 20
	r = h.run(h.ctx, h.engine(later), []manifest.Certificate{c}, renew.RunOptions{})[0]
	if !r.Renewed {
		t.Fatalf("after the back-off's first step: %+v", r)
	}
}

// TestTSIGTypo renews through a real BIND 9 with a TSIG key's secret or
// name mistyped: the error says which (the rcode and the TSIG error), the
// key name and the secret's variable (never the secret); nothing was
// written, so nothing is reported left behind; and the typo is found
// before the CA is asked anything.
func TestTSIGTypo(t *testing.T) {
	const secret = "c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cw=="
	const typo = "d3Jvbmctc2VjcmV0LXZhbHVlLWZvci10ZXN0cw=="
	b := testutil.StartBIND(t, "rfc.test", "certdrop", secret)
	tests := []struct {
		name, keyName, secret string
		want                  []string
		hintHas               string
	}{
		{"secret", "certdrop", typo, []string{"BADSIG (16)", "CERTDROP_SECRET_TSIG", `"certdrop"`}, "check the secret in CERTDROP_SECRET_TSIG"},
		{"key name", "certdorp", secret, []string{"BADKEY (17)", `"certdorp"`, "keyName"}, "check keyName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.env["CERTDROP_SECRET_TSIG"] = tt.secret
			c := h.cert("tsig", "www.rfc.test")
			c.DNS = manifest.DNS{Provider: manifest.DNSRFC2136, Server: b.Addr, KeyName: tt.keyName, KeyAlg: "hmac-sha256.", KeyEnv: "CERTDROP_SECRET_TSIG"}
			e := h.engine(func(o *renew.Options) {
				o.Providers = renew.NewProviders(h.getenv, nil)
				o.Resolvers = []string{b.Addr}
			})
			before := time.Now()
			r := h.run(h.ctx, e, []manifest.Certificate{c}, renew.RunOptions{})[0]
			msg := fmt.Sprint(r.Error)
			if r.Error == nil || r.Error.Code != "DNSWriteFailed" || !strings.Contains(r.Error.Hint, tt.hintHas) {
				t.Errorf("error %+v", r.Error)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the error does not say %q: %s", w, msg)
				}
			}
			if strings.Contains(h.logs.String(), tt.secret) {
				t.Errorf("the secret reached the logs or results")
			}
			if len(r.LeftBehind) != 0 {
				t.Errorf("left behind %v, though nothing was written", r.LeftBehind)
			}
			h.assertNothingAtTheCA()
			if r.NextAttempt.After(before.Add(2 * time.Hour)) {
				t.Errorf("next attempt %v: more than the back-off's first step", r.NextAttempt)
			}
			if got := b.TXT(t, "_acme-challenge.www.rfc.test"); len(got) != 0 {
				t.Errorf("records at BIND: %v", got)
			}
		})
	}
}
