//go:build !fc

package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/hub"
	"github.com/certdrop/certdrop/shared/report"
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
	if err := os.WriteFile(casManifest, []byte(strings.Replace(string(m), "targets:", "defaults:\n  delivery: cas\ntargets:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runWithEnv(env, "deploy", "--bundle", bundleDir, "--manifest", casManifest, "--trust-roots", root, "--json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK || len(rep.CAS) != 1 || rep.CAS[0].CertID == 0 || rep.Summary.Deployed != 3 {
		t.Fatalf("deploy: exit %d %+v CAS %+v %v\n%s", code, rep.Summary, rep.CAS, err, errs)
	}
	code, out, _ = runWithEnv(env, "deploy", "--bundle", bundleDir, "--manifest", casManifest, "--trust-roots", root)
	if code != exitOK || !strings.Contains(out, "already there, CertId") || !strings.Contains(out, "3 unchanged") {
		t.Errorf("second deploy: exit %d\n%s", code, out)
	}

	code, out, errs = runWithEnv(env, "prune", "--manifest", casManifest, "--json")
	var pr hub.PruneResult
	if err := json.Unmarshal([]byte(out), &pr); err != nil || code != exitOK || !pr.DryRun || len(pr.Deleted) != 0 || len(pr.Kept) != 1 {
		t.Errorf("prune: exit %d %+v %v\n%s", code, pr, err, errs)
	}

	code, out, errs = runWithEnv(env, "rollback", "--manifest", casManifest, "--to", rep.CAS[0].Name)
	if code != exitOK || !strings.Contains(out, "3 unchanged") {
		t.Errorf("rollback to the current certificate: exit %d\n%s\n%s", code, out, errs)
	}
	sets := setCalls(sim)
	code, _, errs = runWithEnv(env, "rollback", "--manifest", casManifest, "--to", "certdrop-example.test-20200101-00000000")
	if code != exitUsage || !strings.Contains(errs, "is not in Certificate Management Service") || setCalls(sim) != sets {
		t.Errorf("rollback to an unknown certificate: exit %d, %d Set calls\n%s", code, setCalls(sim)-sets, errs)
	}
}
