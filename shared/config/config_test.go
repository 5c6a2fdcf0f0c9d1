package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// root is the repository's root, from this package's folder.
const root = "../.."

// declaredNames parses config.go and returns the values of the string
// constants that name a variable: a list made from the source,
// independently of Vars.
func declaredNames(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, _ := strconv.Unquote(lit.Value)
				if varName.MatchString(s) {
					names = append(names, s)
				}
			}
		}
	}
	return names
}

var varName = regexp.MustCompile(`^CERTDROP_[A-Z0-9_]*[A-Z0-9]$`)

// TestVarsDeclared: every constant naming a variable is in Vars exactly
// once, Vars names nothing else, and each entry says what it means.
func TestVarsDeclared(t *testing.T) {
	consts := declaredNames(t)
	if len(consts) < 20 {
		t.Fatalf("only %d constants found: %v", len(consts), consts)
	}
	seen := map[string]int{}
	for _, v := range Vars() {
		seen[v.Name]++
		if !slices.Contains(consts, v.Name) {
			t.Errorf("Vars lists %s, which has no constant", v.Name)
		}
		if v.Meaning == "" {
			t.Errorf("%s has no meaning", v.Name)
		}
		if v.Default != "" && v.DefaultDoc != "" {
			t.Errorf("%s has both a default value and words for it", v.Name)
		}
	}
	for _, c := range consts {
		if seen[c] != 1 {
			t.Errorf("%s is in Vars %d times, want once", c, seen[c])
		}
	}
}

func TestGetAndSeconds(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		getenv  func(string) string
		v       string
		get     string
		seconds time.Duration
		err     string
	}{
		{"unset, default", env(), WaitLimit, "900", DefaultWaitLimit, ""},
		{"empty, default", env(WaitLimit, ""), WaitLimit, "900", DefaultWaitLimit, ""},
		{"set", env(WaitLimit, "1.5"), WaitLimit, "1.5", 1500 * time.Millisecond, ""},
		{"unset, no default", env(), SafetyMargin, "", 0, ""},
		{"negative", env(SafetyMargin, "-1"), SafetyMargin, "-1", 0, "CERTDROP_SAFETY_MARGIN=\"-1\": want a number of seconds"},
		{"not a number", env(FunctionTimeout, "ten"), FunctionTimeout, "ten", 0, "CERTDROP_FUNCTION_TIMEOUT=\"ten\": want a number of seconds"},
		{"prefix default", env(), ReportPrefix, DefaultReportPrefix, 0, "want a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Get(tt.getenv, tt.v); got != tt.get {
				t.Errorf("Get = %q, want %q", got, tt.get)
			}
			got, err := Seconds(tt.getenv, tt.v)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Seconds: %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.seconds {
				t.Fatalf("Seconds = %v, %v; want %v", got, err, tt.seconds)
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	var names []string
	for _, v := range Endpoints() {
		names = append(names, v.Name)
	}
	want := []string{CDNEndpoint, VODEndpoint, LiveEndpoint, DCDNEndpoint, OSSEndpoint, CASEndpoint, CASIntlEndpoint, AliDNSEndpoint,
		ALBEndpoint, NLBEndpoint, CLBEndpoint, ESAEndpoint, FCEndpoint, STSEndpoint}
	if !slices.Equal(names, want) {
		t.Fatalf("Endpoints = %v, want %v", names, want)
	}
}

// configTable finds the documentation's configuration table: the first
// table under a heading "Configuration" in README.md or docs/*.md, as
// name -> default cell. A row may name several variables.
func configTable(t *testing.T, root string) (file string, rows map[string]string) {
	t.Helper()
	files := []string{filepath.Join(root, "README.md")}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, docs...)
	heading := regexp.MustCompile(`^#{1,6}\s+Configuration\s*$`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			if !heading.MatchString(l) {
				continue
			}
			rows = map[string]string{}
			inTable := false
			for _, l := range lines[i+1:] {
				if strings.HasPrefix(l, "#") {
					break
				}
				if !strings.HasPrefix(l, "|") {
					if inTable {
						break
					}
					continue
				}
				inTable = true
				cells := strings.Split(strings.Trim(l, "|"), "|")
				if len(cells) < 3 {
					t.Fatalf("%s: a row with %d cells: %s", f, len(cells), l)
				}
				for _, name := range regexp.MustCompile("`(CERTDROP_[^`]*)`").FindAllStringSubmatch(cells[0], -1) {
					if _, dup := rows[name[1]]; dup {
						t.Errorf("%s: %s is in the table twice", f, name[1])
					}
					rows[name[1]] = strings.TrimSpace(cells[1])
				}
			}
			return f, rows
		}
	}
	t.Fatalf("no heading \"Configuration\" in %v", files)
	return "", nil
}

// TestDocumentedTable: the documentation's configuration table holds
// every variable with its default, and nothing undeclared.
func TestDocumentedTable(t *testing.T) {
	file, rows := configTable(t, root)
	for _, v := range Vars() {
		got, ok := rows[v.Name]
		if !ok {
			t.Errorf("%s: %s is not in the configuration table", file, v.Name)
			continue
		}
		if got != v.Documented() {
			t.Errorf("%s: %s's default is %q, declared %q", file, v.Name, got, v.Documented())
		}
	}
	for name := range rows {
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s: the table lists %s, which shared/config does not declare", file, name)
		}
	}
}

// TestConfigTableInDocs: the table is found under its heading in docs/
// as well as in the README.
func TestConfigTableInDocs(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"README.md":        "# certdrop\n\n| a | b | c |\n|---|---|---|\n| `CERTDROP_NOT_IT` | x | y |\n",
		"docs/manifest.md": "# Manifest\n",
		"docs/function.md": "# The function\n\n## Configuration\n\nText.\n\n| variable | default | meaning |\n|---|---|---|\n" +
			"| `CERTDROP_BUCKET` | (required) | the bucket |\n| `CERTDROP_WEBHOOK_FORMAT`, `CERTDROP_WEBHOOK_ON` | | two |\n\nAfter.\n| `CERTDROP_LATER` | | not the table |\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file, rows := configTable(t, dir)
	want := map[string]string{"CERTDROP_BUCKET": "(required)", "CERTDROP_WEBHOOK_FORMAT": "", "CERTDROP_WEBHOOK_ON": ""}
	if filepath.Base(file) != "function.md" || !maps.Equal(rows, want) {
		t.Fatalf("%s: %v, want function.md: %v", file, rows, want)
	}
}

// simOutputs are the variables the emulator prints for scripts (the ACME
// directory it serves, the root its chains end at); certdrop does not read
// them, so they are the emulator's to declare.
var simOutputs = []string{"CERTDROP_ACME_DIRECTORY", "CERTDROP_SIM_ACME_ISSUER_ROOT"}

// TestNamedHereOnly: outside this package, no Go code spells a variable's
// name as a string of its own ("CERTDROP_X", or "CERTDROP_X=" in an
// environment list): it names the constant here, so that each variable is
// declared once. Messages that mention a name in a sentence are not
// declarations and are left alone.
func TestNamedHereOnly(t *testing.T) {
	name := regexp.MustCompile(`^CERTDROP_[A-Z0-9_]+=?$`)
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch {
			case path == filepath.Join(root, "shared", "config"):
				return filepath.SkipDir // this package: the declarations
			case d.Name() == ".git", d.Name() == "testdata", d.Name() == "dist":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !name.MatchString(s) {
				return true
			}
			bare := strings.TrimSuffix(s, "=")
			if slices.Contains(simOutputs, bare) && strings.Contains(filepath.ToSlash(path), "shared/cloudsim/") {
				return true
			}
			t.Errorf("%s: %q: use the constant of shared/config", path, s)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d Go files checked", files)
	}
}
