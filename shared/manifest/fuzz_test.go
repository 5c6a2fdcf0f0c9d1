package manifest

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadManifest feeds arbitrary bytes to Parse. It must never panic and
// must return either a valid Manifest or Errors, never both or neither. A
// manifest Parse accepts must hold its invariants and be accepted by the
// JSON Schema too (the schema may reject less, never more).
func FuzzLoadManifest(f *testing.F) {
	err := filepath.WalkDir(manifestsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) == ".err" {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil {
			f.Add(data)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"",
		"---",
		"~",
		"[]",
		"{}",
		"version: 1",
		"version: 1\ntargets:",
		"version: 1\ntargets: [~]",
		"version: 1\ntargets: [{product: cdn, domain: ~}]",
		"version: 1\ntargets: [{product: cdn, domains: [a.example.com, *.example.com]}]",
		"version: 1\ntargets: [{product: vod, domain: .example.com}]",
		"version: 1\ntargets: [{product: cdn, domain: xn--bcher-kva.example, domains: [bücher.example]}]",
		"version: 1\ntargets: [&a {product: cdn, domain: a.example.com}, *a, *b]",
		"version: 1\ntargets: [{product: cdn, domains: &l [a.example.com]}, {product: vod, domains: *l}]",
		"version: 1\ntargets: [{<<: {product: cdn}, domain: a.example.com}]",
		"version: 1.0\ndefaults: {warnDays: 1e3, canary: -0}\ntargets: [{product: live, domain: a.example.com}]",
		"version: 1\ndefaults: {warnDays: .inf, canary: .nan}\ntargets: []",
		"version: 1\ntargets: [{product: cdn, domain: !!binary aGVsbG8=}]",
		"version: 1\ntargets: [{product: cdn, domain: !custom a.example.com}]",
		"version: 1\ntargets: [{? [complex]: key, product: cdn, domain: a.example.com}]",
		"{\"version\": 1, \"targets\": [{\"product\": \"cdn\", \"domain\": \"a\\u002eexample.com\"}]}",
		"version: 1\n---\nversion: 1\n",
		"\xef\xbb\xbfversion: 1\ntargets: [{product: cdn, domain: a.example.com}]",
		"version: 1\r\ntargets:\r\n  - product: cdn\r\n    domain: a.example.com\r\n",
		"version: 1\ntargets: [{product: cdn, domain: \"a.example.com\\u0000\"}]",
		"version: 1\ntargets: [{product: cdn, domain: \"www\u3002example\u3002com\"}]",
		"version: 1\ntargets: [{product: cdn, domain: \"ＷＷＷ.example.com\"}]",
		"version: 1\ntargets: [{product: cdn, domain: a.example.com}]\ncertificates: [{name: a, domains: [a.example.com], dns: alidns}]",
		"version: 1\ntargets: [{product: cdn, domain: a.example.com}]\ncertificates: [{name: a, domains: [\"*.a.example.com\", a.example.com], dns: {provider: rfc2136, server: \"ns:53\", keyName: k, keyEnv: CERTDROP_SECRET_K}, renewBefore: 1d2h3m}]",
		"version: 1\ntargets: [{product: cdn, domain: a.example.com}]\ncertificates: [{name: a, domains: [a.example.com], dns: cloudflare, issuer: \"https://ca.example/dir\", email: a@b, eab: {keyIdEnv: CERTDROP_SECRET_A, macKeyEnv: CERTDROP_SECRET_B}}]",
		"version: 1\ntargets: [{product: cdn, domain: a.example.com}]\ncertificates: [{name: a, domains: [a.example.com], dns: alidns, renewBefore: 213504d}]",
		"version: 1\ntargets: [{product: cdn, domain: a.example.com}]\ncertificates: [{name: a, domains: [a.example.com], dns: alidns, renewBefore: 106751d23h59m}]",
		"version: 1\ntargets: [{product: cdn, domain: a.example.com}]\ncertificates: [&c {name: a, domains: [a.example.com], dns: alidns}, *c]",
		"version: 1\ntargets: [{product: cdn, domain: a.example.com}]\ncertificates: ~",
		"a: &a [*a]",
		"&a [*a, *a]",
	} {
		f.Add([]byte(s))
	}
	sch := compileSchema(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseTest("fuzz.yaml", data)
		if (m == nil) == (err == nil) {
			t.Fatalf("Parse returned manifest %v and error %v: want exactly one", m != nil, err)
		}
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T is not a non-empty Errors", err)
			}
			// YAML breaks lines at LF, CR, CRLF, NEL, LS and PS; yaml.v3
			// may place an error just past the last line.
			text := strings.ReplaceAll(string(data), "\r\n", "\n")
			nlines := 1 + strings.Count(text, "\n") + strings.Count(text, "\r") +
				strings.Count(text, "\u0085") + strings.Count(text, "\u2028") + strings.Count(text, "\u2029")
			for _, e := range es {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 || e.Line > nlines+1 || e.Column < 0 {
					t.Fatalf("malformed error %+v (input has %d lines)", *e, nlines)
				}
			}
			return
		}
		checkInvariants(t, m)
		if err := schemaValidate(sch, data); err != nil {
			t.Fatalf("Parse accepts what the schema rejects: %v", err)
		}
	})
}

// checkInvariants checks what every manifest Parse returns must satisfy.
func checkInvariants(t *testing.T, m *Manifest) {
	t.Helper()
	if m.Version != Version || len(m.Targets) == 0 || len(m.Targets) > MaxTargets {
		t.Fatalf("version %d, %d targets", m.Version, len(m.Targets))
	}
	for _, c := range m.Certificates {
		if !folderName.MatchString(c.Name) || len(c.Domains) == 0 || c.Directory == "" || c.DNS.Provider == "" || c.RenewBefore < 0 {
			t.Fatalf("certificate %+v", c)
		}
	}
	if m.Defaults.WarnDays < 0 || m.Defaults.Canary < 0 {
		t.Fatalf("negative defaults %+v", m.Defaults)
	}
	seen := map[string]bool{}
	for _, tg := range m.Targets {
		spec, ok := TestProducts.spec(tg.Product)
		if !ok || tg.Line < 1 {
			t.Fatalf("target %+v", tg)
		}
		var norm string
		for _, name := range tg.Covered() {
			n, err := checkDomain(name)
			if err != nil {
				t.Fatalf("target %+v has an invalid domain: %v", tg, err)
			}
			if spec.NoWildcard != "" && strings.HasPrefix(n, "*.") {
				t.Fatalf("target %+v: a wildcard", tg)
			}
			norm = n
		}
		if len(spec.Address) > 0 {
			norm = tg.Address
		}
		key := spec.resource() + " " + norm
		if seen[key] {
			t.Fatalf("duplicate target %+v", tg)
		}
		seen[key] = true
		values := map[string]string{}
		maps.Copy(values, tg.Fields)
		if tg.Region != "" {
			values["region"] = tg.Region
		}
		for name, v := range values {
			f, takes := spec.field(name)
			if !takes || f.Check != nil && f.Check(v) != "" {
				t.Fatalf("target %+v: field %s=%q", tg, name, v)
			}
		}
		for _, f := range spec.Fields {
			if _, set := values[f.Name]; !set && f.Missing != "" {
				t.Fatalf("target %+v: no %s", tg, f.Name)
			}
		}
		if tg.Staging && spec.NoStaging != "" {
			t.Fatalf("target %+v: staging", tg)
		}
	}
}
