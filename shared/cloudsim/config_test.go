package cloudsim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadDemoConfig(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "..", "testdata", "sim", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Domains.CDN) != 20 || len(cfg.Domains.VOD) != 5 || len(cfg.Domains.Live) != 5 || len(cfg.Domains.DCDN) != 3 {
		t.Fatalf("domains: %d cdn, %d vod, %d live, %d dcdn", len(cfg.Domains.CDN), len(cfg.Domains.VOD), len(cfg.Domains.Live), len(cfg.Domains.DCDN))
	}
	offline, wildcard := 0, false
	for _, list := range [][]Domain{cfg.Domains.CDN, cfg.Domains.VOD, cfg.Domains.Live, cfg.Domains.DCDN} {
		for _, d := range list {
			if d.State == StateOffline {
				offline++
			}
			if !strings.HasSuffix(d.Name, "certdrop-demo.test") {
				t.Errorf("domain %s is not under certdrop-demo.test", d.Name)
			}
			wildcard = wildcard || d.Name == ".certdrop-demo.test"
		}
	}
	if offline != 1 || !wildcard {
		t.Fatalf("%d offline domains, wildcard %v", offline, wildcard)
	}
	if len(cfg.Credentials) != 1 || cfg.Credentials[0].AccessKeyID != "simAK" || cfg.Credentials[0].AccessKeySecret != "simSK" {
		t.Fatalf("credentials: %v", cfg.Credentials)
	}
	s := startSim(t, cfg)
	env := strings.Join(s.Env(), "\n")
	for _, want := range []string{"CERTDROP_CDN_ENDPOINT=http://127.0.0.1:", "CERTDROP_VOD_ENDPOINT=", "CERTDROP_LIVE_ENDPOINT=", "CERTDROP_OSS_ENDPOINT=http://127.0.0.1:", "ALIBABA_CLOUD_ACCESS_KEY_ID=simAK",
		"CERTDROP_DCDN_ENDPOINT=http://127.0.0.1:", "CERTDROP_CAS_ENDPOINT=http://127.0.0.1:", "CERTDROP_CAS_AP_SOUTHEAST_1_ENDPOINT=http://127.0.0.1:"} {
		if !strings.Contains(env, want) {
			t.Errorf("Env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "simSK") {
		t.Errorf("Env prints the secret")
	}
}

func TestLoadConfigRejectsMistakes(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"typo", "credentialz: []", "field credentialz not found"},
		{"public listener", "openapiAddr: 0.0.0.0:8080", "not a loopback address"},
		{"cdn wildcard with star", "domains: {cdn: [{name: '*.example.com'}]}", `names a wildcard domain ".example.com"`},
		{"bad state", "domains: {vod: [{name: a.example.com, state: down}]}", "state must be"},
		{"duplicate domain", "domains: {live: [{name: a.example.com}, {name: A.example.com}]}", "duplicate domain"},
		{"unknown quota", "quotas: {SetNothing: 3}", "unknown action"},
		{"zero quota", "quotas: {SetCdnDomainSSLCertificate: 0}", "refuse every call"},
		{"rate over 1", "faults: {errorRate: 1.5}", "between 0 and 1"},
		{"script without code", "faults: {scripted: [{domain: a.example.com}]}", "code is required"},
		{"seed without certificate", "domains: {cdn: [{name: a.example.com, installed: {certName: x}}]}", "needs cert"},
		{"credential without secret", "credentials: [{accessKeyId: a}]", "accessKeySecret are required"},
		{"missing cert file", "domains: {cdn: [{name: a.example.com, installed: {certName: x, certFile: nope.pem}}]}", "nope.pem"},
		{"dns zone typo", "dns: {zones: [{name: a.test, propagaton: 1s}]}", "field propagaton not found"},
		{"dns record", "dns: {zones: [{name: a.test, records: [{rr: www, type: A, value: x}]}]}", "IPv4"},
		{"dns days", "dns: {zones: [{name: a.test, propagation: 1d}]}", "1d"},
		{"acme public", "acme: {enabled: true, addr: '[::]:14000'}", "not a loopback"},
		{"acme eab", "acme: {externalAccountBinding: {required: true}}", "without keys"},
		{"scoped key", "credentials: [{accessKeyId: a, accessKeySecret: b, dnsZonez: [a.test]}]", "field dnsZonez not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "sim.yaml")
			if err := os.WriteFile(p, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfigSeedsFromCertFile(t *testing.T) {
	dir := t.TempDir()
	p := validPair(t, "www.example.test")
	if err := os.WriteFile(filepath.Join(dir, "old.pem"), []byte(p.cert), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "credentials: [{accessKeyId: a, accessKeySecret: b}]\noss: {disabled: true}\n" +
		"domains: {cdn: [{name: www.example.test, installed: {certName: old, certFile: old.pem, https: false}}]}\n"
	if err := os.WriteFile(filepath.Join(dir, "sim.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "sim.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.Installed(ProductCDN, "www.example.test")
	if !ok || got.CertName != "old" || got.HTTPS || got.NotAfter.Unix() != p.notAfter.Unix() || got.Fingerprint == "" {
		t.Fatalf("seeded: %+v", got)
	}
}

func TestLoadConfigDNSAndACME(t *testing.T) {
	dir := t.TempDir()
	yaml := `
credentials: [{accessKeyId: a, accessKeySecret: b, dnsZones: [example.test]}]
oss: {disabled: true}
dns:
  addr: 127.0.0.1:0
  nameServers: [ns1.sim.test, ns2.sim.test]
  writeSettle: 200ms
  zones:
    - name: example.test
      edition: enterprise
      propagation: 2s
      records:
        - {rr: _acme-challenge.www, type: CNAME, value: _acme-challenge.www.delegated.test.}
    - {name: delegated.test, unpublished: true}
    - {name: elsewhere.test, external: true}
acme:
  enabled: true
  trustRootFile: root.pem
  certificateLifetime: 240h
  profiles: {shortlived: 160h}
  externalAccountBinding: {required: true, keys: {kid-1: c2VjcmV0LWtleQ}}
  rateLimit: {after: 2, times: 1, retryAfter: 30m}
  validationDelay: 1s
  badNonceRate: 5
  authzReuse: 50
`
	if err := os.WriteFile(filepath.Join(dir, "sim.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "sim.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, a := cfg.DNS, cfg.ACME
	if len(d.Zones) != 3 || d.Zones[0].Propagation != 2*time.Second || !d.Zones[1].Unpublished || !d.Zones[2].External ||
		d.Zones[0].Edition != EditionEnterprise || d.WriteSettle != 200*time.Millisecond || len(d.NameServers) != 2 ||
		d.Zones[0].Records[0].Value != "_acme-challenge.www.delegated.test." || cfg.Credentials[0].DNSZones[0] != "example.test" {
		t.Fatalf("dns: %+v", d)
	}
	if !a.Enabled || a.TrustRootFile != filepath.Join(dir, "root.pem") || a.CertificateLifetime != 240*time.Hour ||
		a.Profiles["shortlived"] != 160*time.Hour || !a.ExternalAccountBinding.Required || a.ExternalAccountBinding.Keys["kid-1"] != "c2VjcmV0LWtleQ" ||
		a.RateLimit != (RateLimitSettings{After: 2, Times: 1, RetryAfter: 30 * time.Minute}) || a.ValidationDelay != time.Second ||
		a.BadNonceRate != 5 || a.AuthzReuse != 50 {
		t.Fatalf("acme: %+v", a)
	}
	startSim(t, cfg)
	if b, err := os.ReadFile(filepath.Join(dir, "root.pem")); err != nil || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Fatalf("trust root file: %v", err)
	}
}

func TestCredentialNeverFormatsSecret(t *testing.T) {
	c := Credential{AccessKeyID: "id", AccessKeySecret: "s3cr3t", SecurityToken: "t0k3n"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, c) + fmt.Sprintf(verb, Config{Credentials: []Credential{c}})
		if strings.Contains(out, "s3cr3t") || strings.Contains(out, "t0k3n") {
			t.Errorf("%s prints a secret: %s", verb, out)
		}
	}
}
