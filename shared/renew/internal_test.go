package renew

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/store"
)

func TestBackoff(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		failures   int
		ordered    bool
		lastOrder  time.Time
		retryAfter time.Time
		want       time.Time
	}{
		{"first failure before any order: an hour", 0, false, time.Time{}, time.Time{}, now.Add(time.Hour)},
		{"second: four hours", 1, false, time.Time{}, time.Time{}, now.Add(4 * time.Hour)},
		{"third and later: a day", 5, false, time.Time{}, time.Time{}, now.Add(24 * time.Hour)},
		{"an order the CA accepted: a day after it", 0, true, now, time.Time{}, now.Add(24 * time.Hour)},
		{"the CA's Retry-After when later", 0, false, time.Time{}, now.Add(3 * time.Hour), now.Add(3 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := State{Failures: tt.failures, LastOrder: tt.lastOrder}
			s.failed(now, "boom", tt.ordered, tt.retryAfter)
			if !s.NextAttempt.Equal(tt.want) || s.Failures != tt.failures+1 || s.LastError != "boom" {
				t.Errorf("next %v (want %v), failures %d", s.NextAttempt, tt.want, s.Failures)
			}
		})
	}
	s := State{Failures: 3, LastError: "x", LastOrder: now}
	s.succeeded(now, []string{"a.example"}, now.Add(90*24*time.Hour), "1f")
	if s.Failures != 0 || s.LastError != "" || !s.NextAttempt.Equal(now.Add(OrderInterval)) {
		t.Errorf("after success: %+v", s)
	}
}

func TestParseResolvers(t *testing.T) {
	got, err := ParseResolvers("127.0.0.1:5353, 8.8.8.8 [::1]:53,[2001:db8::1]")
	want := []string{"127.0.0.1:5353", "8.8.8.8:53", "[::1]:53", "[2001:db8::1]:53"}
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v %v, want %v", got, err, want)
	}
	for _, bad := range []string{"1.2.3.4:0", "host:99999", ":53"} {
		if _, err := ParseResolvers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestStateDamaged: a state that is not JSON does not stop renewals.
func TestStateDamaged(t *testing.T) {
	st, err := store.OpenDir(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.Put(ctx, "certdrop/acme/state/x.json", []byte("{"), ""); err != nil {
		t.Fatal(err)
	}
	s, err := loadState(ctx, st, DefaultStatePrefix, "x")
	if !errors.Is(err, errDamagedState) || s.Failures != 0 {
		t.Errorf("damaged state: %+v %v", s, err)
	}
}

func TestScrub(t *testing.T) {
	e, err := New(Options{Store: nilStore{}, Providers: func(context.Context, manifest.Certificate) (Provider, error) { return nil, nil },
		Getenv: func(k string) string { return map[string]string{"CF": "cf-token-12345"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range secretVars(manifest.Certificate{DNS: manifest.DNS{APITokenEnv: "CF"}}) {
		e.addSecret(e.getenv(n))
	}
	got := e.scrub("token cf-token-12345 and -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY----- done")
	if strings.Contains(got, "cf-token") || strings.Contains(got, "MHcCAQEE") || !strings.Contains(got, "done") {
		t.Errorf("scrub: %q", got)
	}
}

func TestStatePrefixOutsideWatched(t *testing.T) {
	_, err := New(Options{Store: nilStore{}, Prefix: "certdrop/", Providers: func(context.Context, manifest.Certificate) (Provider, error) { return nil, nil }})
	if err == nil || !strings.Contains(err.Error(), "lies under the watched prefix") {
		t.Errorf("state under the watched prefix: %v", err)
	}
}

type nilStore struct{ store.Store }

func TestProviders(t *testing.T) {
	env := map[string]string{"CERTDROP_SECRET_CF_OK": "token-value", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "the-function-secret", "CF_PLAIN": "token-value"}
	var read []string
	f := NewProviders(func(k string) string { read = append(read, k); return env[k] }, nil)
	ctx := context.Background()
	cert := func(d manifest.DNS) manifest.Certificate { return manifest.Certificate{Name: "x", DNS: d} }
	if _, err := f(ctx, cert(manifest.DNS{Provider: manifest.DNSCloudflare, APITokenEnv: "CERTDROP_SECRET_CF_MISSING"})); err == nil || !strings.Contains(err.Error(), "set CERTDROP_SECRET_CF_MISSING") {
		t.Errorf("cloudflare without its token: %v", err)
	}
	if p, err := f(ctx, cert(manifest.DNS{Provider: manifest.DNSCloudflare, APITokenEnv: "CERTDROP_SECRET_CF_OK"})); err != nil || p == nil {
		t.Errorf("cloudflare: %v", err)
	}
	if _, err := f(ctx, cert(manifest.DNS{Provider: manifest.DNSRFC2136, Server: "ns:53", KeyName: "k.", KeyEnv: "CERTDROP_SECRET_TSIG"})); err == nil || !strings.Contains(err.Error(), "set CERTDROP_SECRET_TSIG") {
		t.Errorf("rfc2136 without its key: %v", err)
	}
	env["CERTDROP_SECRET_TSIG"] = "c2VjcmV0LXRzaWcta2V5"
	if p, err := f(ctx, cert(manifest.DNS{Provider: manifest.DNSRFC2136, Server: "ns:53", KeyName: "k.", KeyEnv: "CERTDROP_SECRET_TSIG"})); err != nil || p == nil {
		t.Errorf("rfc2136: %v", err)
	}
	if _, err := f(ctx, cert(manifest.DNS{Provider: manifest.DNSAlidns})); err == nil {
		t.Errorf("alidns without a client accepted")
	}
	// A Certificate built without Parse may not reach variables a
	// manifest may not name: refused before they are read.
	read = nil
	for _, d := range []manifest.DNS{
		{Provider: manifest.DNSCloudflare, APITokenEnv: "ALIBABA_CLOUD_ACCESS_KEY_SECRET"},
		{Provider: manifest.DNSCloudflare, APITokenEnv: "CF_PLAIN"},
		{Provider: manifest.DNSRFC2136, Server: "ns:53", KeyName: "k.", KeyEnv: "ALIBABA_CLOUD_ACCESS_KEY_SECRET"},
		{Provider: manifest.DNSRFC2136, Server: "ns:53", KeyName: "k.", KeyEnv: "FC_REGION"},
	} {
		if p, err := f(ctx, cert(d)); err == nil || !errors.Is(err, manifest.ErrSecretEnv) {
			t.Errorf("%+v: provider %v, error %v; want manifest.ErrSecretEnv", d, p, err)
		}
	}
	if len(read) != 0 {
		t.Errorf("variables read for refused certificates: %q", read)
	}
}

// TestResultLine: one line says what happened, a failure first.
func TestResultLine(t *testing.T) {
	exp := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	next := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		r    Result
		want string
	}{
		{Result{Reason: ReasonARIWindow, Renewed: true, NotAfter: exp, Key: "certs/a/bundle.pem", Detail: "x"},
			"renewed (ari_window), expires 2027-03-01T00:00:00Z, written to certs/a/bundle.pem"},
		{Result{Reason: ReasonNoBundle, Renewed: true, Error: &Error{Code: "RenewalFailed", Message: "state not written"}},
			"FAILED (no_bundle): RenewalFailed: state not written"},
		{Result{Reason: ReasonNoBundle, Skipped: SkipBackoff, NextAttempt: next, Detail: "2 failures"},
			"due (no_bundle), not renewed: backoff, next attempt 2026-12-01T06:00:00Z (2 failures)"},
		{Result{Reason: ReasonNotDue, NotAfter: exp}, "not due, expires 2027-03-01T00:00:00Z"},
	} {
		if got := tt.r.Line(); got != tt.want {
			t.Errorf("%+v:\n got %q\nwant %q", tt.r, got, tt.want)
		}
	}
}

// TestHTTPClientRefusesMetadataDial: the ACME client's dialer refuses a
// link-local or metadata address after resolution, below any URL check.
func TestHTTPClientRefusesMetadataDial(t *testing.T) {
	hc, err := newHTTPClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	dial := hc.Transport.(*http.Transport).DialContext
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, addr := range []string{"169.254.169.254:443", "100.100.100.200:80", "[::ffff:169.254.169.254]:443", "[fe80::1]:443", "[64:ff9b::a9fe:a9fe]:443"} {
		c, err := dial(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		if !errors.Is(err, secureurl.ErrMetadataAddress) {
			t.Errorf("dial %s: %v; want ErrMetadataAddress", addr, err)
		}
	}
}

// TestNewError: each renewal failure gets its code, class and hint, its
// message scrubbed, and errors.Is sees the cause.
func TestNewError(t *testing.T) {
	e, err := New(Options{Store: nilStore{}, Providers: func(context.Context, manifest.Certificate) (Provider, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret("tsig-secret-value")
	next := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		err       error
		res       Result
		code      string
		transient bool
		hintHas   string
	}{
		{"rate limited", fmt.Errorf("order: %w", ErrRateLimited), Result{Skipped: SkipRateLimited, NextAttempt: next}, "RateLimited", true, "2026-12-01T03:00:00Z"},
		{"not visible", fmt.Errorf("x: %w", ErrNotVisible), Result{}, "RecordNotVisible", false, "CERTDROP_DNS_RESOLVERS"},
		{"no zone", kind{ErrNoZone, errors.New("alidns: no zone of this account holds x")}, Result{NextAttempt: next}, "NoDNSZone", false, "no order was placed"},
		{"write refused", kind{ErrDNSWrite, errors.New("Forbidden.RAM")}, Result{}, "DNSWriteFailed", false, "alidns:AddDomainRecord"},
		{"write refused, the provider's hint", kind{ErrDNSWrite, hinted{"check keyName"}}, Result{}, "DNSWriteFailed", false, "check keyName"},
		{"eab", ErrEABMissing, Result{}, "EABMissing", false, "eab"},
		{"refused by the manifest's rules", fmt.Errorf("%w: eab.keyIdEnv", ErrRefused), Result{}, "CertificateRefused", false, "CERTDROP_SECRET_"},
		{"provider", fmt.Errorf("%w: token", ErrNoProvider), Result{}, "DNSProviderUnavailable", false, "dns section"},
		{"deadline", fmt.Errorf("waiting: %w", context.DeadlineExceeded), Result{}, "Deadline", true, "deadline"},
		{"not started", errors.New("only 2s left"), Result{Skipped: SkipNotStarted}, "Deadline", true, "deadline"},
		{"store down", &store.Error{Op: "get", Key: "k", Err: errors.New("connection refused")}, Result{}, "RenewalFailed", true, "backs off"},
		{"other, scrubbed", errors.New("the CA said no to tsig-secret-value"), Result{}, "RenewalFailed", false, "backs off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.newError(tt.err, tt.res)
			if got.Code != tt.code || got.Transient != tt.transient || !strings.Contains(got.Hint, tt.hintHas) || !errors.Is(got, tt.err) {
				t.Errorf("got %+v, want code %s transient %v hint with %q", got, tt.code, tt.transient, tt.hintHas)
			}
			if strings.Contains(got.Message, "tsig-secret-value") || got.Message != e.scrub(tt.err.Error()) {
				t.Errorf("message %q", got.Message)
			}
		})
	}
	var none *Error
	if none.Error() != "" || errors.Is(none, ErrNoZone) {
		t.Error("a nil *Error is not empty")
	}
}

type hinted struct{ hint string }

func (h hinted) Error() string { return "refused: " + h.hint }
func (h hinted) Hint() string  { return h.hint }
