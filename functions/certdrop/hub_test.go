//go:build !fc

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/cloudsim"
	"github.com/certdrop/certdrop/shared/cloudsim/cloudsimtest"
	"github.com/certdrop/certdrop/shared/hub"
	"github.com/certdrop/certdrop/shared/pin"
	"github.com/certdrop/certdrop/shared/store"
)

// TestDeployCASRollbackPrune runs the commands against the emulator: a
// deploy with delivery: cas uploads once and reports the CertId; prune
// without --yes lists and deletes nothing; rollback to the certificate's
// own name finds every target unchanged; rollback to a name CAS does not
// hold is refused (exit 2) with nothing set.
func TestDeployCASRollbackPrune(t *testing.T) {
	env, sim, bundleDir, root, manifestPath := deployEnv(t)
	m, _ := os.ReadFile(manifestPath)
	casManifest := manifestPath + ".cas.yaml"
	// Without the live target: SetLiveDomainCertificate documents no
	// reference to CAS, so a rollback cannot set it.
	cm := strings.Replace(string(m), "  - product: live\n    domain: pull.example.test\n", "", 1)
	if err := os.WriteFile(casManifest, []byte(strings.Replace(cm, "targets:", "defaults:\n  delivery: cas\ntargets:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runWithEnv(env, "deploy", "--bundle", bundleDir, "--manifest", casManifest, "--trust-roots", root, "--json")
	rep, err := oneReport(out)
	if err != nil || code != exitOK || len(rep.CAS) != 1 || rep.CAS[0].CertID == 0 || rep.Summary.Deployed != 2 {
		t.Fatalf("deploy: exit %d %+v CAS %+v %v\n%s", code, rep.Summary, rep.CAS, err, errs)
	}
	code, out, _ = runWithEnv(env, "deploy", "--bundle", bundleDir, "--manifest", casManifest, "--trust-roots", root)
	if code != exitOK || !strings.Contains(out, "already there, CertId") || !strings.Contains(out, "2 unchanged") {
		t.Errorf("second deploy: exit %d\n%s", code, out)
	}

	code, out, errs = runWithEnv(env, "prune", "--manifest", casManifest, "--json")
	var pr hub.PruneResult
	if err := json.Unmarshal([]byte(out), &pr); err != nil || code != exitOK || !pr.DryRun || len(pr.Deleted) != 0 || len(pr.Kept) != 1 {
		t.Errorf("prune: exit %d %+v %v\n%s", code, pr, err, errs)
	}

	code, out, errs = runWithEnv(env, "rollback", "--manifest", casManifest, "--to", rep.CAS[0].Name)
	if code != exitOK || !strings.Contains(out, "2 unchanged") {
		t.Errorf("rollback to the current certificate: exit %d\n%s\n%s", code, out, errs)
	}
	sets := setCalls(sim)
	code, _, errs = runWithEnv(env, "rollback", "--manifest", casManifest, "--to", "certdrop-example.test-20200101-00000000")
	if code != exitUsage || !strings.Contains(errs, "is not in Certificate Management Service") || setCalls(sim) != sets {
		t.Errorf("rollback to an unknown certificate: exit %d, %d Set calls\n%s", code, setCalls(sim)-sets, errs)
	}
}

// TestRollbackPinCLI: with a bucket (CERTDROP_BUCKET), rollback --to writes
// the pin there and says so; --release NAME deletes it; a release that
// matches no pin is refused (exit 2); without a bucket the rollback says
// it is not pinned.
func TestRollbackPinCLI(t *testing.T) {
	_, env := cloudsimtest.StartEnv(t, cloudsim.Config{
		Credentials: []cloudsim.Credential{{AccessKeyID: "pinAK", AccessKeySecret: "pinSK"}},
		Domains:     cloudsim.Domains{CDN: []cloudsim.Domain{{Name: "www.example.test"}}},
		OSS:         cloudsim.OSSSettings{Buckets: []string{"pin-bucket"}},
	})
	ctx := context.Background()
	dir := t.TempDir()
	bundleDir, root, mf := filepath.Join(dir, "b"), filepath.Join(dir, "root.pem"), filepath.Join(dir, "m.yaml")
	if err := gencert(bundleDir, root, []string{"www.example.test"}, 30, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mf, []byte("version: 1\ndefaults: {delivery: cas}\ntargets: [{product: cdn, domain: www.example.test}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runWithEnv(env, "deploy", "--bundle", bundleDir, "--manifest", mf, "--trust-roots", root, "--json")
	rep, err := oneReport(out)
	if err != nil || code != exitOK || len(rep.CAS) != 1 {
		t.Fatalf("deploy: exit %d %v\n%s", code, err, errs)
	}
	name := rep.CAS[0].Name

	code, _, errs = runWithEnv(env, "rollback", "--manifest", mf, "--to", name)
	if code != exitOK || !strings.Contains(errs, "not pinned: no bucket") {
		t.Errorf("rollback without a bucket: exit %d\n%s", code, errs)
	}
	env["CERTDROP_BUCKET"] = "pin-bucket"
	code, _, errs = runWithEnv(env, "rollback", "--manifest", mf, "--to", name)
	if code != exitOK || !strings.Contains(errs, "pinned: oss://pin-bucket/certdrop/pins/") {
		t.Fatalf("rollback with a bucket: exit %d\n%s", code, errs)
	}
	st, err := store.OpenOSS(ctx, "pin-bucket", "", store.Options{Getenv: func(k string) string { return env[k] },
		Credentials: &credchain.Credentials{AccessKeyID: "pinAK", AccessKeySecret: "pinSK"}})
	if err != nil {
		t.Fatal(err)
	}
	pins := func() int {
		infos, err := st.List(ctx, "certdrop/pins/")
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			obj, err := st.Get(ctx, in.Key)
			if err != nil || !strings.Contains(string(obj.Data), name) || !strings.Contains(string(obj.Data), `"trigger": "cli"`) ||
				strings.Contains(string(obj.Data), "PRIVATE KEY") {
				t.Errorf("pin %s: %v\n%s", in.Key, err, obj.Data)
			}
		}
		return len(infos)
	}
	if n := pins(); n != 1 {
		t.Fatalf("%d pins in the bucket; want 1", n)
	}
	code, _, errs = runWithEnv(env, "rollback", "--release", "other.example.test")
	if code != exitUsage || !strings.Contains(errs, "no rollback pin matches") || !strings.Contains(errs, name) || pins() != 1 {
		t.Errorf("release of another name: exit %d\n%s", code, errs)
	}
	code, out, errs = runWithEnv(env, "rollback", "--release", "WWW.example.test")
	if code != exitOK || !strings.Contains(out, "released the rollback to "+name) || pins() != 0 {
		t.Errorf("release: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs = runWithEnv(env, "rollback", "--release", "www.example.test", "--to", name); code != exitUsage {
		t.Errorf("--to with --release: exit %d\n%s", code, errs)
	}
}

// TestReleaseFailedDeleteBothPaths: a release that matches two pins, one
// of which OSS refuses to delete, behaves the same from the command line
// (rollback --release) and in the function (the release event, run as
// the function runs it): the other pin is still deleted, the refused one
// stays and is reported as not deleted, and the run fails (exit 1; the
// outcome "failed").
func TestReleaseFailedDeleteBothPaths(t *testing.T) {
	at := time.Date(2027, 2, 21, 8, 0, 0, 0, time.UTC)
	pins := []*pin.Pin{
		{Names: []string{"www.example.test"}, CertName: "certdrop-www.example.test-20270101-11111111", At: at, Trigger: "manual", RequestID: "r-1"},
		{Names: []string{"img.example.test", "www.example.test"}, CertName: "certdrop-www.example.test-20270102-22222222", At: at, Trigger: "cli", RequestID: "r-2"},
	}
	// The first pin a release meets (pins are met in key order) is the
	// one OSS refuses to delete.
	refused, released := pins[0], pins[1]
	if released.Key() < refused.Key() {
		refused, released = released, refused
	}
	for _, path := range []string{"command line", "function"} {
		t.Run(path, func(t *testing.T) {
			_, env := cloudsimtest.StartEnv(t, cloudsim.Config{
				Credentials: []cloudsim.Credential{{AccessKeyID: "relAK", AccessKeySecret: "relSK"}},
				OSS: cloudsim.OSSSettings{Buckets: []string{"rel-bucket"}, Faults: cloudsim.OSSFaults{Scripted: []cloudsim.OSSScript{
					{API: "DeleteObject", Key: refused.Key(), Status: 403, Code: "AccessDenied", Times: 1000}}}},
			})
			env["CERTDROP_BUCKET"] = "rel-bucket"
			ctx := context.Background()
			st, err := store.OpenOSS(ctx, "rel-bucket", "", store.Options{Getenv: func(k string) string { return env[k] },
				Credentials: &credchain.Credentials{AccessKeyID: "relAK", AccessKeySecret: "relSK"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pins {
				if _, err := pin.Write(ctx, st, p); err != nil {
					t.Fatal(err)
				}
			}
			var code int
			var out, errs string
			if path == "function" {
				ev := filepath.Join(t.TempDir(), "release.json")
				if err := os.WriteFile(ev, []byte(`{"mode":"rollback","release":"www.example.test"}`), 0o644); err != nil {
					t.Fatal(err)
				}
				code, out, errs = runWithEnv(env, "invoke", "--event", ev)
				var o struct {
					Status string
					Pins   []struct {
						State, Key, CertName string
						Error                *struct{ Code string }
					}
				}
				if err := json.Unmarshal([]byte(out), &o); err != nil || o.Status != "failed" || len(o.Pins) != 2 ||
					o.Pins[0].State != "problem" || o.Pins[0].Key != refused.Key() || o.Pins[0].Error == nil || o.Pins[0].Error.Code != "PinNotDeleted" ||
					o.Pins[1].State != "released" || o.Pins[1].CertName != released.CertName {
					t.Errorf("outcome: %v\n%s\n%s", err, out, errs)
				}
			} else {
				code, out, errs = runWithEnv(env, "rollback", "--release", "www.example.test")
				if !strings.Contains(errs, "deleting the pin "+refused.Key()) || !strings.Contains(out, "released the rollback to "+released.CertName) {
					t.Errorf("output:\n%s\n%s", out, errs)
				}
			}
			if code != exitFail {
				t.Errorf("exit %d; want %d", code, exitFail)
			}
			infos, err := st.List(ctx, pin.Prefix)
			if err != nil || len(infos) != 1 || infos[0].Key != refused.Key() {
				t.Errorf("pins left %+v (%v); want only %s, the one OSS refused to delete", infos, err, refused.Key())
			}
		})
	}
}
