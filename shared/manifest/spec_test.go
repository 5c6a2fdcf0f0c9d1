package manifest

import (
	"reflect"
	"strings"
	"testing"
)

// listenerCatalog is a catalog with a product whose targets are not
// domains (a load balancer's listener, the names its certificate must
// cover in domains), beside a domain product: the shape of the listener,
// load balancer and site products, for the manifest's own mechanism.
func listenerCatalog() Catalog {
	return Catalog{
		{Name: "cdn"},
		{
			Name: "lb",
			Fields: []Field{
				{Name: "region", Missing: "lb target has no region"},
				{Name: "listener", Missing: "lb target has no listener", Check: func(s string) string {
					if !strings.HasPrefix(s, "lsn-") {
						return "a listener id starts with lsn-"
					}
					return ""
				}},
				{Name: "port", Kind: Integer, Default: "443"},
				{Name: "sni", Kind: Boolean},
			},
			Address:   []string{"listener"},
			NoStaging: "its API has no Env parameter",
		},
	}
}

// TestTargetsThatAreNotDomains: a product with address fields makes one
// target per entry, its domains the names the certificate must cover;
// its fields are read by kind and checked; duplicates are found by
// address; another product's target cannot have its fields; a
// certificate covers such a target only when it names every name.
func TestTargetsThatAreNotDomains(t *testing.T) {
	cat := listenerCatalog()
	m, err := Parse("lb.yaml", []byte(`version: 1
targets:
  - product: lb
    region: cn-hangzhou
    listener: lsn-1
    domains: [api.example.com, "*.example.com"]
    sni: true
  - product: cdn
    domain: www.example.com
`), cat)
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{
		{Product: "lb", Names: []string{"api.example.com", "*.example.com"}, Address: "lsn-1", Region: "cn-hangzhou",
			Fields: map[string]string{"listener": "lsn-1", "port": "443", "sni": "true"}, Line: 3, NoProbe: true},
		{Product: "cdn", Domain: "www.example.com", Line: 9},
	}
	if !reflect.DeepEqual(m.Targets, want) {
		t.Fatalf("targets:\n got %+v\nwant %+v", m.Targets, want)
	}
	if got := m.Targets[0].String(); got != "lb lsn-1" {
		t.Errorf("String() = %q", got)
	}

	covered, _ := m.Match(newLeaf(t, "api.example.com", "api.example.com", "*.example.com"), "")
	if len(covered) != 2 {
		t.Errorf("a certificate naming both names covers %d targets, want 2", len(covered))
	}
	covered, _ = m.Match(newLeaf(t, "api.example.com", "api.example.com"), "")
	if len(covered) != 0 {
		t.Errorf("a certificate naming one of the listener's names covers %v, want nothing", covered)
	}

	_, err = Parse("bad.yaml", []byte(`version: 1
targets:
  - product: lb
    listener: lsn-1
    domain: a.example.com
    port: https
    sni: "yes"
  - product: lb
    region: cn-hangzhou
    listener: lsn-1
    domain: b.example.com
  - product: lb
    region: cn-hangzhou
    listener: lb-2
    domain: c.example.com
  - product: cdn
    domain: d.example.com
    listener: lsn-3
`), cat)
	for _, w := range []string{
		"bad.yaml:3:5: lb target has no region",
		"bad.yaml:6:11: port must be an integer, not a string",
		"bad.yaml:7:10: sni must be true or false, not a string",
		"bad.yaml:8:5: duplicate target: lb lsn-1 is already listed on line 3",
		"bad.yaml:14:15: a listener id starts with lsn-",
		"bad.yaml:18:5: listener is only for lb targets, not cdn",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("errors lack %q:\n%v", w, err)
		}
	}
}

// TestOnlyForNamesEveryTaker: a field given to a product that does not
// take it names every product that does.
func TestOnlyForNamesEveryTaker(t *testing.T) {
	cat := append(listenerCatalog(), Spec{Name: "fc", Fields: []Field{{Name: "region"}}})
	_, err := Parse("x.yaml", []byte("version: 1\ntargets:\n  - product: cdn\n    domain: a.example.com\n    region: cn-hangzhou\n"), cat)
	if err == nil || !strings.Contains(err.Error(), "region is only for lb and fc targets, not cdn") {
		t.Errorf("got %v", err)
	}
	if got := join([]string{"a", "b", "c"}, "or"); got != "a, b or c" {
		t.Errorf("join = %q", got)
	}
}
