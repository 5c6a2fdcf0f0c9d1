package cloudsim

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsConfig is testConfig with two zones: example.test on the free edition
// (TTL at least 600) with a CNAME delegating its ACME challenge to
// delegated.example.net, an enterprise zone (TTL at least 1).
func dnsConfig() Config {
	cfg := testConfig()
	cfg.Quotas = map[string]float64{"AddDomainRecord": -1, "DescribeDomainRecords": -1}
	cfg.DNS = DNSSettings{Zones: []ZoneSettings{
		{Name: "example.test", Records: []RecordSettings{
			{RR: "@", Type: "A", Value: "192.0.2.1"},
			{RR: "www", Type: "A", Value: "192.0.2.2"},
			{RR: "www", Type: "AAAA", Value: "2001:db8::2"},
			{RR: "_acme-challenge.cdn", Type: "CNAME", Value: "_acme-challenge.cdn.delegated.example.net"},
			{RR: "mail", Type: "MX", Value: "mx.example.test", Priority: 5},
			{RR: "*.wild", Type: "TXT", Value: "wildcard"},
			{RR: "a.b.deep", Type: "TXT", Value: "deep"},
		}},
		{Name: "Delegated.Example.NET.", Edition: EditionEnterprise},
	}}
	return cfg
}

// records returns DomainRecords.Record of a Describe*Records answer.
func records(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	dr, _ := body["DomainRecords"].(map[string]any)
	list, _ := dr["Record"].([]any)
	var out []map[string]any
	for _, r := range list {
		out = append(out, r.(map[string]any))
	}
	return out
}

func TestAliDNSAddDescribeDelete(t *testing.T) {
	s := startSim(t, dnsConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	ctx := context.Background()
	add := func(form map[string]string) (string, string, int) {
		t.Helper()
		body, err := c.call(ctx, "AddDomainRecord", form)
		code, status := codeOf(err)
		id, _ := body["RecordId"].(string)
		return id, code, status
	}
	txt := map[string]string{"DomainName": "example.test", "RR": "_acme-challenge", "Type": "TXT", "Value": "token-1", "TTL": "600"}
	id, code, _ := add(txt)
	if code != "" || id == "" {
		t.Fatalf("AddDomainRecord: %q, RecordId %q", code, id)
	}

	tests := []struct {
		name       string
		form       map[string]string
		code       string
		wantStatus int
	}{
		{"duplicate", txt, "DomainRecordDuplicate", 400},
		{"duplicate whatever the case of RR and Type", map[string]string{"DomainName": "EXAMPLE.test", "RR": "_ACME-challenge", "Type": "txt", "Value": "token-1"}, "DomainRecordDuplicate", 400},
		{"second value at the same name", map[string]string{"DomainName": "example.test", "RR": "_acme-challenge", "Type": "TXT", "Value": "token-2"}, "", 200},
		{"TTL below the free edition's 600", map[string]string{"DomainName": "example.test", "RR": "x", "Type": "TXT", "Value": "v", "TTL": "60"}, "QuotaExceeded.TTL", 400},
		{"TTL above 86400", map[string]string{"DomainName": "example.test", "RR": "x", "Type": "TXT", "Value": "v", "TTL": "86401"}, "QuotaExceeded.TTL", 400},
		{"TTL 1 on enterprise", map[string]string{"DomainName": "delegated.example.net", "RR": "_acme-challenge.cdn", "Type": "TXT", "Value": "v", "TTL": "1"}, "", 200},
		{"zone not in the account", map[string]string{"DomainName": "other.test", "RR": "x", "Type": "TXT", "Value": "v"}, "InvalidDomainName.NoExist", 400},
		{"TXT beside a CNAME", map[string]string{"DomainName": "example.test", "RR": "_acme-challenge.cdn", "Type": "TXT", "Value": "v"}, "DomainRecordConflict", 400},
		{"CNAME beside a TXT", map[string]string{"DomainName": "example.test", "RR": "_acme-challenge", "Type": "CNAME", "Value": "x.example.net"}, "DomainRecordConflict", 400},
		{"no RR", map[string]string{"DomainName": "example.test", "Type": "TXT", "Value": "v"}, "MissingRR", 400},
		{"no DomainName", map[string]string{"RR": "x", "Type": "TXT", "Value": "v"}, "MissingDomainName", 400},
		{"bad A value", map[string]string{"DomainName": "example.test", "RR": "x", "Type": "A", "Value": "2001:db8::1"}, "InvalidParameter", 400},
		{"bad RR", map[string]string{"DomainName": "example.test", "RR": "a b", "Type": "TXT", "Value": "v"}, "InvalidParameter", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, code, status := add(tt.form)
			if code != tt.code || status != tt.wantStatus {
				t.Fatalf("got %q (HTTP %d), want %q (HTTP %d)", code, status, tt.code, tt.wantStatus)
			}
		})
	}

	body, err := c.call(ctx, "DescribeSubDomainRecords", map[string]string{"SubDomain": "_acme-challenge.example.test", "Type": "TXT"})
	if err != nil {
		t.Fatal(err)
	}
	got := records(t, body)
	if len(got) != 2 || fmt.Sprint(body["TotalCount"]) != fmt.Sprint(2) || got[0]["Value"] != "token-2" || got[1]["RecordId"] != id ||
		got[1]["RR"] != "_acme-challenge" || fmt.Sprint(got[1]["TTL"]) != "600" || got[1]["DomainName"] != "example.test" {
		t.Fatalf("DescribeSubDomainRecords: %v", body)
	}

	if _, err := c.call(ctx, "DeleteDomainRecord", map[string]string{"RecordId": id}); err != nil {
		t.Fatal(err)
	}
	_, err = c.call(ctx, "DeleteDomainRecord", map[string]string{"RecordId": id})
	if code, _ := codeOf(err); code != "DomainRecordNotBelongToUser" {
		t.Fatalf("deleting twice: %q", code)
	}
	var left []string
	for _, r := range s.DNSRecords("example.test") {
		if r.Type == "TXT" && strings.HasPrefix(r.RR, "_acme-challenge") {
			left = append(left, r.Value)
		}
	}
	if strings.Join(left, ",") != "token-2" {
		t.Fatalf("TXT records left: %v", left)
	}

	// The journal names every alidns call with its zone and record.
	var adds, deletes int
	for _, e := range s.Journal().Entries() {
		if e.Service != ProductDNS {
			t.Fatalf("service %q for %s", e.Service, e.API)
		}
		switch {
		case e.API == "AddDomainRecord" && e.Outcome == "ok":
			adds++
			if e.RecordID == "" || e.RecordType == "" || e.Domain == "" {
				t.Errorf("add entry: %+v", e)
			}
		case e.API == "DeleteDomainRecord" && e.Outcome == "ok":
			deletes++
			if e.RecordID != id || e.Domain != "example.test" || e.RR != "_acme-challenge" || e.RecordType != "TXT" || e.Value != "token-1" {
				t.Errorf("delete entry: %+v", e)
			}
		}
	}
	if adds != 3 || deletes != 1 {
		t.Fatalf("journal: %d adds, %d deletes", adds, deletes)
	}
}

func TestAliDNSDescribeDomainRecordsFiltersAndPages(t *testing.T) {
	s := startSim(t, dnsConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	ctx := context.Background()
	for i := range 5 {
		if _, err := s.AddDNSRecord("example.test", fmt.Sprintf("host%d", i), "TXT", fmt.Sprintf("v%d", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		form  map[string]string
		total int
		rrs   string
	}{
		{"all, newest first", map[string]string{"DomainName": "example.test", "PageSize": "3"}, 12, "host4,host3,host2"},
		{"page 2", map[string]string{"DomainName": "example.test", "PageSize": "3", "PageNumber": "2"}, 12, "host1,host0,a.b.deep"},
		{"past the end", map[string]string{"DomainName": "example.test", "PageNumber": "9"}, 12, ""},
		{"RRKeyWord contains", map[string]string{"DomainName": "example.test", "RRKeyWord": "HOST", "Type": "TXT"}, 5, "host4,host3,host2,host1,host0"},
		{"RRKeyWord exact", map[string]string{"DomainName": "example.test", "RRKeyWord": "host3", "SearchMode": "EXACT"}, 1, "host3"},
		{"TypeKeyWord", map[string]string{"DomainName": "example.test", "TypeKeyWord": "aaaa"}, 1, "www"},
		{"ValueKeyWord", map[string]string{"DomainName": "example.test", "ValueKeyWord": "delegated"}, 1, "_acme-challenge.cdn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := c.call(ctx, "DescribeDomainRecords", tt.form)
			if err != nil {
				t.Fatal(err)
			}
			var rrs []string
			for _, r := range records(t, body) {
				rrs = append(rrs, r["RR"].(string))
			}
			if fmt.Sprint(body["TotalCount"]) != fmt.Sprint(tt.total) || strings.Join(rrs, ",") != tt.rrs {
				t.Fatalf("TotalCount %v, RRs %v; want %d, %s", body["TotalCount"], rrs, tt.total, tt.rrs)
			}
		})
	}
	// Each listing's PageSize range, as its current reference gives it.
	for _, pc := range []struct {
		action string
		params map[string]string
		size   string
		ok     bool
	}{
		{"DescribeDomainRecords", map[string]string{"DomainName": "example.test"}, "500", true},
		{"DescribeDomainRecords", map[string]string{"DomainName": "example.test"}, "501", false},
		{"DescribeSubDomainRecords", map[string]string{"SubDomain": "host1.example.test"}, "100", true},
		{"DescribeSubDomainRecords", map[string]string{"SubDomain": "host1.example.test"}, "101", false},
		{"DescribeSubDomainRecords", map[string]string{"SubDomain": "host1.example.test"}, "500", false},
		{"DescribeSubDomainRecords", map[string]string{"SubDomain": "host1.example.test"}, "0", false},
		{"DescribeDomains", map[string]string{}, "100", true},
		{"DescribeDomains", map[string]string{}, "101", false},
	} {
		params := map[string]string{"PageSize": pc.size}
		for k, v := range pc.params {
			params[k] = v
		}
		_, err := c.call(ctx, pc.action, params)
		code, _ := codeOf(err)
		if pc.ok && err != nil || !pc.ok && code != "InvalidParameter" {
			t.Errorf("%s PageSize %s: %v; want ok %t", pc.action, pc.size, err, pc.ok)
		}
	}
	var err error
	_, err = c.call(ctx, "DescribeDomainRecords", map[string]string{"DomainName": "nope.test"})
	if code, _ := codeOf(err); code != "InvalidDomainName.NoExist" {
		t.Fatalf("unknown zone: %q", code)
	}
}

func TestAliDNSZonesAndMainDomain(t *testing.T) {
	s := startSim(t, dnsConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	ctx := context.Background()
	body, err := c.call(ctx, "DescribeDomains", nil)
	if err != nil {
		t.Fatal(err)
	}
	list := body["Domains"].(map[string]any)["Domain"].([]any)
	var names []string
	for _, d := range list {
		m := d.(map[string]any)
		names = append(names, m["DomainName"].(string))
		ns := m["DnsServers"].(map[string]any)["DnsServer"].([]any)
		if len(ns) != 2 || ns[0] != "ns1.cloudsim.test" || m["DomainId"] == "" {
			t.Errorf("domain %v", m)
		}
	}
	if strings.Join(names, ",") != "delegated.example.net,example.test" || fmt.Sprint(body["TotalCount"]) != fmt.Sprint(2) {
		t.Fatalf("DescribeDomains: %v", body)
	}
	body, err = c.call(ctx, "DescribeDomains", map[string]string{"KeyWord": "delegated"})
	if err != nil || fmt.Sprint(body["TotalCount"]) != fmt.Sprint(1) {
		t.Fatalf("KeyWord: %v %v", body, err)
	}

	tests := []struct {
		in, domain, rr string
		level          float64
		code           string
	}{
		{"www.example.test", "example.test", "www", 2, ""},
		{"example.test", "example.test", "@", 1, ""},
		{"_acme-challenge.a.example.co.uk", "example.co.uk", "_acme-challenge.a", 3, ""},
		{"_acme-challenge.cdn.delegated.example.net", "example.net", "_acme-challenge.cdn.delegated", 4, ""},
		{strings.Repeat("a", 120) + ".example.test", "", "", 0, "QuotaExceeded.StringLength"},
		{"bad..name", "", "", 0, "InvalidDomainName.Format"},
	}
	for _, tt := range tests {
		body, err := c.call(ctx, "GetMainDomainName", map[string]string{"InputString": tt.in})
		code, _ := codeOf(err)
		if code != tt.code || (code == "" && (body["DomainName"] != tt.domain || body["RR"] != tt.rr || fmt.Sprint(body["DomainLevel"]) != fmt.Sprint(tt.level))) {
			t.Errorf("GetMainDomainName(%s): %q %v", tt.in, code, body)
		}
	}
}

func TestAliDNSSignatureQuotaAndFaults(t *testing.T) {
	cfg := dnsConfig()
	cfg.Quotas = map[string]float64{"AddDomainRecord": 0.001}
	cfg.Credentials = append(cfg.Credentials, Credential{AccessKeyID: "dnsRO", AccessKeySecret: "dnsROSK", DenyActions: []string{"AddDomainRecord"}})
	cfg.Faults.Scripted = []Script{{Domain: "delegated.example.net", API: "DeleteDomainRecord", Code: "LastOperationNotFinished", Times: 1}}
	s := startSim(t, cfg)
	ep := s.Endpoints().OpenAPI
	ctx := context.Background()
	c := newSDK(t, ep, "simAK", "simSK", "")
	form := func(v string) map[string]string {
		return map[string]string{"DomainName": "delegated.example.net", "RR": "_acme-challenge", "Type": "TXT", "Value": v, "TTL": "1"}
	}

	_, err := newSDK(t, ep, "simAK", "wrong", "").call(ctx, "AddDomainRecord", form("a"))
	if code, _ := codeOf(err); code != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: %q", code)
	}
	_, err = newSDK(t, ep, "dnsRO", "dnsROSK", "").call(ctx, "AddDomainRecord", form("a"))
	if code, status := codeOf(err); code != "Forbidden.RAM" || status != 403 {
		t.Fatalf("denied action: %q %d", code, status)
	}
	body, err := c.call(ctx, "AddDomainRecord", form("a"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.call(ctx, "AddDomainRecord", form("b"))
	if code, _ := codeOf(err); code != "Throttling.User" {
		t.Fatalf("second add within the quota's window: %q", code)
	}
	id := body["RecordId"].(string)
	_, err = c.call(ctx, "DeleteDomainRecord", map[string]string{"RecordId": id})
	if code, _ := codeOf(err); code != "LastOperationNotFinished" {
		t.Fatalf("scripted fault on the record's zone: %q", code)
	}
	if len(s.DNSRecords("delegated.example.net")) != 1 {
		t.Fatal("a failed delete removed the record")
	}
	if _, err := c.call(ctx, "DeleteDomainRecord", map[string]string{"RecordId": id}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(s.DNSRecords("delegated.example.net")); n != 0 {
		t.Fatalf("%d records left", n)
	}
	for _, e := range s.Journal().Entries() {
		if e.API == "DeleteDomainRecord" && e.Domain != "delegated.example.net" {
			t.Errorf("delete journaled for domain %q", e.Domain)
		}
	}
}

func TestAliDNSWriteSettle(t *testing.T) {
	cfg := dnsConfig()
	cfg.DNS.WriteSettle = time.Hour
	s := startSim(t, cfg)
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	ctx := context.Background()
	if _, err := c.call(ctx, "AddDomainRecord", map[string]string{"DomainName": "example.test", "RR": "a", "Type": "TXT", "Value": "1"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.call(ctx, "AddDomainRecord", map[string]string{"DomainName": "example.test", "RR": "b", "Type": "TXT", "Value": "2"})
	if code, _ := codeOf(err); code != "LastOperationNotFinished" {
		t.Fatalf("second write to the zone within the settle time: %q", code)
	}
	// Another zone is not held up.
	if _, err := c.call(ctx, "AddDomainRecord", map[string]string{"DomainName": "delegated.example.net", "RR": "b", "Type": "TXT", "Value": "2"}); err != nil {
		t.Fatal(err)
	}
}

func TestDNSConfigRejectsMistakes(t *testing.T) {
	tests := []struct {
		name string
		dns  DNSSettings
		want string
	}{
		{"public address", DNSSettings{Addr: "0.0.0.0:53"}, "not a loopback"},
		{"one-label zone", DNSSettings{Zones: []ZoneSettings{{Name: "test"}}}, "two labels"},
		{"duplicate zone", DNSSettings{Zones: []ZoneSettings{{Name: "a.test"}, {Name: "A.test."}}}, "duplicate zone"},
		{"edition", DNSSettings{Zones: []ZoneSettings{{Name: "a.test", Edition: "gold"}}}, "edition"},
		{"record type", DNSSettings{Zones: []ZoneSettings{{Name: "a.test", Records: []RecordSettings{{RR: "x", Type: "SPF", Value: "v"}}}}}, "not supported"},
		{"record value", DNSSettings{Zones: []ZoneSettings{{Name: "a.test", Records: []RecordSettings{{RR: "x", Type: "A", Value: "nope"}}}}}, "IPv4"},
	}
	for _, tt := range tests {
		cfg := testConfig()
		cfg.DNS = tt.dns
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestAliDNSExternalZoneAndScopedKey(t *testing.T) {
	cfg := dnsConfig()
	cfg.DNS.Zones = append(cfg.DNS.Zones, ZoneSettings{Name: "elsewhere.test", External: true,
		Records: []RecordSettings{{RR: "_acme-challenge", Type: "CNAME", Value: "_acme-challenge.delegated.example.net"}}})
	cfg.Credentials = append(cfg.Credentials, Credential{AccessKeyID: "scoped", AccessKeySecret: "scopedSK", DNSZones: []string{"delegated.example.net"}})
	s := startSim(t, cfg)
	ep := s.Endpoints().OpenAPI
	ctx := context.Background()
	c := newSDK(t, ep, "simAK", "simSK", "")

	// An external zone is served by the DNS server, unknown to the API.
	body, err := c.call(ctx, "DescribeDomains", nil)
	if err != nil || fmt.Sprint(body["TotalCount"]) != "2" {
		t.Fatalf("DescribeDomains lists %v zones (%v)", body["TotalCount"], err)
	}
	_, err = c.call(ctx, "AddDomainRecord", map[string]string{"DomainName": "elsewhere.test", "RR": "x", "Type": "TXT", "Value": "v"})
	if code, _ := codeOf(err); code != "InvalidDomainName.NoExist" {
		t.Fatalf("add to an external zone: %q", code)
	}
	_, err = c.call(ctx, "DeleteDomainRecord", map[string]string{"RecordId": s.DNSRecords("elsewhere.test")[0].RecordID})
	if code, _ := codeOf(err); code != "DomainRecordNotBelongToUser" {
		t.Fatalf("delete in an external zone: %q", code)
	}
	in := query(t, s.Endpoints().DNS, "udp", "_acme-challenge.elsewhere.test", dns.TypeCNAME)
	if summary(in.Answer) != "CNAME _acme-challenge.delegated.example.net." {
		t.Fatalf("external zone not served: %q", summary(in.Answer))
	}

	// A key scoped to one zone writes there and nowhere else.
	scoped := newSDK(t, ep, "scoped", "scopedSK", "")
	if _, err := scoped.call(ctx, "AddDomainRecord", map[string]string{"DomainName": "delegated.example.net", "RR": "_acme-challenge", "Type": "TXT", "Value": "v"}); err != nil {
		t.Fatalf("scoped key in its zone: %v", err)
	}
	_, err = scoped.call(ctx, "AddDomainRecord", map[string]string{"DomainName": "example.test", "RR": "_acme-challenge", "Type": "TXT", "Value": "v"})
	if code, status := codeOf(err); code != "Forbidden.RAM" || status != 403 {
		t.Fatalf("scoped key elsewhere: %q %d", code, status)
	}
	if _, err := scoped.call(ctx, "DescribeDomains", nil); err != nil {
		t.Fatalf("scoped key listing zones: %v", err)
	}
}

func TestAliDNSConcurrentWritersLeaveNothing(t *testing.T) {
	s := startSim(t, dnsConfig())
	ep, addr := s.Endpoints().OpenAPI, s.Endpoints().DNS
	ctx := context.Background()
	errs := make(chan error, 8)
	for i := range 8 {
		c := newSDK(t, ep, "simAK", "simSK", "") // t.Fatal only here, not in the goroutine
		go func() {
			zone := []string{"example.test", "delegated.example.net"}[i%2]
			value := fmt.Sprintf("token-%d", i)
			body, err := c.call(ctx, "AddDomainRecord", map[string]string{"DomainName": zone, "RR": "_acme-challenge", "Type": "TXT", "Value": value})
			if err != nil {
				errs <- err
				return
			}
			m := new(dns.Msg)
			m.SetQuestion("_acme-challenge."+zone+".", dns.TypeTXT)
			in, _, err := (&dns.Client{Net: "tcp"}).Exchange(m, addr)
			if err != nil || !strings.Contains(summary(in.Answer), value) {
				errs <- fmt.Errorf("%s not served: %v %v", value, err, in)
				return
			}
			_, err = c.call(ctx, "DeleteDomainRecord", map[string]string{"RecordId": body["RecordId"].(string)})
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, z := range []string{"example.test", "delegated.example.net"} {
		for _, r := range s.DNSRecords(z) {
			if r.Type == "TXT" && r.RR == "_acme-challenge" {
				t.Errorf("left behind: %+v", r)
			}
		}
	}
}
