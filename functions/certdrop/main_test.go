package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/product/live"
)

const (
	bundles = "../../testdata/bundles/"
	root    = bundles + "demo-root.pem"
	example = "../../testdata/manifests/example.yaml"
)

// runCLI runs the command line with its own streams and an empty
// environment.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), &cli{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, args)
	return code, out.String(), errb.String()
}

// runWithEnv runs the command line with its own streams and env as the
// environment.
func runWithEnv(env map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), &cli{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}, args)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdoutHas  []string
		stderrHas  []string
		stdoutLack []string
	}{
		{"schema", []string{"schema"}, exitOK, []string{`"$schema"`, `"targets"`}, nil, nil},
		{"no command", nil, exitUsage, []string{"Usage: certdrop <command>"}, nil, nil},
		{"help", []string{"--help"}, exitOK, []string{"validate", "plan", "deploy", "serve"}, nil, nil},
		{"unknown command", []string{"frobnicate"}, exitUsage, nil, []string{`unknown command "frobnicate"`}, nil},
		{"validate help", []string{"validate", "--help"}, exitOK, []string{"Usage: certdrop validate", "  --trust-roots FILE  "}, nil, nil},
		{"version", []string{"--version"}, exitOK, []string{"certdrop ", "linux/"}, nil, nil},
		{"validate no files", []string{"validate"}, exitUsage, nil, []string{"name at least one bundle"}, nil},
		{"validate missing file", []string{"validate", "nope.pem"}, exitUsage, nil, []string{"nope.pem"}, nil},
		{"validate bad flag", []string{"validate", "--frob", bundles + "pkcs8"}, exitUsage, nil, []string{"certdrop validate: flag provided but not defined: --frob", "Run 'certdrop validate --help'"}, nil},
		{
			"validate acme.sh folder", []string{"validate", bundles + "acme.sh", "--trust-roots", root, "--domain", "www.example.com"}, exitOK,
			[]string{"Names (SAN):  example.com, www.example.com", "Key:          ECDSA-P256", "www.example.com                          covered", "Verdict:      valid",
				"1. example.com", "2. certdrop Demo Intermediate CA"}, nil, []string{"PRIVATE KEY"},
		},
		{
			"validate certbot folder, flags after files", []string{"validate", bundles + "certbot", "--trust-roots", root}, exitOK,
			[]string{"Verdict:      valid"}, nil, nil,
		},
		{
			"validate a domain not covered", []string{"validate", bundles + "wildcard", "--trust-roots", root, "--domain", "a.example.com", "--domain", "a.b.example.com"}, exitFail,
			[]string{"a.example.com                            covered", "a.b.example.com                          NOT covered", "INVALID: the certificate does not cover a.b.example.com"}, nil, nil,
		},
		{"validate unknown private root", []string{"validate", bundles + "pkcs1"}, exitFail, []string{"INVALID", "neither in the bundle nor a trusted root", "What to do:"}, nil, nil},
		{"validate untrusted root in the bundle", []string{"validate", bundles + "reversed-chain"}, exitFail, []string{"INVALID", "does not verify"}, nil, nil},
		{"validate allow untrusted", []string{"validate", bundles + "reversed-chain", "--allow-untrusted"}, exitOK, []string{"Warning:", "allowed by allowUntrusted", "Verdict:      valid"}, nil, nil},
		{"validate expired", []string{"validate", bundles + "expired", "--trust-roots", root}, exitFail, []string{"INVALID", "expired", "renew"}, nil, nil},
		{"validate encrypted", []string{"validate", bundles + "encrypted-key", "--trust-roots", root}, exitFail, []string{"INVALID", "decrypt"}, nil, []string{"BEGIN"}},
		{"validate mismatched", []string{"validate", bundles + "mismatched", "--trust-roots", root}, exitFail, []string{"INVALID", "matches none"}, nil, nil},
		{
			"plan", []string{"plan", "--bundle", bundles + "certbot", "--manifest", example, "--trust-roots", root}, exitOK,
			[]string{"PLAN (nothing is called): deploy example.com to 1 target(s)", "cdn: 1 call(s) to SetCdnDomainSSLCertificate (2018-05-10), quota 30/s",
				"www.example.com", "SSLPri=<redacted>", "Lower bound at the documented quotas: 33ms"}, nil, []string{"PRIVATE KEY"},
		},
		{
			"plan with key applies bundle prefixes", []string{"plan", "--bundle", bundles + "certbot", "--manifest", example, "--trust-roots", root, "--key", "certs/example.com/fullchain.pem"}, exitOK,
			[]string{"not covered", "pull.example.com"}, nil, nil,
		},
		{
			"plan says cdn-legacy is deprecated", []string{"plan", "--bundle", bundles + "certbot", "--manifest", "../../testdata/manifests/cas.yaml", "--trust-roots", root}, exitOK,
			[]string{"notice    ../../testdata/manifests/cas.yaml:19: product cdn-legacy calls SetDomainServerCertificate, which the vendor has deprecated", "move the target to product: cdn"}, nil, nil,
		},
		{
			"validate --manifest says cdn-legacy is deprecated", []string{"validate", bundles + "certbot", "--trust-roots", root, "--manifest", "../../testdata/manifests/cas.yaml"}, exitOK,
			[]string{"cas.yaml:19: product cdn-legacy calls SetDomainServerCertificate, which the vendor has deprecated", "Verdict:      valid"}, nil, nil,
		},
		{"validate --manifest invalid", []string{"validate", bundles + "certbot", "--trust-roots", root, "--manifest", "../../testdata/manifests/invalid/negative.yaml"}, exitUsage, nil, []string{"negative.yaml:"}, nil},
		{"plan untrusted is bad input", []string{"plan", "--bundle", bundles + "certbot", "--manifest", example}, exitUsage, nil, []string{"invalid bundle", "neither in the bundle nor a trusted root"}, nil},
		{"plan needs a manifest", []string{"plan", "--bundle", bundles + "certbot"}, exitUsage, nil, []string{"--bundle and --manifest are required"}, nil},
		{
			"plan invalid manifest", []string{"plan", "--bundle", bundles + "certbot", "--manifest", "../../testdata/manifests/invalid/negative.yaml"}, exitUsage,
			nil, []string{"negative.yaml:"}, nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errs)
			}
			for _, s := range tt.stdoutHas {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.stderrHas {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
			for _, s := range tt.stdoutLack {
				if strings.Contains(out, s) || strings.Contains(errs, s) {
					t.Errorf("output contains %q", s)
				}
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	code, out, _ := runCLI(t, "validate", "--json", bundles+"reversed-chain", "--trust-roots", root, "--domain", "example.com")
	var all validateOutput
	if err := json.Unmarshal([]byte(out), &all); err != nil || len(all.Bundles) != 1 {
		t.Fatalf("not one bundle: %v\n%s", err, out)
	}
	res := all.Bundles[0]
	if code != exitOK || !res.Valid || len(res.Chain) != 3 || res.Bundle == nil || len(res.Bundle.Fingerprint) != 64 ||
		len(res.Domains) != 1 || !res.Domains[0].Covered || res.Error != nil {
		t.Errorf("exit %d, result %+v", code, res)
	}
}

func TestPlanJSON(t *testing.T) {
	code, out, errs := runCLI(t, "plan", "--json", "--bundle", bundles+"sec1", "--manifest", example, "--trust-roots", root)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var all planOutputs
	if err := json.Unmarshal([]byte(out), &all); err != nil || len(all.Bundles) != 1 {
		t.Fatalf("not one bundle: %v\n%s", err, out)
	}
	p := all.Bundles[0]
	if len(p.Calls) != 1 || p.Calls[0].Action != "SetCdnDomainSSLCertificate" || p.Calls[0].Domain != "www.example.com" {
		t.Fatalf("calls = %+v", p.Calls)
	}
	if strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("the output holds the key:\n%s", out)
	}
	redacted := false
	for _, prm := range p.Calls[0].Params {
		if prm.Name == "SSLPri" {
			redacted = prm.Value == "<redacted>"
		}
	}
	if !redacted || !strings.Contains(out, `"value": "<redacted>"`) {
		t.Errorf("SSLPri is not shown as <redacted>:\n%s", out)
	}
}

// TestVersion: --version names the version make sets (-X main.version),
// else the module's; a build without either says (devel).
func TestVersion(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}, {Key: "-tags", Value: "fc"},
	}}
	for _, tt := range []struct {
		set  string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"", info, true, "certdrop v1.2.3 (commit 0123456789ab, modified, tags fc, go"},
		{"v9.9.9", info, true, "certdrop v9.9.9 (commit"},
		{"", nil, false, "certdrop (devel) (go"},
	} {
		got := versionString(tt.set, tt.info, tt.ok)
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("version %q: got %q, want prefix %q", tt.set, got, tt.want)
		}
	}
}

// TestPlanEndpoints: the plan shows where the calls would go under the
// environment's overrides, and refuses one that would send keys in clear.
func TestPlanEndpoints(t *testing.T) {
	args := []string{"plan", "--bundle", bundles + "certbot", "--manifest", example, "--trust-roots", root}
	code, out, _ := runWithEnv(map[string]string{"CERTDROP_CDN_ENDPOINT": "http://127.0.0.1:8080"}, args...)
	if code != exitOK || !strings.Contains(out, "www.example.com                      http://127.0.0.1:8080") {
		t.Errorf("exit %d\n%s", code, out)
	}
	code, _, errs := runWithEnv(map[string]string{"CERTDROP_CDN_ENDPOINT": "http://cdn.example.com"}, args...)
	if code != exitUsage || !strings.Contains(errs, "plain http is allowed only to a loopback host") {
		t.Errorf("exit %d\n%s", code, errs)
	}
}

// TestPlanLiveByUpload: a live target with delivery: cas is planned as an
// upload (the key in its Set call), and plan says why, in text and JSON.
func TestPlanLiveByUpload(t *testing.T) {
	m := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(m, []byte("version: 1\ndefaults: {delivery: cas}\ntargets:\n  - {product: live, domain: www.example.com}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "plan", "--bundle", bundles+"certbot", "--manifest", m, "--trust-roots", root)
	if code != exitOK || !strings.Contains(out, "notice    live targets with delivery: cas are delivered by upload") ||
		!strings.Contains(out, "CertType=upload SSLProtocol=on") || !strings.Contains(out, "SSLPri=<redacted>") || strings.Contains(out, "CAS       cn-hangzhou") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCLI(t, "plan", "--json", "--bundle", bundles+"certbot", "--manifest", m, "--trust-roots", root)
	var got planOutputs
	if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil || len(got.Bundles) != 1 ||
		len(got.Bundles[0].Notices) != 1 || got.Bundles[0].Notices[0] != live.ByUpload {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
}
