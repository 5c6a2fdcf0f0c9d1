package cloudsim

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"github.com/certdrop/certdrop/internal/secureurl"
)

// ACMESettings configures the in-process ACME CA: Let's Encrypt's pebble
// (github.com/letsencrypt/pebble/v2), served over HTTPS on loopback, its
// validation authority resolving DNS-01 challenges through the emulator's
// DNS server. Only dns-01 can succeed: nothing answers http-01 or
// tls-alpn-01 challenges. Beside ACME, the HTTPS listener serves pebble's
// management endpoints for scripts: GET /roots/0 and /intermediates/0 (the
// issuing chain), GET /cert-status-by-serial/<hex>, and POST
// /set-renewal-info/ with {"Certificate": PEM, "ARIResponse": JSON text}
// to set a certificate's renewal window (Sim.SetRenewalWindow from Go).
type ACMESettings struct {
	// Enabled starts the CA (and the DNS server, which it needs).
	Enabled bool `yaml:"enabled"`
	// Addr is the loopback address of the HTTPS listener; default
	// "127.0.0.1:0". The directory is https://ADDR/dir.
	Addr string `yaml:"addr"`
	// TrustRootFile is where the emulator writes the PEM of the root that
	// signed its HTTPS certificate, for CERTDROP_ACME_TRUST_ROOTS; default a
	// file in a temporary folder removed at Close. Relative to the
	// configuration file.
	TrustRootFile string `yaml:"trustRootFile"`
	// IssuerRootFile is where the emulator writes the PEM of the root the
	// CA's issued chains lead to (pebble makes a new one at every start):
	// add it to CERTDROP_TRUST_ROOTS to deploy what the CA issues. Default
	// a file in the same temporary folder. Relative to the configuration
	// file.
	IssuerRootFile string `yaml:"issuerRootFile"`
	// CertificateLifetime is the validity of certificates issued under the
	// "default" profile; default 90 days. Pebble's renewal information (ARI)
	// suggests a two-day window around two thirds of the lifetime, starting
	// at issuance for lifetimes under about three days.
	CertificateLifetime time.Duration `yaml:"certificateLifetime"`
	// Profiles are further ACME profiles (e.g. "shortlived") and their
	// certificate lifetimes. Note that pebble gives an order that names no
	// profile a random one of all profiles: configure extra profiles only
	// for clients that always name theirs.
	Profiles map[string]time.Duration `yaml:"profiles"`
	// ExternalAccountBinding makes the CA require EAB on newAccount.
	ExternalAccountBinding EABSettings `yaml:"externalAccountBinding"`
	// RateLimit answers some newOrder requests rateLimited.
	RateLimit RateLimitSettings `yaml:"rateLimit"`
	// ValidationDelay makes the validation authority wait a random time up
	// to this long (whole seconds) before each validation, as pebble does
	// by default; zero (the default here) validates at once.
	ValidationDelay time.Duration `yaml:"validationDelay"`
	// Delays hold the answer to these operations this long before pebble
	// handles them, to put a deadline in the middle of an order
	// deterministically. Keys are the journal's names: newAccount,
	// newOrder, authorization, challenge, order, finalize, certificate,
	// renewalInfo, ...
	Delays map[string]time.Duration `yaml:"delays"`
	// BadNonceRate is the percentage of good nonces refused badNonce;
	// default 0 (pebble's own default is 5).
	BadNonceRate int `yaml:"badNonceRate"`
	// AuthzReuse is the percentage of new orders that reuse a valid
	// authorization of the account instead of asking for a new challenge;
	// default 0 (pebble's own default is 50).
	AuthzReuse int `yaml:"authzReuse"`
}

// EABSettings configures external account binding.
type EABSettings struct {
	// Required refuses newAccount without a binding
	// (externalAccountRequired).
	Required bool `yaml:"required"`
	// Keys are the MAC keys by key ID, base64url without padding, as CAs
	// hand them out.
	Keys map[string]string `yaml:"keys"`
}

// Format prints the settings with the MAC keys left out, for every verb.
func (e EABSettings) Format(f fmt.State, _ rune) {
	ids := make([]string, 0, len(e.Keys))
	for id := range e.Keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fmt.Fprintf(f, "EABSettings{Required:%v KeyIDs:%v <keys redacted>}", e.Required, ids)
}

// LogValue logs the key IDs only.
func (e EABSettings) LogValue() slog.Value { return slog.StringValue(fmt.Sprint(e)) }

// RateLimitSettings refuses newOrder requests with
// urn:ietf:params:acme:error:rateLimited (HTTP 429) and a Retry-After
// header, as a CA's rate limits do. New orders are counted from 1 over the
// CA's life, whatever the account.
type RateLimitSettings struct {
	// After lets this many new orders through before refusing; with
	// Times 0 and After 0, nothing is refused.
	After int `yaml:"after"`
	// Times refuses this many new orders after the first After; 0 means
	// every one after them (when After > 0).
	Times int `yaml:"times"`
	// RetryAfter is the Retry-After sent; default one hour.
	RetryAfter time.Duration `yaml:"retryAfter"`
}

// active reports whether any order is ever refused.
func (r RateLimitSettings) active() bool { return r.After > 0 || r.Times > 0 }

// refuses reports whether the n-th new order (from 1) is refused.
func (r RateLimitSettings) refuses(n int) bool {
	if !r.active() || n <= r.After {
		return false
	}
	return r.Times == 0 || n <= r.After+r.Times
}

// validate checks the ACME settings for mistakes a person would make.
func (a *ACMESettings) validate() error {
	if a.Addr != "" {
		host, _, err := net.SplitHostPort(a.Addr)
		if err != nil {
			return fmt.Errorf("acme.addr: %w", err)
		}
		if !secureurl.IsLoopback(host) {
			return fmt.Errorf("acme.addr: %q is not a loopback address", a.Addr)
		}
	}
	if a.CertificateLifetime < 0 || (a.CertificateLifetime > 0 && a.CertificateLifetime < 2*time.Second) {
		return fmt.Errorf("acme.certificateLifetime must be at least 2s")
	}
	for name, d := range a.Profiles {
		if name == "" || name == "default" {
			return fmt.Errorf("acme.profiles: %q is not a name for an extra profile", name)
		}
		if d < 2*time.Second {
			return fmt.Errorf("acme.profiles.%s: the lifetime must be at least 2s", name)
		}
	}
	for id, k := range a.ExternalAccountBinding.Keys {
		if b, err := base64.RawURLEncoding.DecodeString(k); id == "" || err != nil || len(b) == 0 {
			return fmt.Errorf("acme.externalAccountBinding.keys: key %q is not unpadded base64url", id)
		}
	}
	if a.ExternalAccountBinding.Required && len(a.ExternalAccountBinding.Keys) == 0 {
		return fmt.Errorf("acme.externalAccountBinding: required without keys refuses every account")
	}
	if a.RateLimit.After < 0 || a.RateLimit.Times < 0 || a.RateLimit.RetryAfter < 0 {
		return fmt.Errorf("acme.rateLimit: after, times and retryAfter must not be negative")
	}
	for op, d := range a.Delays {
		if !slices.Contains(acmeOperations(), op) || d < 0 {
			return fmt.Errorf("acme.delays: %q is not an operation (%s) with a delay of zero or more", op, strings.Join(acmeOperations(), ", "))
		}
	}
	if a.ValidationDelay < 0 || a.BadNonceRate < 0 || a.BadNonceRate > 99 || a.AuthzReuse < 0 || a.AuthzReuse > 100 {
		return fmt.Errorf("acme: validationDelay must not be negative, badNonceRate must be 0-99, authzReuse 0-100")
	}
	return nil
}

// acmeCA is the running pebble and its HTTPS front.
type acmeCA struct {
	cfg      ACMESettings
	ca       *ca.CAImpl
	acme     http.Handler
	mgmt     http.Handler
	journal  *Journal
	url      string
	rootFile string
	// issuerRootFile holds the root the issued chains lead to.
	issuerRootFile string
	tempDir        string
	tlsRoot        []byte
	// dirPath is this CA's directory path, /<random>/dir: unique per
	// emulator, because ACME clients (acmez) cache a directory by its URL
	// for hours, and a later emulator on a reused port would otherwise be
	// taken for an earlier one (its profiles, its EAB requirement).
	dirPath   string
	ordersMu  sync.Mutex
	newOrders int
}

// pebbleEnv serializes the construction of pebble's parts: pebble reads
// some of its settings only from environment variables, once, when its
// validation authority and web front end are built.
var pebbleEnv sync.Mutex

// withEnv runs f with the environment variables set, then restores them.
func withEnv(vars map[string]string, f func()) {
	pebbleEnv.Lock()
	defer pebbleEnv.Unlock()
	type old struct {
		v  string
		ok bool
	}
	saved := map[string]old{}
	for k, v := range vars {
		ov, ok := os.LookupEnv(k)
		saved[k] = old{ov, ok}
		_ = os.Setenv(k, v)
	}
	defer func() {
		for k, o := range saved {
			if o.ok {
				_ = os.Setenv(k, o.v)
			} else {
				_ = os.Unsetenv(k)
			}
		}
	}()
	f()
}

// newACMECA builds pebble with its validation authority resolving through
// dnsAddr, and the HTTPS certificate of its listener.
func newACMECA(cfg ACMESettings, dnsAddr string, logger *slog.Logger, journal *Journal) (*acmeCA, tls.Certificate, error) {
	plog := log.New(slog.NewLogLogger(logger.Handler(), slog.LevelDebug).Writer(), "pebble ", 0)
	store := db.NewMemoryStore()
	lifetime := cfg.CertificateLifetime
	if lifetime == 0 {
		lifetime = 90 * 24 * time.Hour
	}
	profiles := map[string]ca.Profile{"default": {Description: "The default profile", ValidityPeriod: uint64(lifetime / time.Second)}}
	for name, d := range cfg.Profiles {
		profiles[name] = ca.Profile{Description: "The " + name + " profile", ValidityPeriod: uint64(d / time.Second)}
	}
	authority := ca.New(plog, store, "", "ecdsa", 0, 1, profiles)
	env := map[string]string{
		"PEBBLE_VA_NOSLEEP":      "1",
		"PEBBLE_VA_ALWAYS_VALID": "0",
		"PEBBLE_WFE_NONCEREJECT": strconv.Itoa(cfg.BadNonceRate),
		"PEBBLE_AUTHZREUSE":      strconv.Itoa(cfg.AuthzReuse),
	}
	if cfg.ValidationDelay > 0 {
		env["PEBBLE_VA_NOSLEEP"] = "0"
		env["PEBBLE_VA_SLEEPTIME"] = strconv.Itoa(max(1, int(cfg.ValidationDelay/time.Second)))
	}
	var front wfe.WebFrontEndImpl
	withEnv(env, func() {
		// The HTTP and TLS ports are where pebble would look for http-01
		// and tls-alpn-01 answers; nothing answers there.
		validator := va.New(plog, 5002, 5001, false, dnsAddr, store)
		front = wfe.New(plog, store, validator, authority, []string{"cloudsim.test"}, false,
			cfg.ExternalAccountBinding.Required, 0, 0)
	})
	for id, k := range cfg.ExternalAccountBinding.Keys {
		if err := store.AddExternalAccountKeyByID(id, k); err != nil {
			return nil, tls.Certificate{}, fmt.Errorf("cloudsim: acme: %w", err)
		}
	}

	now := time.Now()
	root, err := NewRootCA("cloudsim ACME TLS root", now.Add(-time.Hour), now.AddDate(10, 0, 0))
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	leaf, err := root.Issue(LeafRequest{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0)})
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	pair, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	a := &acmeCA{cfg: cfg, ca: authority, acme: front.Handler(), mgmt: front.ManagementHandler(),
		journal: journal, tlsRoot: root.CertPEM(), dirPath: "/" + rand.Text()[:12] + "/dir"}
	return a, pair, nil
}

// writeRoots writes the HTTPS root and the issuing root to the configured
// files, or to files in a temporary folder.
func (a *acmeCA) writeRoots() error {
	files := []struct {
		path *string
		name string
		pem  []byte
	}{
		{&a.rootFile, "acme-tls-root.pem", a.tlsRoot},
		{&a.issuerRootFile, "acme-issuer-root.pem", a.ca.GetRootCert(0).PEM()},
	}
	a.rootFile, a.issuerRootFile = a.cfg.TrustRootFile, a.cfg.IssuerRootFile
	for _, f := range files {
		if *f.path == "" {
			if a.tempDir == "" {
				dir, err := os.MkdirTemp("", "cloudsim-acme-")
				if err != nil {
					return fmt.Errorf("cloudsim: acme: %w", err)
				}
				a.tempDir = dir
			}
			*f.path = filepath.Join(a.tempDir, f.name)
		}
		if err := os.WriteFile(*f.path, f.pem, 0o644); err != nil {
			return fmt.Errorf("cloudsim: acme: %w", err)
		}
	}
	return nil
}

// close removes the temporary trust-root folder.
func (a *acmeCA) close() error {
	if a.tempDir != "" {
		return os.RemoveAll(a.tempDir)
	}
	return nil
}

// acmePaths maps pebble's paths to the operation names the journal uses.
func acmePaths() []struct{ prefix, name string } {
	return []struct{ prefix, name string }{
		{"/dir", "directory"}, {"/nonce-plz", "newNonce"}, {"/sign-me-up", "newAccount"},
		{"/my-account/", "account"}, {"/order-plz", "newOrder"}, {"/my-order/", "order"},
		{"/finalize-order/", "finalize"}, {"/authZ/", "authorization"}, {"/chalZ/", "challenge"},
		{"/certZ/", "certificate"}, {"/revoke-cert", "revokeCert"}, {"/rollover-account-key", "keyChange"},
		{"/draft-ietf-acme-ari-03/renewalInfo", "renewalInfo"}, {"/list-orderz/", "orders"},
		{"/roots/", "roots"}, {"/intermediates/", "intermediates"}, {"/cert-status-by-serial/", "certStatus"},
		{"/set-renewal-info/", "setRenewalInfo"},
	}
}

// acmeOperations lists the operation names.
func acmeOperations() []string {
	var out []string
	for _, p := range acmePaths() {
		out = append(out, p.name)
	}
	return out
}

// acmeOperation names a request for the journal by pebble's paths.
func acmeOperation(path string) string {
	for _, p := range acmePaths() {
		if strings.HasPrefix(path, p.prefix) {
			return p.name
		}
	}
	return path
}

// managementPath reports whether path is one of the management endpoints
// the emulator serves beside ACME: the CA's roots and intermediates (to
// verify issued chains), certificate status, and setting a certificate's
// renewal information. Pebble's root and intermediate private keys are
// not served.
func managementPath(path string) bool {
	for _, p := range []string{"/roots/", "/intermediates/", "/cert-status-by-serial/", "/set-renewal-info/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// statusRecorder keeps the status and the start of an error body.
type statusRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status >= 400 && r.body.Len() < 4096 {
		r.body.Write(b[:min(len(b), 4096-r.body.Len())])
	}
	return r.ResponseWriter.Write(b)
}

// ServeHTTP journals each request and applies the rate limit in front of
// pebble.
func (a *acmeCA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == a.dirPath {
		r.URL.Path = "/dir"
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	e := Entry{Time: time.Now().UTC(), Service: "acme", API: acmeOperation(r.URL.Path)}
	if e.API == "newOrder" && r.Method == http.MethodPost {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.Domain, e.Replaces, e.Profile = orderSummary(body)
	}
	if d := a.cfg.Delays[e.API]; d > 0 {
		// Read the request first: the server notices a client that goes
		// away only once the body is consumed.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			e.Outcome, e.Fault = "abandoned", "slow"
			a.journal.Record(e)
			// Abort rather than answer: an empty 200 read by a client still
			// there would look like a broken CA, not a slow one.
			panic(http.ErrAbortHandler)
		}
		e.Fault = "slow"
	}
	rec := &statusRecorder{ResponseWriter: w}
	switch {
	case r.URL.Path == "/order-plz" && r.Method == http.MethodPost && a.limited():
		a.rateLimited(rec, r)
		e.Fault = "rateLimited"
	case managementPath(r.URL.Path):
		a.mgmt.ServeHTTP(rec, r)
	default:
		a.acme.ServeHTTP(rec, r)
	}
	e.Status = rec.status
	e.Outcome = "ok"
	if rec.status >= 400 {
		e.Outcome = "error"
		var prob struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(rec.body.Bytes(), &prob) == nil {
			e.Code = strings.TrimPrefix(prob.Type, "urn:ietf:params:acme:error:")
		}
	}
	a.journal.Record(e)
}

// orderSummary reads, for the journal, what a newOrder asks for from its
// JWS payload (unverified: pebble verifies it): the identifiers, joined by
// commas, the certificate it replaces (ARI) and the profile.
func orderSummary(jws []byte) (identifiers, replaces, profile string) {
	var env struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(jws, &env) != nil {
		return "", "", ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(env.Payload)
	if err != nil {
		return "", "", ""
	}
	var order struct {
		Identifiers []struct {
			Value string `json:"value"`
		} `json:"identifiers"`
		Replaces string `json:"replaces"`
		Profile  string `json:"profile"`
	}
	if json.Unmarshal(raw, &order) != nil {
		return "", "", ""
	}
	var ids []string
	for _, id := range order.Identifiers {
		ids = append(ids, id.Value)
	}
	return strings.Join(ids, ","), order.Replaces, order.Profile
}

// limited counts a new order and reports whether the rate limit refuses it.
func (a *acmeCA) limited() bool {
	if !a.cfg.RateLimit.active() {
		return false
	}
	a.ordersMu.Lock()
	defer a.ordersMu.Unlock()
	a.newOrders++
	return a.cfg.RateLimit.refuses(a.newOrders)
}

// rateLimited answers a refused new order as Let's Encrypt does: 429, a
// rateLimited problem, Retry-After, and a fresh nonce.
func (a *acmeCA) rateLimited(w http.ResponseWriter, r *http.Request) {
	retry := a.cfg.RateLimit.RetryAfter
	if retry <= 0 {
		retry = time.Hour
	}
	// A fresh nonce from pebble, so that the client's next request is good.
	if nreq, err := http.NewRequestWithContext(r.Context(), http.MethodHead, "/nonce-plz", nil); err == nil {
		nreq.Host = r.Host
		nreq.Header.Set("User-Agent", "cloudsim")
		nr := &bodyRecorder{h: http.Header{}}
		a.acme.ServeHTTP(nr, nreq)
		if n := nr.h.Get("Replay-Nonce"); n != "" {
			w.Header().Set("Replay-Nonce", n)
		}
	}
	w.Header().Set("Link", `<https://`+r.Host+`/dir>;rel="index"`)
	w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	b, _ := json.Marshal(map[string]any{
		"type":   "urn:ietf:params:acme:error:rateLimited",
		"detail": "too many new orders recently: see the emulator's acme.rateLimit",
		"status": http.StatusTooManyRequests,
	})
	_, _ = w.Write(b)
}

// ACMEDirectory returns the directory URL of the ACME CA, empty when it
// does not run.
func (s *Sim) ACMEDirectory() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acme == nil {
		return ""
	}
	return s.acme.url + s.acme.dirPath
}

// ACMETrustRoot returns the PEM of the root that signed the ACME CA's
// HTTPS certificate, and the file the emulator wrote it to.
func (s *Sim) ACMETrustRoot() (pemBytes []byte, file string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acme == nil {
		return nil, ""
	}
	return s.acme.tlsRoot, s.acme.rootFile
}

// ACMEIssuerRoot returns the PEM of the root that the ACME CA's issued
// chains lead to, to verify them (also in Endpoints.ACMEIssuerRoot).
func (s *Sim) ACMEIssuerRoot() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acme == nil {
		return nil
	}
	return s.acme.ca.GetRootCert(0).PEM()
}

// SetRenewalWindow makes the ACME CA's renewal information (ARI) for the
// certificate (the first CERTIFICATE of certPEM) suggest the window from
// start to end: a window in the past means "renew now". It goes through
// pebble's management endpoint, as a test against a standalone pebble
// would.
func (s *Sim) SetRenewalWindow(certPEM []byte, start, end time.Time) error {
	s.mu.Lock()
	a := s.acme
	s.mu.Unlock()
	if a == nil {
		return errors.New("cloudsim: the ACME CA is not running")
	}
	blk, _ := pem.Decode(certPEM)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return errors.New("cloudsim: SetRenewalWindow: no certificate")
	}
	ari, _ := json.Marshal(map[string]any{"suggestedWindow": map[string]string{
		"start": start.UTC().Format(time.RFC3339), "end": end.UTC().Format(time.RFC3339)}})
	body, _ := json.Marshal(map[string]string{
		"Certificate": string(pem.EncodeToMemory(blk)),
		"ARIResponse": string(ari),
	})
	req, err := http.NewRequest(http.MethodPost, "/set-renewal-info/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "cloudsim")
	rec := &bodyRecorder{h: http.Header{}}
	a.mgmt.ServeHTTP(rec, req)
	if rec.status != 0 && rec.status != http.StatusOK {
		return fmt.Errorf("cloudsim: SetRenewalWindow: HTTP %d: %s", rec.status, strings.TrimSpace(rec.b.String()))
	}
	return nil
}

// bodyRecorder is a ResponseWriter that keeps status and body.
type bodyRecorder struct {
	h      http.Header
	status int
	b      bytes.Buffer
}

func (r *bodyRecorder) Header() http.Header { return r.h }
func (r *bodyRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.b.Write(b)
}
func (r *bodyRecorder) WriteHeader(code int) { r.status = code }
