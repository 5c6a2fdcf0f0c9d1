package manifest

import (
	"strings"
	"testing"
)

// TestProbeSettings: probe (defaults and per target) and probeName decide
// which name each target is probed at, and the schema accepts what Parse
// accepts.
func TestProbeSettings(t *testing.T) {
	in := lines("version: 1",
		"defaults:",
		"  probe: false",
		"targets:",
		"  - product: cdn",
		"    domains: [www.example.com, \"*.example.com\"]",
		"    probe: true",
		"    probeName: WWW.example.com",
		"  - product: cdn",
		"    domain: \"*.other.org\"",
		"    probe: true",
		"  - product: vod",
		"    domain: vod.example.com",
		"  - product: dcdn",
		"    domain: .dcdn.example.com",
		"    probe: true",
		"    probeName: a.dcdn.example.com",
	)
	m, err := parseTest("m.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"www.example.com": "www.example.com", "*.example.com": "www.example.com",
		"*.other.org": "", "vod.example.com": "", ".dcdn.example.com": "a.dcdn.example.com"}
	for _, tg := range m.Targets {
		name, ok := tg.ProbeAt()
		if name != want[tg.Domain] || ok != (want[tg.Domain] != "") {
			t.Errorf("%s: ProbeAt() = %q, %v; want %q", tg, name, ok, want[tg.Domain])
		}
	}
	if err := schemaValidate(compileSchema(t), []byte(in)); err != nil {
		t.Errorf("the schema refuses what Parse accepts: %v", err)
	}
	// Without defaults.probe every domain is probed; a product not served
	// by name never is.
	m, err = parseTest("m.yaml", []byte(lines("version: 1", "targets:", "  - product: live", "    domain: pull.example.com")))
	if err != nil {
		t.Fatal(err)
	}
	if name, ok := m.Targets[0].ProbeAt(); !ok || name != "pull.example.com" {
		t.Errorf("default: %q %v", name, ok)
	}
	// A product whose targets are not domains, or that says its targets
	// are not served by name, is never probed; probe: true is refused.
	cat := listenerCatalog()
	cat = append(cat, Spec{Name: "gw", NoProbe: true})
	m, err = Parse("m.yaml", []byte(lines("version: 1", "targets:",
		"  - product: lb", "    region: cn-hangzhou", "    listener: lsn-1", "    domain: api.example.com",
		"  - product: gw", "    domain: gw.example.com")), cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range m.Targets {
		if _, ok := tg.ProbeAt(); ok {
			t.Errorf("%s is probed", tg)
		}
	}
	_, err = Parse("m.yaml", []byte(lines("version: 1", "targets:", "  - product: gw", "    domain: gw.example.com", "    probe: true")), cat)
	if err == nil || !strings.Contains(err.Error(), "m.yaml:5:12: probe: true is not possible for gw") {
		t.Errorf("probe: true on a product not served by name: %v", err)
	}
}

func TestProbeErrors(t *testing.T) {
	head := []string{"version: 1", "targets:", "  - product: cdn"}
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"probe not a boolean", []string{"    domain: www.example.com", "    probe: maybe"},
			"m.yaml:5:12: probe must be true or false, not a string"},
		{"defaults.probe not a boolean", nil, ""},
		{"probeName without a wildcard", []string{"    domain: www.example.com", "    probeName: www.example.com"},
			"m.yaml:5:16: probeName is only for wildcard domains: every other domain is probed at itself"},
		{"probeName a wildcard", []string{"    domain: \"*.example.com\"", "    probeName: \"*.example.com\""},
			`m.yaml:5:16: probeName "*.example.com" is a wildcard: name one host the wildcard covers (an edge cannot be asked for a wildcard)`},
		{"probeName not covered", []string{"    domain: \"*.example.com\"", "    probeName: www.other.org"},
			`m.yaml:5:16: probeName "www.other.org" is not covered by *.example.com (line 4): name a host one label under it`},
		{"probeName two labels down", []string{"    domain: \"*.example.com\"", "    probeName: a.b.example.com"},
			`m.yaml:5:16: probeName "a.b.example.com" is not covered by *.example.com (line 4): name a host one label under it`},
		{"probeName a URL", []string{"    domain: \"*.example.com\"", "    probeName: https://www.example.com"},
			`m.yaml:5:16: probeName: domain "https://www.example.com" is a URL: write the host name only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := lines(append(append([]string{}, head...), tt.in...)...)
			if tt.in == nil {
				in = lines("version: 1", "defaults:", "  probe: 1", "targets:", "  - product: cdn", "    domain: www.example.com")
				tt.want = "m.yaml:3:10: probe must be true or false, not an integer"
			}
			_, err := parseTest("m.yaml", []byte(in))
			if err == nil {
				t.Fatal("accepted")
			}
			if got := strings.TrimSuffix(err.Error(), "\n"); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
