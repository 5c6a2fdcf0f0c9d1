//go:build !fc

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGencert: a new user's first try, gencert then validate, works.
func TestGencert(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "certs", "example.test")
	code, _, errs := runCLI(t, "gencert", "--out", out, "--domain", "example.test", "--domain", "*.example.test", "--days", "30")
	if code != exitOK {
		t.Fatalf("gencert: exit %d %s", code, errs)
	}
	if fi, err := os.Stat(filepath.Join(out, "privkey.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("privkey.pem: %v %v", fi, err)
	}
	rootPath := filepath.Join(dir, "certs", "demo-root.pem")
	code, stdout, _ := runCLI(t, "validate", out, "--trust-roots", rootPath, "--domain", "www.example.test")
	if code != exitOK || !strings.Contains(stdout, "(30 days left)") {
		t.Errorf("validate the generated bundle: exit %d\n%s", code, stdout)
	}
}

// TestWorkstationCommands: the workstation build (make build) has the
// commands the Function Compute package leaves out.
func TestWorkstationCommands(t *testing.T) {
	cmds := commands()
	for _, name := range []string{"sim", "gencert"} {
		if _, ok := cmds[name]; !ok {
			t.Errorf("the workstation build lacks %q", name)
		}
	}
}
