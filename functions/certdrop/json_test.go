//go:build !fc

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/certdrop/certdrop/shared/report"
)

// TestJSONShapes: validate, plan and deploy --json print one object, with
// the keys docs/cli.md documents and a "bundles" array,
// for one bundle (a certbot-like folder) as for several (lego's
// certificates/ folder); show reads what deploy printed.
func TestJSONShapes(t *testing.T) {
	env, sim, bundleDir, root, manifestPath := deployEnv(t)
	lego, legoRoot := legoFolder(t)
	// Both roots, so that either set of bundles is trusted.
	roots := filepath.Join(t.TempDir(), "roots.pem")
	a, _ := os.ReadFile(root)
	b, _ := os.ReadFile(legoRoot)
	if err := os.WriteFile(roots, append(a, b...), 0o644); err != nil {
		t.Fatal(err)
	}
	documented := map[string][]string{
		"validate": {"bundles", "domains", "rejected", "sources", "unused", "valid", "warnings"},
		"plan":     {"bundles", "problems", "warnings"},
		"deploy":   {"bundles", "ok", "problems", "warnings"},
	}
	for _, tt := range []struct {
		name    string
		cmd     string
		args    []string
		bundles int
		check   func(t *testing.T, out []byte)
	}{
		{"validate one", "validate", []string{bundleDir, "--domain", "www.example.test"}, 1, func(t *testing.T, out []byte) {
			var v validateOutput
			mustDecode(t, out, &v)
			if !v.Valid || v.Bundles[0].Bundle == nil || v.Bundles[0].Bundle.CommonName != "example.test" ||
				len(v.Domains) != 1 || !v.Domains[0].Covered || len(v.Bundles[0].Domains) != 1 {
				t.Errorf("%+v", v)
			}
		}},
		{"validate several", "validate", []string{lego, "--domain", "www.example.test"}, 2, func(t *testing.T, out []byte) {
			var v validateOutput
			mustDecode(t, out, &v)
			if !v.Valid || v.Bundles[0].Bundle.CommonName != "pull.example.test" || v.Bundles[1].Bundle.CommonName != "www.example.test" ||
				len(v.Domains) != 1 || !v.Domains[0].Covered {
				t.Errorf("%+v", v)
			}
		}},
		{"plan one", "plan", []string{"--bundle", bundleDir, "--manifest", manifestPath}, 1, func(t *testing.T, out []byte) {
			var p planOutputs
			mustDecode(t, out, &p)
			if len(p.Bundles[0].Calls) != 3 || len(p.Problems) != 0 {
				t.Errorf("%+v", p)
			}
		}},
		{"plan several", "plan", []string{"--bundle", lego, "--manifest", manifestPath}, 2, func(t *testing.T, out []byte) {
			var p planOutputs
			mustDecode(t, out, &p)
			if len(p.Bundles[0].Calls) != 1 || p.Bundles[0].Calls[0].Domain != "pull.example.test" ||
				len(p.Bundles[1].Calls) != 1 || p.Bundles[1].Calls[0].Domain != "www.example.test" {
				t.Errorf("%+v", p)
			}
		}},
		{"deploy one", "deploy", []string{"--bundle", bundleDir, "--manifest", manifestPath, "--dry-run"}, 1, func(t *testing.T, out []byte) {
			var d deployOutput
			mustDecode(t, out, &d)
			if !d.OK || !d.Bundles[0].DryRun || d.Bundles[0].Summary.Planned != 3 || setCalls(sim) != 0 {
				t.Errorf("%+v, %d Set calls", d, setCalls(sim))
			}
		}},
		{"deploy several", "deploy", []string{"--bundle", lego, "--manifest", manifestPath}, 2, func(t *testing.T, out []byte) {
			var d deployOutput
			mustDecode(t, out, &d)
			if !d.OK || d.Bundles[0].Summary.Deployed != 1 || d.Bundles[1].Summary.Deployed != 1 || setCalls(sim) != 2 {
				t.Errorf("%+v, %d Set calls", d, setCalls(sim))
			}
			// show reads it back: each bundle's table.
			saved := filepath.Join(t.TempDir(), "deploy.json")
			if err := os.WriteFile(saved, out, 0o644); err != nil {
				t.Fatal(err)
			}
			code, shown, errs := runWithEnv(env, "show", saved)
			if code != exitOK || strings.Count(shown, "OK: 1 deployed of 1 target(s)") != 2 || !strings.Contains(shown, "== bundle 2 of 2: www.example.test") {
				t.Errorf("show: exit %d\n%s%s", code, shown, errs)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runWithEnv(env, append(append([]string{tt.cmd}, tt.args...), "--trust-roots", roots, "--json")...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal([]byte(out), &top); err != nil {
				t.Fatalf("not a JSON object: %v\n%s", err, out)
			}
			var keys []string
			for k := range top {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if !reflect.DeepEqual(keys, documented[tt.cmd]) {
				t.Errorf("keys %q, documented %q", keys, documented[tt.cmd])
			}
			var bundles []json.RawMessage
			if err := json.Unmarshal(top["bundles"], &bundles); err != nil || len(bundles) != tt.bundles {
				t.Fatalf("bundles: %d, want %d (%v)\n%s", len(bundles), tt.bundles, err, out)
			}
			tt.check(t, []byte(out))
		})
	}
}

// mustDecode decodes a command's JSON output into v, refusing any key v
// does not name.
func mustDecode(t *testing.T, out []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(out)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// oneReport decodes what deploy --json printed for one bundle: its report.
func oneReport(out string) (*report.Report, error) {
	var d deployOutput
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		return nil, err
	}
	if len(d.Bundles) != 1 {
		return nil, fmt.Errorf("%d bundles, want 1", len(d.Bundles))
	}
	return d.Bundles[0], nil
}
