package cloudsim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDemoConfig(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "..", "testdata", "sim", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Domains.CDN) != 20 || len(cfg.Domains.VOD) != 5 || len(cfg.Domains.Live) != 5 {
		t.Fatalf("domains: %d cdn, %d vod, %d live", len(cfg.Domains.CDN), len(cfg.Domains.VOD), len(cfg.Domains.Live))
	}
	offline, wildcard := 0, false
	for _, list := range [][]Domain{cfg.Domains.CDN, cfg.Domains.VOD, cfg.Domains.Live} {
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
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := strings.Join(s.Env(), "\n")
	for _, want := range []string{"CERTDROP_CDN_ENDPOINT=http://127.0.0.1:", "CERTDROP_VOD_ENDPOINT=", "CERTDROP_LIVE_ENDPOINT=", "CERTDROP_OSS_ENDPOINT=http://127.0.0.1:", "ALIBABA_CLOUD_ACCESS_KEY_ID=simAK"} {
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

func TestCredentialNeverFormatsSecret(t *testing.T) {
	c := Credential{AccessKeyID: "id", AccessKeySecret: "s3cr3t", SecurityToken: "t0k3n"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, c) + fmt.Sprintf(verb, Config{Credentials: []Credential{c}})
		if strings.Contains(out, "s3cr3t") || strings.Contains(out, "t0k3n") {
			t.Errorf("%s prints a secret: %s", verb, out)
		}
	}
}
