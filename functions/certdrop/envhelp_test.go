package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDeployHelpListsEndpoints: every endpoint variable the documentation
// names (README.md, docs/*.md, deploy/README.md) is in deploy --help, with
// its default.
func TestDeployHelpListsEndpoints(t *testing.T) {
	code, out, errs := runCLI(t, "deploy", "--help")
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	docs, _ := filepath.Glob("../../docs/*.md")
	docs = append(docs, "../../README.md", "../../deploy/README.md")
	endpointVar := regexp.MustCompile(`CERTDROP_[A-Z0-9_]+_ENDPOINT\b`)
	named := map[string]bool{}
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range endpointVar.FindAllString(string(data), -1) {
			named[v] = true
		}
	}
	if len(named) < 8 {
		t.Fatalf("the documentation names only %d endpoint variables: %v", len(named), named)
	}
	for v := range named {
		line := regexp.MustCompile(`(?m)^  ` + v + `\s+\S.*\(default \S+\)$`)
		if !line.MatchString(out) {
			t.Errorf("deploy --help does not list %s with its default:\n%s", v, out)
		}
	}
	if strings.Count(out, "_ENDPOINT ") != len(named) {
		t.Errorf("deploy --help lists %d endpoint variables, the documentation %d:\n%s", strings.Count(out, "_ENDPOINT "), len(named), out)
	}
}
