package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegionErrorNamesTheFlag: push, show oss:// and invoke reach OSS; with
// no region anywhere they refuse before any call, naming --region, and
// --region is enough.
func TestRegionErrorNamesTheFlag(t *testing.T) {
	dir := t.TempDir()
	ev := filepath.Join(dir, "event.json")
	if err := os.WriteFile(ev, []byte(`{"bundle":"oss://bucket1/certs/x/"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A loopback endpoint names no region; port 1 refuses connections.
	env := map[string]string{"CERTDROP_OSS_ENDPOINT": "http://127.0.0.1:1", "CERTDROP_BUCKET": "bucket1",
		"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk"}
	for _, args := range [][]string{
		{"push", bundles + "certbot", "--to", "oss://bucket1/certs/x/"},
		{"show", "oss://bucket1/certdrop/reports/r.json"},
		{"invoke", "--event", ev},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, _, errs := runWithEnv(env, args...)
			if code != exitUsage || !strings.Contains(errs, "no OSS region") || !strings.Contains(errs, "--region") {
				t.Errorf("without a region: exit %d, stderr:\n%s", code, errs)
			}
			// push runs in the renewal hooks, on machines without
			// FC_REGION: it names the hooks' setting too.
			if hooks := strings.Contains(errs, "CERTDROP_REGION"); hooks != (args[0] == "push") {
				t.Errorf("without a region, the error names CERTDROP_REGION: %v, want %v; stderr:\n%s", hooks, args[0] == "push", errs)
			}
			code, _, errs = runWithEnv(env, append(args, "--region", "cn-hangzhou")...)
			if strings.Contains(errs, "no OSS region") || code == exitOK {
				t.Errorf("with --region: exit %d, stderr:\n%s", code, errs)
			}
		})
	}
}
