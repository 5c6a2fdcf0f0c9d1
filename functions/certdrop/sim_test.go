//go:build !fc

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/testutil"
)

func TestSimCommandServesUntilCanceled(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	var stdout, stderr testutil.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &cli{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }},
			[]string{"sim", "--config", filepath.Join("..", "..", "testdata", "sim", "demo.yaml"), "--journal", journal,
				"--data", t.TempDir(), "--notify", "http://127.0.0.1:9/invoke"})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "# ready") {
		select {
		case code := <-done:
			t.Fatalf("sim exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready line: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	env := map[string]string{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	for _, k := range []string{"CERTDROP_CDN_ENDPOINT", "CERTDROP_VOD_ENDPOINT", "CERTDROP_LIVE_ENDPOINT", "CERTDROP_OSS_ENDPOINT", "CERTDROP_ALIDNS_ENDPOINT",
		"CERTDROP_DCDN_ENDPOINT", "CERTDROP_CAS_ENDPOINT", "CERTDROP_CAS_AP_SOUTHEAST_1_ENDPOINT"} {
		if !strings.HasPrefix(env[k], "http://127.0.0.1:") {
			t.Errorf("%s=%q", k, env[k])
		}
	}
	if env["CERTDROP_CAS_ENDPOINT"] == env["CERTDROP_CAS_AP_SOUTHEAST_1_ENDPOINT"] {
		t.Errorf("the two CAS regions share the endpoint %s", env["CERTDROP_CAS_ENDPOINT"])
	}
	// push, show oss:// and invoke need the region the emulator signs in.
	if env["FC_REGION"] != "cn-hangzhou" {
		t.Errorf("FC_REGION=%q, want the emulator's region cn-hangzhou", env["FC_REGION"])
	}
	if !strings.HasPrefix(env["CERTDROP_DNS_RESOLVERS"], "127.0.0.1:") {
		t.Errorf("CERTDROP_DNS_RESOLVERS=%q", env["CERTDROP_DNS_RESOLVERS"])
	}
	if !strings.HasPrefix(env["CERTDROP_ACME_DIRECTORY"], "https://127.0.0.1:") {
		t.Errorf("CERTDROP_ACME_DIRECTORY=%q", env["CERTDROP_ACME_DIRECTORY"])
	}
	if b, err := os.ReadFile(env["CERTDROP_ACME_TRUST_ROOTS"]); err != nil || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Errorf("CERTDROP_ACME_TRUST_ROOTS=%q: %v", env["CERTDROP_ACME_TRUST_ROOTS"], err)
	}
	if env["ALIBABA_CLOUD_ACCESS_KEY_ID"] != "simAK" || strings.Contains(stdout.String()+stderr.String(), "simSK") {
		t.Errorf("credentials output: %s", stdout.String())
	}

	// An unsigned request is answered like the real OpenAPI, and journaled.
	req, _ := http.NewRequest("POST", env["CERTDROP_CDN_ENDPOINT"]+"/", strings.NewReader("DomainName=www.certdrop-demo.test"))
	req.Header.Set("x-acs-action", "DescribeDomainCertificateInfo")
	req.Header.Set("x-acs-version", "2018-05-10")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != 400 || body["Code"] != "IncompleteSignature" || body["RequestId"] == "" {
		t.Fatalf("unsigned request: HTTP %d %v", res.StatusCode, body)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop on cancel")
	}
	b, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"code":"IncompleteSignature"`) {
		t.Fatalf("journal: %q", b)
	}
	if !strings.Contains(stderr.String(), "stopped after 1 calls") {
		t.Fatalf("stderr: %s", stderr.String())
	}
}

func TestSimCommandUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sim"}, exitUsage, "--config is required"},
		{[]string{"sim", "--config", "/nonexistent.yaml"}, exitUsage, "nonexistent.yaml"},
		{[]string{"sim", "--config", filepath.Join("..", "..", "testdata", "sim", "demo.yaml"), "--notify", "ftp://x"}, exitUsage, "not an http(s) URL"},
		{[]string{"sim", "--help"}, exitOK, "Usage: certdrop sim"},
	}
	for _, tt := range tests {
		var stdout, stderr testutil.Buffer
		code := run(context.Background(), &cli{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}, tt.args)
		// Help goes to stdout, problems to stderr.
		if code != tt.code || !strings.Contains(stderr.String()+stdout.String(), tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tt.args, code, stdout.String(), stderr.String(), tt.code, tt.want)
		}
	}
}
