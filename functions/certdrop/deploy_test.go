//go:build !fc

package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/fcruntime"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
	"github.com/certdrop/certdrop/shared/product/all"
	"github.com/certdrop/certdrop/shared/product/cdn"
	"github.com/certdrop/certdrop/shared/report"
)

// deployEnv starts the emulator with a few domains (one offline) and
// writes a bundle, its root and a manifest; it returns the environment
// and the paths.
func deployEnv(t *testing.T) (env map[string]string, sim *cloudsim.Sim, bundleDir, root, manifestPath string) {
	t.Helper()
	sim, env = cloudsimtest.StartEnv(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "cliAK", AccessKeySecret: "cliSK"}},
		Domains: cloudsim.Domains{
			CDN:  []cloudsim.Domain{{Name: "www.example.test"}, {Name: ".example.test"}, {Name: "old.example.test", State: "offline"}},
			Live: []cloudsim.Domain{{Name: "pull.example.test"}},
		},
		OSS: cloudsim.OSSSettings{Disabled: true},
	})
	dir := t.TempDir()
	bundleDir, root = filepath.Join(dir, "example.test"), filepath.Join(dir, "root.pem")
	if err := gencert(bundleDir, root, []string{"example.test", "*.example.test"}, 30, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	manifestPath = filepath.Join(dir, "manifest.yaml")
	m := "version: 1\ntargets:\n  - product: cdn\n    domains: [www.example.test, \"*.example.test\"]\n  - product: live\n    domain: pull.example.test\n"
	if err := os.WriteFile(manifestPath, []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	return env, sim, bundleDir, root, manifestPath
}

func setCalls(sim *cloudsim.Sim) int {
	n := 0
	for _, e := range sim.Journal().Entries() {
		if strings.HasPrefix(e.API, "Set") {
			n++
		}
	}
	return n
}

func TestDeploy(t *testing.T) {
	env, sim, bundleDir, root, manifestPath := deployEnv(t)

	// A dry run describes and sets nothing.
	code, out, errs := runWithEnv(env, "deploy", "--bundle", bundleDir, "--manifest", manifestPath, "--trust-roots", root, "--dry-run", "--json")
	var dep deployOutput
	if err := json.Unmarshal([]byte(out), &dep); err != nil || code != exitOK || len(dep.Bundles) != 1 || !dep.Bundles[0].DryRun ||
		dep.Bundles[0].Summary.Planned != 3 || setCalls(sim) != 0 {
		t.Fatalf("dry run: exit %d, %+v, %d Set calls, %v\n%s%s", code, dep, setCalls(sim), err, out, errs)
	}

	code, out, errs = runWithEnv(env, "deploy", "--bundle", bundleDir, "--manifest", manifestPath, "--trust-roots", root)
	if code != exitOK || !strings.Contains(out, "OK: 3 deployed of 3 target(s)") || !strings.Contains(errs, "progress: 3/3 targets") {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runWithEnv(env, "deploy", "--bundle", bundleDir, "--manifest", manifestPath, "--trust-roots", root)
	if code != exitOK || !strings.Contains(out, "OK: 3 unchanged of 3 target(s)") || setCalls(sim) != 3 {
		t.Fatalf("second deploy: exit %d, %d Set calls\n%s", code, setCalls(sim), out)
	}

	// The offline domain fails the run: exit 1, with the API's code and a hint.
	withOld := manifestPath + ".old.yaml"
	m, _ := os.ReadFile(manifestPath)
	if err := os.WriteFile(withOld, append(m, "  - product: cdn\n    domain: old.example.test\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	var hooks []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks = append(hooks, string(b))
	}))
	defer hook.Close()
	env["CERTDROP_WEBHOOK_URL"], env["CERTDROP_WEBHOOK_FORMAT"] = hook.URL+"/robot?token=t", "slack"
	code, out, _ = runWithEnv(env, "deploy", "--bundle", bundleDir, "--manifest", withOld, "--trust-roots", root)
	if code != exitFail || !strings.Contains(out, "InvalidDomain.Offline") || !strings.Contains(out, "FAILED: 3 unchanged, 1 failed") {
		t.Fatalf("offline domain: exit %d\n%s", code, out)
	}
	if len(hooks) != 1 || !strings.Contains(hooks[0], `"text":"certdrop cli`) || !strings.Contains(hooks[0], "old.example.test") {
		t.Errorf("webhook got %q", hooks)
	}
}

// TestDeployCoversNoTarget: a certificate that covers no target is not
// reported as success over an empty table: deploy says, as plan does,
// which names it has and which targets it does not cover, and calls
// nothing.
func TestDeployCoversNoTarget(t *testing.T) {
	env, sim, _, root, manifestPath := deployEnv(t)
	other := filepath.Join(t.TempDir(), "other.test")
	if err := gencert(other, root+".other", []string{"other.test"}, 30, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runWithEnv(env, "deploy", "--bundle", other, "--manifest", manifestPath, "--trust-roots", root+".other")
	for _, want := range []string{"no target in the manifest is covered by this certificate", "names: other.test", "cdn www.example.test", "live pull.example.test"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if code != exitUsage || strings.Contains(out, "OK") || len(sim.Journal().Entries()) != 0 {
		t.Errorf("exit %d, %d calls, stdout:\n%s\nstderr:\n%s", code, len(sim.Journal().Entries()), out, errs)
	}
}

func TestDeployBadInput(t *testing.T) {
	env, sim, bundleDir, root, manifestPath := deployEnv(t)
	noCreds := map[string]string{}
	for k, v := range env {
		if !strings.HasPrefix(k, "ALIBABA_CLOUD_") {
			noCreds[k] = v
		}
	}
	noCreds["HOME"] = t.TempDir() // no CLI profile either
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		errHas string
	}{
		{"untrusted bundle", env, []string{"deploy", "--bundle", bundleDir, "--manifest", manifestPath}, "invalid bundle"},
		{"missing manifest", env, []string{"deploy", "--bundle", bundleDir, "--manifest", "nope.yaml", "--trust-roots", root}, "nope.yaml"},
		{"no credentials", noCreds, []string{"deploy", "--bundle", bundleDir, "--manifest", manifestPath, "--trust-roots", root}, "no Alibaba Cloud credentials"},
		{"plain http to a remote host", map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "cliAK", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "cliSK",
			"CERTDROP_CDN_ENDPOINT": "http://cdn.example.com"}, []string{"deploy", "--bundle", bundleDir, "--manifest", manifestPath, "--trust-roots", root}, "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runWithEnv(tt.env, tt.args...)
			if code != exitUsage || !strings.Contains(errs, tt.errHas) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, errs, tt.errHas)
			}
			if strings.Contains(errs, "cliSK") {
				t.Error("stderr shows the secret")
			}
		})
	}
	if len(sim.Journal().Entries()) != 0 {
		t.Errorf("bad input made %d calls", len(sim.Journal().Entries()))
	}
}

func TestInvokeLocally(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"hello":"world"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Without CERTDROP_BUCKET the function does not run.
	if code, _, errs := runWithEnv(map[string]string{}, "invoke", "--event", bad); code != exitUsage || !strings.Contains(errs, "CERTDROP_BUCKET is not set") {
		t.Errorf("no bucket: exit %d %s", code, errs)
	}
	code, out, _ := runWithEnv(map[string]string{"CERTDROP_BUCKET": "certs-bucket"}, "invoke", "--event", bad, "--request-id", "r-1")
	var o struct {
		RequestID string
		Error     *report.Error
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil || code != exitFail || o.RequestID != "r-1" || o.Error == nil || o.Error.Code != "BadEvent" {
		t.Errorf("exit %d, %v\n%s", code, err, out)
	}
	// An event over the size cap is read no further and answered as the
	// function answers it: a bad event.
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"events":[`+strings.Repeat(" ", fcruntime.MaxEventSize)+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runWithEnv(map[string]string{"CERTDROP_BUCKET": "certs-bucket"}, "invoke", "--event", big)
	o.Error = nil
	if err := json.Unmarshal([]byte(out), &o); err != nil || code != exitFail || o.Error == nil || o.Error.Code != "BadEvent" ||
		o.Error.Message != "event of more than 1048576 bytes" {
		t.Errorf("event over the cap: exit %d, %v\n%s", code, err, out)
	}
	if code, _, errs := runWithEnv(map[string]string{}, "invoke"); code != exitUsage || !strings.Contains(errs, "--event is required") {
		t.Errorf("no event: exit %d %s", code, errs)
	}
	// A configuration that would trigger itself is refused before anything runs.
	loop := map[string]string{"CERTDROP_REPORT_PREFIX": "certs/reports/"}
	if code, _, errs := runWithEnv(loop, "invoke", "--event", bad); code != exitUsage || !strings.Contains(errs, "would trigger the function again") {
		t.Errorf("self-triggering configuration: exit %d %s", code, errs)
	}
}

// TestClientsSignPerInvocation: invocations share one client's connections
// but each signs with its own credentials.
func TestClientsSignPerInvocation(t *testing.T) {
	env, _, _, _, _ := deployEnv(t)
	cs := &clients{getenv: func(k string) string { return env[k] }}
	call, err := plan.TargetCall(all.Products(), manifest.Target{Product: cdn.Name, Domain: "www.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		creds *credchain.Credentials
		ok    bool
	}{
		{&credchain.Credentials{AccessKeyID: "cliAK", AccessKeySecret: "cliSK"}, true},
		{&credchain.Credentials{AccessKeyID: "cliAK", AccessKeySecret: "wrong"}, false},
		{&credchain.Credentials{AccessKeyID: "cliAK", AccessKeySecret: "cliSK"}, true},
		{nil, true}, // the environment's key
	}
	for i, tt := range tests {
		c, err := cs.get(context.Background(), tt.creds)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Describe(context.Background(), call, product.Once{})
		var ce *cloud.Error
		switch {
		case tt.ok && err != nil:
			t.Errorf("call %d: %v", i, err)
		case !tt.ok && (!errors.As(err, &ce) || ce.Class() != failure.Auth):
			t.Errorf("call %d with a wrong secret: %v, want an auth error", i, err)
		}
	}
}

// TestClientsKeepOnePerProcess: invocations without credentials share one
// client of the default chain, built at the first that finds credentials;
// invocations with credentials each get their own.
func TestClientsKeepOnePerProcess(t *testing.T) {
	env, _, _, _, _ := deployEnv(t)
	given := &credchain.Credentials{AccessKeyID: "cliAK", AccessKeySecret: "cliSK"}
	for _, tt := range []struct {
		name  string
		calls []*credchain.Credentials
	}{
		{"none", []*credchain.Credentials{nil, nil, nil}},
		{"given first", []*credchain.Credentials{given, nil, given, nil}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs := &clients{getenv: func(k string) string { return env[k] }}
			var chain fanout.Client
			seen := map[fanout.Client]bool{}
			for i, creds := range tt.calls {
				c, err := cs.get(context.Background(), creds)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case creds != nil && seen[c]:
					t.Errorf("call %d with credentials: a client already handed out", i)
				case creds == nil && chain == nil:
					chain = c
				case creds == nil && c != chain:
					t.Errorf("call %d without credentials: a new client, want the process's one", i)
				}
				seen[c] = true
			}
		})
	}

	// A chain that finds no credentials is an error, and is not kept.
	noCreds := map[string]string{"HOME": t.TempDir()}
	cs := &clients{getenv: func(k string) string { return noCreds[k] }}
	if _, err := cs.get(context.Background(), nil); !errors.Is(err, cloud.ErrNoCredentials) {
		t.Fatalf("no credentials: %v, want ErrNoCredentials", err)
	}
	noCreds["ALIBABA_CLOUD_ACCESS_KEY_ID"], noCreds["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "cliAK", "cliSK"
	if _, err := cs.get(context.Background(), nil); err != nil {
		t.Errorf("credentials set since: %v", err)
	}
}
