package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// workstationOnly names the packages the Function Compute package must not
// link: the emulator, pebble (its ACME CA) and the demo CA.
var workstationOnly = regexp.MustCompile(`/cloudsim\b|/testpki\b|pebble`)

// packageTags returns the build tags `make package` builds the function
// with, read from the command make would run.
func packageTags(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", "-n", "-s", "package")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n package: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, " build ") || !strings.Contains(line, "./functions/certdrop") {
			continue
		}
		if m := regexp.MustCompile(`-tags[= ]'?([\w,]+)`).FindStringSubmatch(line); m != nil {
			return m[1]
		}
		return ""
	}
	t.Fatalf("make -n package runs no go build of ./functions/certdrop:\n%s", out)
	return ""
}

// goDeps lists the packages ./functions/certdrop links for linux/amd64
// with the given build tags.
func goDeps(t *testing.T, tags string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-tags", tags, ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -tags %q: %v", tags, err)
	}
	return strings.Fields(string(out))
}

// TestFCPackageLinksNoEmulator: the binary `make package` builds for
// Function Compute links neither the emulator nor pebble nor the demo CA
// (TestWorkstationCommands: the workstation build keeps sim and gencert).
func TestFCPackageLinksNoEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	tags := packageTags(t)
	for _, p := range goDeps(t, tags) {
		if workstationOnly.MatchString(p) {
			t.Errorf("make package (-tags %q) links %s", tags, p)
		}
	}
	// The check can fail: the workstation build does link the emulator.
	linked := false
	for _, p := range goDeps(t, "") {
		linked = linked || workstationOnly.MatchString(p)
	}
	if !linked {
		t.Error("the workstation build links no emulator: this test checks nothing")
	}
}
