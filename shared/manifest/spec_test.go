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

// casOnlyCatalog is a catalog with a load balancer product whose Set API
// takes CAS references only, whose CAS region follows the target's region,
// and whose default and additional (sni) certificates are distinct
// targets.
func casOnlyCatalog() Catalog {
	return Catalog{
		{Name: "cdn"},
		{
			Name: "lb",
			Fields: []Field{
				{Name: "region", Missing: "lb target has no region"},
				{Name: "listener", Missing: "lb target has no listener"},
				{Name: "sni", Kind: Boolean, Default: "false"},
			},
			Address:   []string{"listener"},
			NoStaging: "its API has no Env parameter",
			CASOnly:   "its Set API takes a CAS certificate id only",
			CASRegionOf: func(region string) string {
				if strings.HasPrefix(region, "cn-") {
					return CASRegionMainland
				}
				return CASRegionInternational
			},
			CheckTarget: func(t Target) string {
				if t.Field("sni") == "true" && len(t.Names) != 1 {
					return "an sni target names exactly one domain"
				}
				return ""
			},
			AddressOf: func(t Target) string {
				if t.Field("sni") == "true" {
					return t.Field("listener") + "/" + strings.Join(t.Names, ",")
				}
				return t.Field("listener")
			},
		},
	}
}

// TestCASOnlyAndRegionalCAS: a CAS-only product's targets are delivered
// by CAS whatever the defaults say; delivery: upload on one is an error at
// its line; the CAS region follows the target's region unless the target
// sets casRegion; AddressOf makes a listener's default and additional
// certificates distinct targets, and repeats of either duplicates.
func TestCASOnlyAndRegionalCAS(t *testing.T) {
	cat := casOnlyCatalog()
	m, err := Parse("lb.yaml", []byte(`version: 1
defaults:
  casRegion: ap-southeast-1
targets:
  - product: lb
    region: cn-hangzhou
    listener: lsn-1
    domain: api.example.com
  - product: lb
    region: cn-hangzhou
    listener: lsn-1
    domain: www.example.com
    sni: true
  - product: lb
    region: eu-central-1
    listener: lsn-2
    domain: eu.example.com
  - product: lb
    region: cn-beijing
    listener: lsn-3
    domain: b.example.com
    casRegion: ap-southeast-1
  - product: cdn
    domain: cdn.example.com
`), cat)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ addr, region string }{
		{"lsn-1", CASRegionMainland}, {"lsn-1/www.example.com", CASRegionMainland},
		{"lsn-2", CASRegionInternational}, {"lsn-3", CASRegionInternational}, {"", CASRegionInternational},
	}
	for i, w := range want {
		got := m.Targets[i]
		if got.Address != w.addr || got.CertRegion() != w.region {
			t.Errorf("target %d: address %q CAS region %s; want %q %s", i, got.Address, got.CertRegion(), w.addr, w.region)
		}
		if i < 4 && !got.CAS() {
			t.Errorf("target %d (%s): delivery %q; want cas", i, got, got.Delivery)
		}
	}
	if m.Targets[4].CAS() {
		t.Errorf("the cdn target is delivered by CAS; want upload (the default)")
	}

	_, err = Parse("bad.yaml", []byte(`version: 1
targets:
  - product: lb
    region: cn-hangzhou
    listener: lsn-1
    domain: api.example.com
    delivery: upload
  - product: lb
    region: cn-hangzhou
    listener: lsn-1
    domain: www.example.com
  - product: lb
    region: cn-hangzhou
    listener: lsn-1
    domain: x.example.com
    sni: true
  - product: lb
    region: cn-hangzhou
    listener: lsn-1
    domain: x.example.com
    sni: true
  - product: lb
    region: cn-hangzhou
    listener: lsn-9
    domains: [y.example.com, z.example.com]
    sni: true
`), cat)
	for _, w := range []string{
		"bad.yaml:22:5: an sni target names exactly one domain",
		"bad.yaml:7:15: delivery: upload is not possible for lb: its Set API takes a CAS certificate id only",
		"bad.yaml:8:5: duplicate target: lb lsn-1 is already listed on line 3",
		"bad.yaml:17:5: duplicate target: lb lsn-1/x.example.com is already listed on line 12",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("errors lack %q:\n%v", w, err)
		}
	}
}
