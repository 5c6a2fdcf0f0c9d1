package cloudsim

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzDNSAnswer feeds arbitrary wire-format queries to the authoritative
// answer: any query that parses gets an answer that packs, for its own
// question, without a panic.
func FuzzDNSAnswer(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"example.test.", dns.TypeA}, {"_acme-challenge.cdn.example.test.", dns.TypeTXT},
		{"x.wild.example.test.", dns.TypeTXT}, {"ns1.cloudsim.test.", dns.TypeA}, {"example.org.", dns.TypeANY},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, false)
		b, _ := m.Pack()
		f.Add(b)
	}
	cfg := dnsConfig()
	st, err := newDNSState(cfg.DNS, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		req := new(dns.Msg)
		if req.Unpack(wire) != nil {
			return
		}
		m := st.answer(req, net.IPv4(127, 0, 0, 1))
		if m.Id != req.Id {
			t.Fatalf("answer id %d for query %d", m.Id, req.Id)
		}
		if _, err := m.Pack(); err != nil {
			t.Fatalf("answer does not pack: %v\n%v", err, m)
		}
	})
}

// FuzzZoneRecord feeds arbitrary API parameters to the record validation:
// a record it accepts always yields DNS records that pack.
func FuzzZoneRecord(f *testing.F) {
	f.Add("_acme-challenge", "TXT", "abc", 600, 0)
	f.Add("@", "MX", "mx.example.test.", 600, 5)
	f.Add("*.x", "CAA", `0 issue "letsencrypt.org"`, 1, 0)
	f.Add("www", "AAAA", "2001:db8::1", 86400, 0)
	f.Add("a.b", "CNAME", "target.example.net", 600, 0)
	f.Fuzz(func(t *testing.T, rr, typ, value string, ttl, priority int) {
		r, e := newZoneRecord("example.test", rr, typ, value, ttl, priority, 1)
		if e != nil {
			if e.code == "" || e.message == "" {
				t.Fatalf("error without code or message: %+v", e)
			}
			return
		}
		for _, x := range r.rrs {
			buf := make([]byte, dns.MaxMsgSize)
			if _, err := dns.PackRR(x, buf, 0, nil, false); err != nil {
				t.Fatalf("accepted %q %q %q packs with %v", rr, typ, value, err)
			}
		}
	})
}
