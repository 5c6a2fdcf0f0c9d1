//go:build !fc

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// renewEnv starts the emulator (the zone example.test, its ACME CA) and
// returns the environment and a manifest asking for one certificate.
func renewEnv(t *testing.T) (env map[string]string, manifestPath string) {
	env, manifestPath, _ = renewEnvOSS(t)
	return env, manifestPath
}

// renewEnvOSS is renewEnv with the emulator's OSS serving the bucket
// "renew-bucket".
func renewEnvOSS(t *testing.T) (env map[string]string, manifestPath string, sim *cloudsim.Sim) {
	t.Helper()
	sim, env = cloudsimtest.StartEnv(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "LTAIcli", AccessKeySecret: "cli-secret-value"}},
		OSS:         cloudsim.OSSSettings{Buckets: []string{"renew-bucket"}},
		DNS:         cloudsim.DNSSettings{Zones: []cloudsim.ZoneSettings{{Name: "example.test"}}},
		ACME:        cloudsim.ACMESettings{Enabled: true},
	})
	_, rootFile := sim.ACMETrustRoot()
	env["CERTDROP_ACME_TRUST_ROOTS"] = rootFile
	manifestPath = filepath.Join(t.TempDir(), "manifest.yaml")
	m := "version: 1\ntargets: [{product: cdn, domain: www.example.test}]\ncertificates:\n" +
		"  - {name: www, domains: [www.example.test], issuer: \"" + sim.ACMEDirectory() + "\", dns: alidns}\n"
	if err := os.WriteFile(manifestPath, []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	return env, manifestPath, sim
}

func TestRenewCommand(t *testing.T) {
	env, mf := renewEnv(t)
	out := t.TempDir()

	code, stdout, stderr := runWithEnv(env, "renew", "--manifest", mf, "--out", out, "--dry-run")
	if code != exitOK || !strings.Contains(stdout, "due (no_bundle), not renewed: dry_run") {
		t.Fatalf("dry run: %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "www", "bundle.pem")); err == nil {
		t.Fatal("a dry run wrote a bundle")
	}

	code, stdout, stderr = runWithEnv(env, "renew", "--manifest", mf, "--out", out)
	if code != exitOK || !strings.Contains(stdout, "renewed (no_bundle)") {
		t.Fatalf("renew: %d\n%s\n%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "www", "bundle.pem"))
	if err != nil || !strings.Contains(string(data), "BEGIN EC PRIVATE KEY") {
		t.Fatalf("bundle: %v", err)
	}
	for _, s := range []string{stdout, stderr} {
		if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, "cli-secret-value") {
			t.Errorf("output holds a secret:\n%s", s)
		}
	}
	fi, err := os.Stat(filepath.Join(out, "www", "bundle.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode %v, want 0600", fi.Mode().Perm())
	}

	code, stdout, _ = runWithEnv(env, "renew", "--manifest", mf, "--out", out, "--json")
	if code != exitOK || !strings.Contains(stdout, `"reason": "not_due"`) {
		t.Fatalf("second run: %d\n%s", code, stdout)
	}
}

func TestRenewCommandUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"renew"}, "name the manifest"},
		{[]string{"renew", "--manifest", example}, "name where bundles go"},
		{[]string{"renew", "--manifest", example, "--out", t.TempDir()}, "has no certificates section"},
		{[]string{"renew", "--manifest", "nope.yaml", "--out", t.TempDir()}, "nope.yaml"},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: %d %s", tt.args, code, stderr)
		}
	}
	env, mf := renewEnv(t)
	code, _, stderr := runWithEnv(env, "renew", "--manifest", mf, "--out", t.TempDir(), "--name", "nope")
	if code != exitUsage || !strings.Contains(stderr, `no certificate named "nope"`) {
		t.Errorf("--name nope: %d %s", code, stderr)
	}
}

// TestRenewCommandOSS: manifest and output in the bucket; the bundle lands
// under the prefix, the account and state at the bucket's root.
func TestRenewCommandOSS(t *testing.T) {
	env, mf, sim := renewEnvOSS(t)
	data, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenOSS(context.Background(), "renew-bucket", "", store.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), "certdrop/manifest.yaml", data, ""); err != nil {
		t.Fatal(err)
	}
	env["CERTDROP_MANIFEST"] = "oss://renew-bucket/certdrop/manifest.yaml"
	env["CERTDROP_BUCKET"] = "renew-bucket"
	code, stdout, stderr := runWithEnv(env, "renew")
	if code != exitOK || !strings.Contains(stdout, "written to certs/www/bundle.pem") {
		t.Fatalf("%d\n%s\n%s", code, stdout, stderr)
	}
	keys := map[string]bool{}
	for _, e := range sim.Journal().Entries() {
		if e.Service == "oss" && e.API == "PutObject" && e.Outcome == "ok" {
			keys[strings.SplitN(e.Key, "/", 3)[0]+"/"+strings.SplitN(e.Key, "/", 3)[1]] = true
		}
	}
	delete(keys, "certdrop/manifest.yaml") // the test's own upload
	if !keys["certs/www"] || !keys["certdrop/acme"] || len(keys) != 2 {
		t.Errorf("objects written: %v", keys)
	}
}

// An oss:// location names its key as written: '%' and '#' are part of
// an object key, not URL escapes or a fragment.
func TestReadLocationKeyAsWritten(t *testing.T) {
	env, _, _ := renewEnvOSS(t)
	getenv := func(k string) string { return env[k] }
	st, err := store.OpenOSS(context.Background(), "renew-bucket", "", store.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"certdrop/m%41nifest.yaml", "certdrop/manifest#2.yaml"} {
		want := "version: 1 # " + key
		if err := st.Put(context.Background(), key, []byte(want), "text/yaml"); err != nil {
			t.Fatal(err)
		}
		got, err := readLocation(context.Background(), &cli{getenv: getenv}, "oss://renew-bucket/"+key)
		if err != nil || string(got) != want {
			t.Errorf("readLocation(oss://renew-bucket/%s) = %q, %v; want %q", key, got, err, want)
		}
	}
	if _, err := readLocation(context.Background(), &cli{getenv: getenv}, "oss://renew-bucket/"); err == nil {
		t.Error("readLocation of a bucket without a key: no error")
	}
}

// TestRenewCommandNotRenewed: a due certificate that could not be renewed
// fails the command, on the run that failed and on every run the back-off
// then holds it back, as the function alerts both; --json carries the
// error as the function's outcome does (code, message, hint, transient).
func TestRenewCommandNotRenewed(t *testing.T) {
	sim, env := cloudsimtest.StartEnv(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "LTAIcli", AccessKeySecret: "cli-secret-value"}},
		OSS:         cloudsim.OSSSettings{Buckets: []string{"renew-bucket"}},
		DNS:         cloudsim.DNSSettings{Zones: []cloudsim.ZoneSettings{{Name: "example.test"}, {Name: "elsewhere.test", External: true}}},
		ACME:        cloudsim.ACMESettings{Enabled: true},
	})
	_, rootFile := sim.ACMETrustRoot()
	env["CERTDROP_ACME_TRUST_ROOTS"] = rootFile
	mf := filepath.Join(t.TempDir(), "manifest.yaml")
	m := "version: 1\ntargets: [{product: cdn, domain: www.elsewhere.test}]\ncertificates:\n" +
		"  - {name: away, domains: [www.elsewhere.test], issuer: \"" + sim.ACMEDirectory() + "\", dns: alidns}\n"
	if err := os.WriteFile(mf, []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()

	code, stdout, stderr := runWithEnv(env, "renew", "--manifest", mf, "--out", out, "--json")
	var res []struct {
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res) != 1 {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	var e report.Error
	dec := json.NewDecoder(bytes.NewReader(res[0].Error))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Code != "NoDNSZone" || e.Hint == "" || !strings.Contains(e.Message, "www.elsewhere.test") {
		t.Errorf("error %s is not the outcome's error (%v)", res[0].Error, err)
	}
	if code != exitFail {
		t.Errorf("failed renewal: exit %d, want %d\n%s", code, exitFail, stderr)
	}

	code, stdout, _ = runWithEnv(env, "renew", "--manifest", mf, "--out", out)
	if code != exitFail || !strings.Contains(stdout, "not renewed: backoff") {
		t.Errorf("held back by the back-off: exit %d, want %d\n%s", code, exitFail, stdout)
	}
}
