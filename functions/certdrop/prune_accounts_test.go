//go:build !fc

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/hub"
)

// TestPruneAccountsCLI: certdrop prune opens the manifest's accounts as
// deploy does: after a deploy by reference to CAS in the own account and
// in media (through its role), the dry run describes both accounts'
// targets and keeps each account's certificate as carried by that
// account's target, the text naming media's account.
func TestPruneAccountsCLI(t *testing.T) {
	const media = "1111111111111111"
	_, env := cloudsimtest.StartEnv(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "pruneAK", AccessKeySecret: "pruneSK"}},
		Domains:     cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "www.example.test"}}},
		Accounts: []cloudsim.AccountSettings{{ID: media,
			Roles:   []cloudsim.RoleSettings{{Name: "certdrop-deployer", Trust: []string{"acs:ram::" + cloudsim.DefaultAccountID + ":root"}}},
			Domains: cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "m.example.test"}}}}},
		OSS: cloudsim.OSSSettings{Disabled: true},
	})
	dir := t.TempDir()
	bundleDir, root, mf := filepath.Join(dir, "b"), filepath.Join(dir, "root.pem"), filepath.Join(dir, "m.yaml")
	if err := gencert(bundleDir, root, []string{"example.test", "*.example.test"}, 30, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	m := "version: 1\ndefaults: {delivery: cas}\naccounts:\n  - name: media\n    roleArn: acs:ram::" + media + ":role/certdrop-deployer\n" +
		"targets:\n  - product: cdn\n    domain: www.example.test\n  - product: cdn\n    account: media\n    domain: m.example.test\n"
	if err := os.WriteFile(mf, []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runWithEnv(env, "deploy", "--bundle", bundleDir, "--manifest", mf, "--trust-roots", root); code != exitOK {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errs)
	}

	code, out, errs := runWithEnv(env, "prune", "--manifest", mf)
	if code != exitOK || !strings.Contains(out, "2 target(s) described") {
		t.Errorf("prune: exit %d\n%s\n%s", code, out, errs)
	}
	var own, inMedia bool
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "kept  account media  cn-hangzhou  CertId ") && strings.HasSuffix(l, "carried by cdn m.example.test"):
			inMedia = true
		case strings.HasPrefix(l, "kept  cn-hangzhou  CertId ") && strings.HasSuffix(l, "carried by cdn www.example.test"):
			own = true
		}
	}
	if !own || !inMedia {
		t.Errorf("prune output keeps the own account's certificate: %v, media's: %v; want both, carried\n%s", own, inMedia, out)
	}

	code, out, _ = runWithEnv(env, "prune", "--manifest", mf, "--json")
	var pr hub.PruneResult
	if err := json.Unmarshal([]byte(out), &pr); err != nil || code != exitOK || len(pr.Kept) != 2 || pr.Kept[1].Account != "media" {
		t.Errorf("prune --json: exit %d %+v %v", code, pr, err)
	}
}
