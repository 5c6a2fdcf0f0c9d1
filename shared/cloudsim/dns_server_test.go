package cloudsim

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// query asks the emulator's DNS server over net ("udp" or "tcp").
func query(t *testing.T, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	in, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return in
}

// summary renders an answer section as "TYPE value" strings.
func summary(rrs []dns.RR) string {
	var out []string
	for _, r := range rrs {
		switch v := r.(type) {
		case *dns.A:
			out = append(out, "A "+v.A.String())
		case *dns.AAAA:
			out = append(out, "AAAA "+v.AAAA.String())
		case *dns.CNAME:
			out = append(out, "CNAME "+v.Target)
		case *dns.TXT:
			out = append(out, "TXT "+strings.Join(v.Txt, ""))
		case *dns.MX:
			out = append(out, "MX "+v.Mx)
		case *dns.NS:
			out = append(out, "NS "+v.Ns)
		case *dns.SOA:
			out = append(out, "SOA "+v.Ns)
		}
	}
	return strings.Join(out, "; ")
}

func TestDNSServerAnswersFromZones(t *testing.T) {
	s := startSim(t, dnsConfig())
	addr := s.Endpoints().DNS
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("DNS endpoint %q", addr)
	}
	if _, err := s.AddDNSRecord("delegated.example.net", "_acme-challenge.cdn", "TXT", "delegated-token", 1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer string
		soa    bool // SOA in the authority section
	}{
		{"apex A", "example.test", dns.TypeA, dns.RcodeSuccess, "A 192.0.2.1", false},
		{"apex SOA", "example.test", dns.TypeSOA, dns.RcodeSuccess, "SOA ns1.cloudsim.test.", false},
		{"apex NS", "EXAMPLE.test", dns.TypeNS, dns.RcodeSuccess, "NS ns1.cloudsim.test.; NS ns2.cloudsim.test.", false},
		{"A", "www.example.test", dns.TypeA, dns.RcodeSuccess, "A 192.0.2.2", false},
		{"AAAA", "www.example.test", dns.TypeAAAA, dns.RcodeSuccess, "AAAA 2001:db8::2", false},
		{"MX", "mail.example.test", dns.TypeMX, dns.RcodeSuccess, "MX mx.example.test.", false},
		{"NODATA: the name exists without TXT", "www.example.test", dns.TypeTXT, dns.RcodeSuccess, "", true},
		{"NODATA: empty non-terminal", "b.deep.example.test", dns.TypeTXT, dns.RcodeSuccess, "", true},
		{"NXDOMAIN", "nope.example.test", dns.TypeTXT, dns.RcodeNameError, "", true},
		{"NXDOMAIN below an existing name", "x.www.example.test", dns.TypeA, dns.RcodeNameError, "", true},
		{"CNAME chased into another zone", "_acme-challenge.cdn.example.test", dns.TypeTXT, dns.RcodeSuccess,
			"CNAME _acme-challenge.cdn.delegated.example.net.; TXT delegated-token", false},
		{"CNAME asked for itself", "_acme-challenge.cdn.example.test", dns.TypeCNAME, dns.RcodeSuccess,
			"CNAME _acme-challenge.cdn.delegated.example.net.", false},
		{"wildcard", "anything.wild.example.test", dns.TypeTXT, dns.RcodeSuccess, "TXT wildcard", false},
		{"name server address", "ns2.cloudsim.test", dns.TypeA, dns.RcodeSuccess, "A 127.0.0.1", false},
		{"outside every zone", "example.org", dns.TypeA, dns.RcodeRefused, "", false},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+" over "+network, func(t *testing.T) {
				in := query(t, addr, network, tt.qname, tt.qtype)
				hasSOA := slices.ContainsFunc(in.Ns, func(r dns.RR) bool { return r.Header().Rrtype == dns.TypeSOA })
				if in.Rcode != tt.rcode || summary(in.Answer) != tt.answer || hasSOA != tt.soa {
					t.Fatalf("rcode %s, answer %q, SOA %v; want %s, %q, %v",
						dns.RcodeToString[in.Rcode], summary(in.Answer), hasSOA, dns.RcodeToString[tt.rcode], tt.answer, tt.soa)
				}
				if tt.rcode != dns.RcodeRefused && !in.Authoritative {
					t.Fatal("answer not authoritative")
				}
				if tt.qtype == dns.TypeNS && summary(in.Extra) != "A 127.0.0.1; A 127.0.0.1" {
					t.Fatalf("NS answer without the name servers' addresses: %q", summary(in.Extra))
				}
			})
		}
	}
}

func TestDNSServerSeesAPIChangesAtOnce(t *testing.T) {
	s := startSim(t, dnsConfig())
	c := newSDK(t, s.Endpoints().OpenAPI, "simAK", "simSK", "")
	ctx := context.Background()
	addr := s.Endpoints().DNS
	body, err := c.call(ctx, "AddDomainRecord", map[string]string{"DomainName": "example.test", "RR": "_acme-challenge", "Type": "TXT", "Value": "now"})
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(query(t, addr, "udp", "_acme-challenge.example.test", dns.TypeTXT).Answer); got != "TXT now" {
		t.Fatalf("after add: %q", got)
	}
	if _, err := c.call(ctx, "DeleteDomainRecord", map[string]string{"RecordId": body["RecordId"].(string)}); err != nil {
		t.Fatal(err)
	}
	if in := query(t, addr, "udp", "_acme-challenge.example.test", dns.TypeTXT); in.Rcode != dns.RcodeNameError {
		t.Fatalf("after delete: %s %q", dns.RcodeToString[in.Rcode], summary(in.Answer))
	}
}

func TestDNSServerPropagationDelayAndUnpublished(t *testing.T) {
	cfg := dnsConfig()
	cfg.DNS.Zones = append(cfg.DNS.Zones,
		ZoneSettings{Name: "slow.test", Propagation: time.Hour, Records: []RecordSettings{{RR: "seed", Type: "TXT", Value: "seeded"}}},
		ZoneSettings{Name: "never.test", Unpublished: true})
	s := startSim(t, cfg)
	addr := s.Endpoints().DNS
	slow, err := s.AddDNSRecord("slow.test", "_acme-challenge", "TXT", "late", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDNSRecord("never.test", "_acme-challenge", "TXT", "never", 0); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"_acme-challenge.slow.test", "_acme-challenge.never.test"} {
		if in := query(t, addr, "tcp", name, dns.TypeTXT); in.Rcode != dns.RcodeNameError {
			t.Errorf("%s served before propagation: %q", name, summary(in.Answer))
		}
	}
	if recs := s.DNSRecords("slow.test"); len(recs) != 2 || recs[1].Visible || !recs[0].Visible {
		t.Fatalf("DNSRecords: %+v", recs)
	}
	if got := summary(query(t, addr, "udp", "seed.slow.test", dns.TypeTXT).Answer); got != "TXT seeded" {
		t.Fatalf("seeded record: %q", got)
	}
	// A deletion also takes the propagation delay: the seeded record is
	// still served after the API removed it.
	if err := s.DeleteDNSRecord(s.DNSRecords("slow.test")[0].RecordID); err != nil {
		t.Fatal(err)
	}
	if got := summary(query(t, addr, "udp", "seed.slow.test", dns.TypeTXT).Answer); got != "TXT seeded" {
		t.Fatalf("deleted record before propagation: %q", got)
	}
	if err := s.DeleteDNSRecord(slow.RecordID); err != nil {
		t.Fatal(err)
	}
	if n := len(s.DNSRecords("slow.test")); n != 0 {
		t.Fatalf("%d records left in the API's view", n)
	}
}

func TestDNSServerTruncatesOverUDP(t *testing.T) {
	s := startSim(t, dnsConfig())
	for i := range 40 {
		if _, err := s.AddDNSRecord("example.test", "big", "TXT", strings.Repeat("x", 60)+string(rune('a'+i%26))+strings.Repeat("y", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	udp := query(t, s.Endpoints().DNS, "udp", "big.example.test", dns.TypeTXT)
	tcp := query(t, s.Endpoints().DNS, "tcp", "big.example.test", dns.TypeTXT)
	if !udp.Truncated || tcp.Truncated || len(tcp.Answer) != 40 {
		t.Fatalf("udp truncated %v (%d answers), tcp truncated %v (%d answers)", udp.Truncated, len(udp.Answer), tcp.Truncated, len(tcp.Answer))
	}
}

func TestDNSServerAnswersOverTCPBeyond64KiB(t *testing.T) {
	s := startSim(t, dnsConfig())
	for i := range 20 {
		if _, err := s.AddDNSRecord("example.test", "huge", "TXT", strings.Repeat(string(rune('a'+i)), 4000), 0); err != nil {
			t.Fatal(err)
		}
	}
	in := query(t, s.Endpoints().DNS, "tcp", "huge.example.test", dns.TypeTXT)
	if !in.Truncated || len(in.Answer) == 0 || len(in.Answer) == 20 {
		t.Fatalf("truncated %v, %d answers", in.Truncated, len(in.Answer))
	}
}
