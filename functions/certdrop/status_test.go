//go:build !fc

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/status"
	"github.com/certdrop/certdrop/shared/store"
)

// fixtureStatus is a small fleet: one failed, one serving another
// certificate, one fine, and a run.
func fixtureStatus(t *testing.T) *status.Status {
	t.Helper()
	now := time.Now()
	cert := &status.Cert{Name: "example.com", Issuer: "CN=Demo CA", NotAfter: now.AddDate(0, 2, 0), Fingerprint: "aa"}
	return status.Merge(nil, status.Update{
		Run: &status.Run{ID: "req-1", Trigger: "timer", StartedAt: now, Outcome: "failed", Summary: "1 deployed, 1 failed",
			ReportKey: "certdrop/reports/2026/12/06/req-1.json"},
		Targets: []status.Observation{
			{Product: "cdn", Address: "www.example.com", Outcome: "deployed", Cert: cert,
				Probe: &status.Probe{Name: "www.example.com", Verdict: "serving", At: now}},
			{Product: "cdn", Address: "old.example.com", Outcome: "failed", Error: "InvalidDomain.Offline: The domain provided is offline."},
			{Product: "vod", Address: "vod.example.com", Outcome: "unchanged", Cert: cert,
				Probe: &status.Probe{Name: "vod.example.com", Verdict: "other", At: now,
					Served: &status.Cert{Name: "someone-else", Issuer: "CN=Other", NotAfter: now.AddDate(0, 6, 0)}}},
		},
	}, now, status.Options{})
}

// TestStatusCommand: certdrop status reads status.json from the bucket and
// prints the targets grouped by state, most urgent first (exit 1: one
// failed); --json prints the documented shape; --url prints a link that a
// plain GET reads without credentials; --file reads a local status.json.
func TestStatusCommand(t *testing.T) {
	env := ossEnv(t)
	env["CERTDROP_BUCKET"] = "certs"
	st, err := store.Open(context.Background(), "oss://certs", store.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	fx := fixtureStatus(t)
	js, _ := fx.JSON()
	page, err := status.HTML(fx, status.HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.Put(ctx, "certdrop/status/status.json", js, "application/json"); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "certdrop/status/index.html", page, "text/html; charset=utf-8"); err != nil {
		t.Fatal(err)
	}

	code, out, errs := runWithEnv(env, "status")
	if code != exitFail {
		t.Errorf("exit %d (%s), want 1: a target failed", code, errs)
	}
	failed, other, ok := strings.Index(out, "FAILED (1)"), strings.Index(out, "OTHER (1)"), strings.Index(out, "OK (1)")
	if failed < 0 || other < failed || ok < other || !strings.Contains(out, "old.example.com") || !strings.Contains(out, "req-1") {
		t.Errorf("not grouped, most urgent first:\n%s", out)
	}

	code, out, _ = runWithEnv(env, "status", "--json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitFail {
		t.Fatalf("--json: exit %d, %v", code, err)
	}
	for _, k := range []string{"version", "generatedAt", "expiringDays", "targets", "renewals", "runs"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("--json lacks %q", k)
		}
	}
	first := doc["targets"].([]any)[0].(map[string]any)
	var keys []string
	for k := range first {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if first["state"] != "failed" || first["address"] != "old.example.com" ||
		strings.Join(keys, ",") != "address,error,outcome,outcomeAt,product,runId,state" {
		t.Errorf("first target %v", first)
	}

	code, out, errs = runWithEnv(env, "status", "--url")
	u := strings.TrimSpace(out)
	// The SDK escapes the key's slashes (certdrop%2Fstatus%2Findex.html).
	if code != exitOK || !strings.HasPrefix(u, env["CERTDROP_OSS_ENDPOINT"]+"/certs/certdrop") || !strings.Contains(u, "index.html?") ||
		!strings.Contains(u, "x-oss-expires=3600") || strings.Contains(u, env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]) {
		t.Fatalf("--url: exit %d %q %s", code, u, errs)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != string(page) || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET the link: %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}

	file := filepath.Join(t.TempDir(), "status.json")
	if err := os.WriteFile(file, js, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "status", "--file", file); code != exitFail || !strings.Contains(out, "www.example.com") {
		t.Errorf("--file: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"status", "--file", file, "--url"}, {"status", "extra"}} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want usage", args, code)
		}
	}
	if code, _, errs := runCLI(t, "status"); code != exitUsage || !strings.Contains(errs, "CERTDROP_BUCKET") {
		t.Errorf("no bucket: exit %d %s", code, errs)
	}
}
