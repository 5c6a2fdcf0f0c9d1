package renew_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/certdrop/certdrop/internal/testutil"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
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
	t      testing.TB
	ctx    context.Context
	sim    *cloudsim.Sim
	st     store.Store
	getenv func(string) string
	env    map[string]string
	logs   *testutil.Buffer

	directory string
	caRoot    *x509.Certificate // the CA's HTTPS root (CERTDROP_ACME_TRUST_ROOTS)
	client    *cloud.Client
	// refuse makes the alidns provider refuse writes to these zones, as a
	// zone certdrop may not write (CNAME delegation).
	refuse map[string]bool
	// leftoversExpected turns off the final check that no TXT record is
	// left (a test of a record the API will not delete).
	leftoversExpected bool
}

type harnessOpts struct {
	zones      []cloudsim.ZoneSettings
	requireEAB bool
	rateLimit  cloudsim.RateLimitSettings
	faults     cloudsim.Faults
	profiles   map[string]time.Duration
	// caDelays hold the CA's answers to these operations.
	caDelays map[string]time.Duration
	// denyActions are the alidns actions the key's RAM policy denies.
	denyActions []string
	// esaSites are the account's ESA sites (dns: esa).
	esaSites []cloudsim.ESASiteSettings
}

func newHarness(t testing.TB, ho harnessOpts) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, logs: &testutil.Buffer{}, refuse: map[string]bool{}}

	zones := ho.zones
	if zones == nil {
		zones = []cloudsim.ZoneSettings{{Name: "example.test"}}
	}
	acmeCfg := cloudsim.ACMESettings{Enabled: true, RateLimit: ho.rateLimit, Profiles: ho.profiles, Delays: ho.caDelays}
	if ho.requireEAB {
		acmeCfg.ExternalAccountBinding = cloudsim.EABSettings{Required: true, Keys: map[string]string{eabKID: eabMAC}}
	}
	sim, env := cloudsimtest.StartEnv(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: simKey, AccessKeySecret: simSecret, DenyActions: ho.denyActions}},
		OSS:         cloudsim.OSSSettings{Buckets: []string{bucket}},
		DNS:         cloudsim.DNSSettings{Zones: zones},
		ESA:         cloudsim.ESASettings{Sites: ho.esaSites},
		ACME:        acmeCfg,
		Faults:      ho.faults,
	})
	h.sim, h.env = sim, env
	var err error
	h.getenv = func(k string) string { return h.env[k] }
	if h.st, err = store.OpenOSS(ctx, bucket, "", store.Options{Getenv: h.getenv}); err != nil {
		t.Fatal(err)
	}
	if h.client, err = cloud.New(cloud.Options{Getenv: h.getenv}); err != nil {
		t.Fatal(err)
	}

	h.directory = sim.ACMEDirectory()
	rootPEM, _ := sim.ACMETrustRoot()
	blk, _ := pem.Decode(rootPEM)
	if h.caRoot, err = x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.assertNoSecrets()
		if !h.leftoversExpected {
			h.assertNoTXTLeft()
		}
	})
	return h
}

// acme counts the CA's successful requests of an operation ("newAccount",
// "newOrder") from the emulator's journal, and the orders' replaces.
func (h *harness) acme(api string) (n int, replaces []string) {
	for _, e := range h.sim.Journal().Entries() {
		if e.Service == "acme" && e.API == api && e.Outcome == "ok" {
			n++
			if e.Replaces != "" {
				replaces = append(replaces, e.Replaces)
			}
		}
	}
	return n, replaces
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
		Roots:              []*x509.Certificate{h.caRoot},
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
		if r.Error != nil {
			fmt.Fprintf(h.logs, "%v %+v\n", r.Error.Unwrap(), r.Error.Unwrap())
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
		secrets = append(secrets, testutil.KeyLines(got.Data)...)
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
