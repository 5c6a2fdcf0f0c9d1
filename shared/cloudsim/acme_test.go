package cloudsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"
	"github.com/miekg/dns"
)

// acmeConfig is dnsConfig with the ACME CA on, certificates valid ten
// days, and a zone whose changes are never published.
func acmeConfig(mutate func(*ACMESettings)) Config {
	cfg := dnsConfig()
	cfg.DNS.Zones = append(cfg.DNS.Zones, ZoneSettings{Name: "never.test", Unpublished: true})
	cfg.ACME = ACMESettings{Enabled: true, CertificateLifetime: 10 * 24 * time.Hour}
	if mutate != nil {
		mutate(&cfg.ACME)
	}
	return cfg
}

// envOf returns the value of one of the Sim's exported variables.
func envOf(s *Sim, name string) string {
	for _, kv := range s.Env() {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// headerTap keeps the headers of the last answer with a given status.
type headerTap struct {
	rt     http.RoundTripper
	status int
	mu     sync.Mutex
	last   http.Header
}

func (h *headerTap) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := h.rt.RoundTrip(r)
	if err == nil && res.StatusCode == h.status {
		h.mu.Lock()
		h.last = res.Header.Clone()
		h.mu.Unlock()
	}
	return res, err
}

// acmeClient is an acmez client of the emulator's CA that trusts only the
// root the emulator wrote to CERTDROP_ACME_TRUST_ROOTS, with a DNS-01
// solver writing TXT records through the emulator's state.
func acmeClient(t testing.TB, s *Sim) (*acmez.Client, *stateSolver, *headerTap) {
	t.Helper()
	pemBytes, err := os.ReadFile(envOf(s, "CERTDROP_ACME_TRUST_ROOTS"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in the trust-root file")
	}
	tap := &headerTap{rt: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, status: http.StatusTooManyRequests}
	solver := &stateSolver{t: t, s: s, ids: map[string]string{}}
	return &acmez.Client{
		Client: &acme.Client{
			Directory:    envOf(s, "CERTDROP_ACME_DIRECTORY"),
			HTTPClient:   &http.Client{Transport: tap, Timeout: 30 * time.Second},
			PollInterval: 50 * time.Millisecond,
			PollTimeout:  30 * time.Second,
		},
		ChallengeSolvers: map[string]acmez.Solver{acme.ChallengeTypeDNS01: solver},
	}, solver, tap
}

// stateSolver answers DNS-01 challenges by writing the TXT record into the
// emulator's zones directly, following a CNAME at the challenge name as a
// delegating user would have it.
type stateSolver struct {
	t   testing.TB
	s   *Sim
	mu  sync.Mutex
	ids map[string]string // key authorization digest -> record ID
}

func (ss *stateSolver) target(ctx context.Context, name string) (zone, rr string, err error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeCNAME)
	in, _, err := (&dns.Client{Net: "tcp"}).ExchangeContext(ctx, m, ss.s.Endpoints().DNS)
	if err != nil {
		return "", "", err
	}
	for _, a := range in.Answer {
		if c, ok := a.(*dns.CNAME); ok {
			name = canonicalZone(c.Target)
		}
	}
	ss.s.dns.mu.Lock()
	z := ss.s.dns.zoneOf(name)
	ss.s.dns.mu.Unlock()
	if z == nil {
		return "", "", errors.New("no zone for " + name)
	}
	return z.name, strings.TrimSuffix(name, "."+z.name), nil
}

func (ss *stateSolver) Present(ctx context.Context, chal acme.Challenge) error {
	zone, rr, err := ss.target(ctx, chal.DNS01TXTRecordName())
	if err != nil {
		return err
	}
	rec, err := ss.s.AddDNSRecord(zone, rr, "TXT", chal.DNS01KeyAuthorization(), 600)
	if err != nil {
		return err
	}
	ss.mu.Lock()
	ss.ids[chal.DNS01KeyAuthorization()] = rec.RecordID
	ss.mu.Unlock()
	return nil
}

func (ss *stateSolver) CleanUp(_ context.Context, chal acme.Challenge) error {
	ss.mu.Lock()
	id := ss.ids[chal.DNS01KeyAuthorization()]
	delete(ss.ids, chal.DNS01KeyAuthorization())
	ss.mu.Unlock()
	return ss.s.DeleteDNSRecord(id)
}

// newAccount registers a fresh account.
func newAccount(t testing.TB, c *acmez.Client, eab *acme.EAB) (acme.Account, error) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	acct := acme.Account{Contact: []string{"mailto:ops@example.test"}, TermsOfServiceAgreed: true, PrivateKey: key}
	if eab != nil {
		if err := acct.SetExternalAccountBinding(context.Background(), c.Client, *eab); err != nil {
			t.Fatal(err)
		}
	}
	return c.NewAccount(context.Background(), acct)
}

// txtLeft lists the TXT records under _acme-challenge names of every zone.
func txtLeft(s *Sim) []string {
	var out []string
	for _, z := range []string{"example.test", "delegated.example.net", "never.test"} {
		for _, r := range s.DNSRecords(z) {
			if r.Type == "TXT" && strings.Contains(r.RR, "_acme-challenge") {
				out = append(out, r.Name())
			}
		}
	}
	return out
}

func TestACMEIssuesThroughEmulatorDNS(t *testing.T) {
	s := startSim(t, acmeConfig(nil))
	c, _, _ := acmeClient(t, s)
	ctx := context.Background()
	acct, err := newAccount(t, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// Apex and wildcard in one order put two TXT values at one name; the
	// third name is delegated by CNAME to another zone.
	sans := []string{"example.test", "*.example.test", "cdn.example.test"}
	chains, err := c.ObtainCertificateForSANs(ctx, acct, key, sans)
	if err != nil {
		t.Fatal(err)
	}
	if left := txtLeft(s); len(left) != 0 {
		t.Fatalf("TXT records left behind: %v", left)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.ACMEIssuerRoot())
	var certs []*x509.Certificate
	rest := chains[0].ChainPEM
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, cert)
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: "cdn.example.test"}); err != nil {
		t.Fatalf("issued chain does not verify to the CA's root: %v", err)
	}
	names := slices.Clone(leaf.DNSNames)
	slices.Sort(names)
	if strings.Join(names, ",") != "*.example.test,cdn.example.test,example.test" {
		t.Fatalf("SANs %v", names)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life < 10*24*time.Hour-2*time.Second || life > 10*24*time.Hour {
		t.Fatalf("lifetime %v, want 10 days", life)
	}

	// The CA's renewal information suggests a window two thirds in, until
	// the emulator says otherwise.
	ari, err := c.GetRenewalInfo(ctx, leaf)
	if err != nil {
		t.Fatal(err)
	}
	if !ari.SuggestedWindow.Start.After(time.Now()) {
		t.Fatalf("fresh certificate already due: %+v", ari.SuggestedWindow)
	}
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	if err := s.SetRenewalWindow(chains[0].ChainPEM, start, start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ari, err = c.GetRenewalInfo(ctx, leaf)
	if err != nil {
		t.Fatal(err)
	}
	if !ari.SuggestedWindow.Start.Equal(start) || ari.SuggestedWindow.End.After(time.Now()) {
		t.Fatalf("window after SetRenewalWindow: %+v", ari.SuggestedWindow)
	}

	// Renewal: an order that replaces the certificate, under a named profile.
	csr, err := acmez.NewCSR(key, sans)
	if err != nil {
		t.Fatal(err)
	}
	params, err := acmez.OrderParametersFromCSR(acct, csr)
	if err != nil {
		t.Fatal(err)
	}
	params.Replaces, params.Profile = leaf, "default"
	if _, err := c.ObtainCertificate(ctx, params); err != nil {
		t.Fatalf("renewal replacing the certificate: %v", err)
	}
	if left := txtLeft(s); len(left) != 0 {
		t.Fatalf("TXT records left behind: %v", left)
	}

	var ops, replaces []string
	for _, e := range s.Journal().Entries() {
		if e.API == "newOrder" && e.Domain != "example.test,*.example.test,cdn.example.test" {
			t.Errorf("newOrder journaled for %q", e.Domain)
		}
		if e.API == "newOrder" {
			replaces = append(replaces, e.Replaces+"/"+e.Profile)
		}
		if e.Service == "acme" && e.Outcome == "ok" && (e.API == "newOrder" || e.API == "finalize" || e.API == "challenge") {
			ops = append(ops, e.API)
		}
	}
	if ops[0] != "newOrder" || ops[len(ops)-1] != "finalize" || !slices.Contains(ops, "challenge") {
		t.Fatalf("journal: %v", ops)
	}
	if len(replaces) != 2 || replaces[0] != "/" || !strings.HasSuffix(replaces[1], "/default") || len(replaces[1]) < 20 {
		t.Fatalf("newOrder replaces/profile in the journal: %q", replaces)
	}
}

func TestACMEValidationSeesOnlyPublishedRecords(t *testing.T) {
	s := startSim(t, acmeConfig(nil))
	c, _, _ := acmeClient(t, s)
	acct, err := newAccount(t, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// The record is in the zone's API view but never reaches the DNS
	// server: the CA, which resolves through it, must not see it.
	_, err = c.ObtainCertificateForSANs(context.Background(), acct, key, []string{"www.never.test"})
	var prob acme.Problem
	if !errors.As(err, &prob) || !strings.Contains(prob.Type, "unauthorized") {
		t.Fatalf("issuance with an unpublished record: %v", err)
	}
	if left := txtLeft(s); len(left) != 0 {
		t.Fatalf("TXT records left behind: %v", left)
	}
}

func TestACMEExternalAccountBinding(t *testing.T) {
	mac := base64.RawURLEncoding.EncodeToString([]byte("a thirty-two byte secret for EAB"))
	s := startSim(t, acmeConfig(func(a *ACMESettings) {
		a.ExternalAccountBinding = EABSettings{Required: true, Keys: map[string]string{"kid-1": mac}}
	}))
	c, _, _ := acmeClient(t, s)
	_, err := newAccount(t, c, nil)
	var prob acme.Problem
	if !errors.As(err, &prob) || prob.Type != acme.ProblemTypeExternalAccountRequired {
		t.Fatalf("account without EAB: %v", err)
	}
	if _, err := newAccount(t, c, &acme.EAB{KeyID: "kid-1", MACKey: base64.RawURLEncoding.EncodeToString([]byte("the wrong key, also thirty-two b"))}); err == nil {
		t.Fatal("account with a wrong MAC key accepted")
	}
	if _, err := newAccount(t, c, &acme.EAB{KeyID: "kid-1", MACKey: mac}); err != nil {
		t.Fatalf("account with EAB: %v", err)
	}
}

func TestACMERateLimitsNewOrders(t *testing.T) {
	s := startSim(t, acmeConfig(func(a *ACMESettings) {
		a.RateLimit = RateLimitSettings{After: 1, Times: 1, RetryAfter: 90 * time.Minute}
	}))
	c, _, tap := acmeClient(t, s)
	ctx := context.Background()
	acct, err := newAccount(t, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	order := func() error {
		_, err := c.NewOrder(ctx, acct, acme.Order{Identifiers: []acme.Identifier{{Type: "dns", Value: "www.example.test"}}})
		return err
	}
	if err := order(); err != nil {
		t.Fatalf("first order: %v", err)
	}
	err = order()
	var prob acme.Problem
	if !errors.As(err, &prob) || prob.Type != acme.ProblemTypeRateLimited || prob.Status != http.StatusTooManyRequests {
		t.Fatalf("second order: %v", err)
	}
	tap.mu.Lock()
	retry, nonce := tap.last.Get("Retry-After"), tap.last.Get("Replay-Nonce")
	tap.mu.Unlock()
	if retry != "5400" || nonce == "" {
		t.Fatalf("rate-limited answer: Retry-After %q, Replay-Nonce %q", retry, nonce)
	}
	if err := order(); err != nil {
		t.Fatalf("third order, after the refused one: %v", err)
	}
	var codes []string
	for _, e := range s.Journal().Entries() {
		if e.API == "newOrder" {
			codes = append(codes, e.Code)
		}
	}
	if strings.Join(codes, ",") != ",rateLimited," {
		t.Fatalf("journal codes: %q", codes)
	}
}

func TestACMEEnvAndTrust(t *testing.T) {
	s := startSim(t, acmeConfig(nil))
	dir := envOf(s, "CERTDROP_ACME_DIRECTORY")
	// Each emulator's directory URL is its own, even on a reused port:
	// acmez caches a directory by URL for hours (a renew test once got an
	// earlier emulator's profiles that way).
	other := startSim(t, acmeConfig(nil)).ACMEDirectory()
	u1, err1 := url.Parse(dir)
	u2, err2 := url.Parse(other)
	if err1 != nil || err2 != nil || u1.Path == u2.Path {
		t.Errorf("two emulators share the directory path: %s and %s", dir, other)
	}
	if !strings.HasPrefix(dir, "https://127.0.0.1:") || !strings.HasSuffix(dir, "/dir") || dir != s.ACMEDirectory() {
		t.Fatalf("CERTDROP_ACME_DIRECTORY=%q", dir)
	}
	if envOf(s, "CERTDROP_DNS_RESOLVERS") != s.Endpoints().DNS {
		t.Fatal("CERTDROP_DNS_RESOLVERS")
	}
	// Without the emulator's root the HTTPS certificate is not trusted.
	if res, err := http.Get(dir); err == nil {
		res.Body.Close()
		t.Fatal("the ACME CA's certificate verified without the trust root")
	}
	c, _, _ := acmeClient(t, s)
	if _, err := c.GetDirectory(context.Background()); err != nil {
		t.Fatalf("with the trust root: %v", err)
	}
	// The issuing root over the management endpoint, on the same listener
	// (the directory is at /<per-emulator id>/dir; the rest at the root).
	base := dir[:len("https://")+strings.Index(dir[len("https://"):], "/")]
	res, err := c.HTTPClient.Get(base + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.TrimSpace(string(root)) != strings.TrimSpace(string(s.ACMEIssuerRoot())) {
		t.Fatalf("GET /roots/0: HTTP %d %q", res.StatusCode, root)
	}
	res, err = c.HTTPClient.Get(base + "/root-keys/0")
	if err == nil {
		res.Body.Close()
	}
	if err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("the CA's root key is served: %v %v", err, res.StatusCode)
	}
	issuer, err := os.ReadFile(envOf(s, "CERTDROP_SIM_ACME_ISSUER_ROOT"))
	if err != nil || string(issuer) != string(s.ACMEIssuerRoot()) {
		t.Fatalf("issuer root file: %v", err)
	}
	_, file := s.ACMETrustRoot()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("temporary trust root left after Close: %v", err)
	}
}

func TestACMEDelayPutsADeadlineMidOrder(t *testing.T) {
	s := startSim(t, acmeConfig(func(a *ACMESettings) {
		a.Delays = map[string]time.Duration{"finalize": time.Hour}
	}))
	c, _, _ := acmeClient(t, s)
	acct, err := newAccount(t, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// The order gets as far as finalize well within the deadline, then
	// waits there until the client gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.ObtainCertificateForSANs(ctx, acct, key, []string{"www.example.test"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("issuance with finalize held: %v", err)
	}
	if left := txtLeft(s); len(left) != 0 {
		t.Fatalf("TXT records left behind: %v", left)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var abandoned bool
		for _, e := range s.Journal().Entries() {
			abandoned = abandoned || (e.API == "finalize" && e.Outcome == "abandoned" && e.Fault == "slow")
		}
		if abandoned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no abandoned finalize in the journal")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestACMEConfigRejectsMistakes(t *testing.T) {
	tests := []struct {
		name string
		acme ACMESettings
		want string
	}{
		{"public address", ACMESettings{Enabled: true, Addr: "0.0.0.0:14000"}, "not a loopback"},
		{"EAB without keys", ACMESettings{Enabled: true, ExternalAccountBinding: EABSettings{Required: true}}, "without keys"},
		{"EAB key not base64url", ACMESettings{Enabled: true, ExternalAccountBinding: EABSettings{Keys: map[string]string{"k": "a+b/"}}}, "base64url"},
		{"tiny lifetime", ACMESettings{Enabled: true, CertificateLifetime: time.Millisecond}, "at least 2s"},
		{"default profile redefined", ACMESettings{Enabled: true, Profiles: map[string]time.Duration{"default": time.Hour}}, "extra profile"},
		{"negative rate limit", ACMESettings{Enabled: true, RateLimit: RateLimitSettings{After: -1}}, "rateLimit"},
		{"delay of an unknown operation", ACMESettings{Enabled: true, Delays: map[string]time.Duration{"finalise": time.Second}}, "not an operation"},
	}
	for _, tt := range tests {
		cfg := testConfig()
		cfg.ACME = tt.acme
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestRateLimitRefuses(t *testing.T) {
	tests := []struct {
		r    RateLimitSettings
		want string // refusals of orders 1..6
	}{
		{RateLimitSettings{}, "------"},
		{RateLimitSettings{After: 2}, "--xxxx"},
		{RateLimitSettings{After: 2, Times: 1}, "--x---"},
		{RateLimitSettings{Times: 2}, "xx----"},
	}
	for _, tt := range tests {
		var got strings.Builder
		for n := 1; n <= 6; n++ {
			if tt.r.refuses(n) {
				got.WriteByte('x')
			} else {
				got.WriteByte('-')
			}
		}
		if got.String() != tt.want {
			t.Errorf("%+v: %s, want %s", tt.r, got.String(), tt.want)
		}
	}
}

// BenchmarkACMEIssuance measures one DNS-01 issuance for a name against
// the in-process CA: new order, TXT record written through the emulator's
// state, validation through its DNS server, finalization, download.
func BenchmarkACMEIssuance(b *testing.B) {
	s := startSim(b, acmeConfig(nil))
	c, _, _ := acmeClient(b, s)
	acct, err := newAccount(b, c, nil)
	if err != nil {
		b.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for b.Loop() {
		if _, err := c.ObtainCertificateForSANs(context.Background(), acct, key, []string{"www.example.test"}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEABKeysNeverFormat(t *testing.T) {
	e := EABSettings{Required: true, Keys: map[string]string{"kid-1": "c2VjcmV0LW1hYy1rZXk"}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, e) + fmt.Sprintf(verb, Config{ACME: ACMESettings{ExternalAccountBinding: e}})
		if strings.Contains(out, "c2VjcmV0LW1hYy1rZXk") || !strings.Contains(out, "kid-1") {
			t.Errorf("%s: %s", verb, out)
		}
	}
}
