package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// gencertIn issues a demo certificate for www.example.com valid for days
// into dir/cert, and returns that folder and the demo root.
func gencertIn(t *testing.T, days string) (folder, rootPath string) {
	t.Helper()
	dir := t.TempDir()
	folder, rootPath = filepath.Join(dir, "cert"), filepath.Join(dir, "root.pem")
	if code, _, stderr := runCLI(t, "gencert", "--out", folder, "--root", rootPath, "--domain", "www.example.com", "--days", days); code != exitOK {
		t.Fatalf("gencert: %d %s", code, stderr)
	}
	return folder, rootPath
}

// TestValidateWarnDays is issue 8 §6: --warn-days 0 warned at 14 days,
// while the manifest's warnDays: 0 means never; and a fresh 90-day
// certificate showed 89 days left.
func TestValidateWarnDays(t *testing.T) {
	soon, soonRoot := gencertIn(t, "5")
	fresh, freshRoot := gencertIn(t, "90")
	tests := []struct {
		name   string
		args   []string
		warn   bool
		hasOut string
	}{
		{"default warns at 14 days", []string{soon, "--trust-roots", soonRoot}, true, "(5 days left)"},
		{"--warn-days 0 never warns", []string{soon, "--trust-roots", soonRoot, "--warn-days", "0"}, false, "(5 days left)"},
		{"--warn-days 3", []string{soon, "--trust-roots", soonRoot, "--warn-days", "3"}, false, "Verdict:      valid"},
		{"--warn-days 6", []string{soon, "--trust-roots", soonRoot, "--warn-days", "6"}, true, "Verdict:      valid"},
		{"fresh 90-day certificate", []string{fresh, "--trust-roots", freshRoot}, false, "(90 days left)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"validate"}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s%s", code, out, stderr)
			}
			if got := strings.Contains(out, "expires in"); got != tt.warn {
				t.Errorf("expiry warning shown = %v, want %v\n%s", got, tt.warn, out)
			}
			if !strings.Contains(out, tt.hasOut) {
				t.Errorf("output lacks %q\n%s", tt.hasOut, out)
			}
		})
	}
}
