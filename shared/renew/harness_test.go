package renew_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/libdns/libdns"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/renew"
	"github.com/certdrop/certdrop/shared/store"
)

const (
	simKey    = "LTAIrenewtest"
	simSecret = "renew-test-secret-value"
	bucket    = "certs-bucket"
	eabKID    = "kid-1"
	// eabMAC is a base64url HMAC key, as CAs hand them out.
	eabMAC = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
)

// harness runs the whole loop on loopback: the emulator (OSS bucket,
// Alibaba Cloud DNS API, authoritative DNS server) and pebble, an ACME CA
// in process whose validation asks the emulator's DNS server.
type harness struct {
	t      *testing.T
	ctx    context.Context
	sim    *cloudsim.Sim
	st     store.Store
	getenv func(string) string
	env    map[string]string
	logs   *syncBuffer

	caSrv     *httptest.Server
	directory string
	ca        *pebbleStats
	client    *cloud.Client
	// refuse makes the alidns provider refuse writes to these zones, as a
	// zone certdrop may not write (CNAME delegation).
	refuse map[string]bool
	opts   func(*renew.Options)
}

type harnessOpts struct {
	zones      []cloudsim.ZoneSettings
	requireEAB bool
	// wrapCA intercepts the CA's requests (rate limiting).
	wrapCA func(http.Handler) http.Handler
}

// pebbleStats counts what the CA saw.
type pebbleStats struct {
	mu       sync.Mutex
	accounts int
	orders   int
	replaces []string
}

func newHarness(t *testing.T, ho harnessOpts) *harness {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, logs: &syncBuffer{}, ca: &pebbleStats{}, refuse: map[string]bool{}}

	zones := ho.zones
	if zones == nil {
		zones = []cloudsim.ZoneSettings{{Name: "example.test"}}
	}
	sim, err := cloudsim.New(cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: simKey, AccessKeySecret: simSecret}},
		OSS:         cloudsim.OSSSettings{Buckets: []string{bucket}},
		DNS:         cloudsim.DNSSettings{Zones: zones},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	h.sim = sim
	h.env = map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_SECRET": simSecret, "FC_REGION": sim.OSS().Region()}
	for _, kv := range sim.Env() {
		k, v, _ := strings.Cut(kv, "=")
		h.env[k] = v
	}
	h.getenv = func(k string) string { return h.env[k] }
	if h.st, err = store.OpenOSS(ctx, bucket, "", store.Options{Getenv: h.getenv}); err != nil {
		t.Fatal(err)
	}
	if h.client, err = cloud.New(cloud.Options{Getenv: h.getenv}); err != nil {
		t.Fatal(err)
	}

	// pebble, validating through the emulator's DNS server.
	logger := log.New(io.Discard, "", 0)
	pdb := db.NewMemoryStore()
	if ho.requireEAB {
		if err := pdb.AddExternalAccountKeyByID(eabKID, eabMAC); err != nil {
			t.Fatal(err)
		}
	}
	pca := ca.New(logger, pdb, "", "ecdsa", 0, 1, map[string]ca.Profile{
		// One profile: pebble picks a random one for orders without.
		"default": {Description: "90 days"},
	})
	pva := va.New(logger, 0, 0, false, sim.Endpoints().DNS, pdb)
	w := wfe.New(logger, pdb, pva, pca, nil, false, ho.requireEAB, 0, 0)
	var handler http.Handler = h.count(w.Handler())
	if ho.wrapCA != nil {
		handler = ho.wrapCA(handler)
	}
	h.caSrv = httptest.NewTLSServer(handler)
	t.Cleanup(h.caSrv.Close)
	h.directory = h.caSrv.URL + wfe.DirectoryPath

	t.Cleanup(func() { h.assertNoSecrets() })
	return h
}

// count records new accounts, new orders and their "replaces".
func (h *harness) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/order-plz") || strings.HasSuffix(r.URL.Path, "/sign-me-up")) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var jws struct{ Payload string }
			_ = json.Unmarshal(body, &jws)
			payload, _ := base64.RawURLEncoding.DecodeString(jws.Payload)
			var p struct{ Replaces string }
			_ = json.Unmarshal(payload, &p)
			h.ca.mu.Lock()
			if strings.HasSuffix(r.URL.Path, "/order-plz") {
				h.ca.orders++
				if p.Replaces != "" {
					h.ca.replaces = append(h.ca.replaces, p.Replaces)
				}
			} else {
				h.ca.accounts++
			}
			h.ca.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// engine builds an engine on the harness; mutate adjusts its options.
func (h *harness) engine(mutate func(*renew.Options)) *renew.Engine {
	h.t.Helper()
	client := h.client
	inner := renew.NewProviders(h.getenv, func(context.Context) (alidns.Caller, error) { return client, nil })
	opts := renew.Options{
		Store:  h.st,
		Prefix: "certs/",
		Providers: func(ctx context.Context, c manifest.Certificate) (renew.Provider, error) {
			p, err := inner(ctx, c)
			if err != nil {
				return nil, err
			}
			return refusing{p, h.refuse}, nil
		},
		Resolvers:          []string{h.sim.Endpoints().DNS},
		Roots:              []*x509.Certificate{h.caSrv.Certificate()},
		Getenv:             h.getenv,
		PropagationTimeout: 5 * time.Second,
		PollInterval:       50 * time.Millisecond,
		MinOrderTime:       time.Millisecond,
		Logger:             slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&opts)
	}
	e, err := renew.New(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

// refusing is a provider that may not write some zones.
type refusing struct {
	renew.Provider
	refuse map[string]bool
}

func (r refusing) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	if r.refuse[strings.TrimSuffix(zone, ".")] {
		return nil, fmt.Errorf("test: zone %s is not writable", zone)
	}
	return r.Provider.AppendRecords(ctx, zone, recs)
}

func (r refusing) FindZone(ctx context.Context, name string) (string, error) {
	return r.Provider.(renew.ZoneFinder).FindZone(ctx, name)
}

// cert is a manifest certificate on the harness CA.
func (h *harness) cert(name string, domains ...string) manifest.Certificate {
	return manifest.Certificate{Name: name, Domains: domains, Issuer: h.directory, Directory: h.directory,
		Email: "ops@example.test", KeyType: manifest.EC256, DNS: manifest.DNS{Provider: manifest.DNSAlidns}}
}

// run runs the engine and records its results for the secret check.
func (h *harness) run(ctx context.Context, e *renew.Engine, certs []manifest.Certificate, ro renew.RunOptions) []renew.Result {
	h.t.Helper()
	res, err := e.Run(ctx, certs, ro)
	if err != nil {
		h.t.Fatal(err)
	}
	out, _ := json.Marshal(res)
	h.logs.Write(append(out, '\n'))
	for _, r := range res {
		if r.Err != nil {
			fmt.Fprintf(h.logs, "%v %+v\n", r.Err, r.Err)
		}
	}
	return res
}

// bundle reads and parses a written bundle.
func (h *harness) bundle(name string) (*x509.Certificate, []byte) {
	h.t.Helper()
	o, err := h.st.Get(h.ctx, "certs/"+name+"/bundle.pem")
	if err != nil {
		h.t.Fatalf("bundle of %s: %v", name, err)
	}
	blk, _ := pem.Decode(o.Data)
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		h.t.Fatal(err)
	}
	return leaf, o.Data
}

// assertNoTXTLeft checks, from the emulator's state and journal, that
// every TXT record added was deleted.
func (h *harness) assertNoTXTLeft() {
	h.t.Helper()
	for _, z := range h.zones() {
		for _, r := range h.sim.DNSRecords(z) {
			if r.Type == "TXT" && strings.Contains(r.RR, "_acme-challenge") || r.Type == "TXT" && strings.Contains(r.RR, "challenges") {
				h.t.Errorf("TXT record %s left behind in %s", r.Name(), z)
			}
		}
	}
	added, deleted := map[string]bool{}, map[string]bool{}
	for _, e := range h.sim.Journal().Entries() {
		if e.Service != "alidns" || e.Outcome != "ok" {
			continue
		}
		switch e.API {
		case "AddDomainRecord":
			added[e.RecordID] = true
		case "DeleteDomainRecord":
			deleted[e.RecordID] = true
		}
	}
	for id := range added {
		if !deleted[id] {
			h.t.Errorf("the journal shows record %s added and never deleted", id)
		}
	}
}

func (h *harness) zones() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "alidns" && e.Domain != "" && !seen[e.Domain] {
			seen[e.Domain] = true
			out = append(out, e.Domain)
		}
	}
	return out
}

// journalCount counts successful alidns calls of an action.
func (h *harness) journalCount(api, domain string) int {
	n := 0
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "alidns" && e.API == api && e.Outcome == "ok" && (domain == "" || e.Domain == domain) {
			n++
		}
	}
	return n
}

// assertNoSecrets checks that no log line, result or error holds a
// private key (the certificate keys written, the account key) or the
// credentials.
func (h *harness) assertNoSecrets() {
	out := h.logs.String()
	secrets := []string{simSecret, eabMAC, "PRIVATE KEY"}
	objs, _ := h.st.List(context.Background(), "")
	for _, o := range objs {
		got, err := h.st.Get(context.Background(), o.Key)
		if err != nil {
			continue
		}
		secrets = append(secrets, keyLines(got.Data)...)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			h.t.Errorf("logs or results contain secret material %.12q…", s)
		}
	}
	for _, e := range h.sim.Journal().Entries() {
		j, _ := json.Marshal(e)
		for _, s := range secrets[3:] {
			if strings.Contains(string(j), s) {
				h.t.Errorf("the emulator's journal holds key material")
			}
		}
	}
}

// keyLines returns the base64 lines of every private key in data (PEM or
// inside the account JSON).
func keyLines(data []byte) []string {
	text := strings.ReplaceAll(string(data), `\n`, "\n")
	var out []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(strings.Trim(l, `",`))
		switch {
		case strings.Contains(l, "BEGIN") && strings.Contains(l, "PRIVATE KEY"):
			in = true
		case strings.Contains(l, "END") && strings.Contains(l, "PRIVATE KEY"):
			in = false
		case in && len(l) >= 16:
			out = append(out, l)
		}
	}
	return out
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
