package renew

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mholt/acmez/v3/acme"
	"github.com/miekg/dns"

	"github.com/certdrop/certdrop/shared/dnsprovider/rfc2136"
)

const (
	tsigName   = "certdrop."
	tsigSecret = "c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cw=="
)

// updateServer is an authoritative server for one zone that takes
// TSIG-signed dynamic updates (RFC 2136), as BIND or Knot would.
type updateServer struct {
	zone string // "rfc.test."
	addr string
	// publish, when false, accepts updates without serving them.
	publish bool

	mu       sync.Mutex
	txt      map[string][]string // name -> values
	updates  int
	unsigned int
}

func startUpdateServer(t *testing.T, zone string, publish bool) *updateServer {
	t.Helper()
	s := &updateServer{zone: zone, publish: publish, txt: map[string][]string{}}
	// UDP and TCP on one port: the port UDP got may be taken for TCP by
	// another test's connection, so a few ports are tried.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		_ = pc.Close()
		if try == 20 {
			t.Fatal(err)
		}
	}
	s.addr = pc.LocalAddr().String()
	secrets := map[string]string{tsigName: tsigSecret}
	// The default accept function refuses UPDATE with NOTIMP.
	accept := func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: s, TsigSecret: secrets, MsgAcceptFunc: accept},
		{Listener: ln, Handler: s, TsigSecret: secrets, MsgAcceptFunc: accept},
	} {
		go func() { _ = srv.ActivateAndServe() }()
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return s
}

func (s *updateServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Opcode == dns.OpcodeUpdate {
		if req.IsTsig() == nil || w.TsigStatus() != nil {
			s.unsigned++
			m.SetRcode(req, dns.RcodeRefused)
			_ = w.WriteMsg(m)
			return
		}
		s.updates++
		for _, rr := range req.Ns {
			t, ok := rr.(*dns.TXT)
			name := strings.ToLower(rr.Header().Name)
			switch {
			case rr.Header().Class == dns.ClassINET && ok:
				s.txt[name] = append(s.txt[name], strings.Join(t.Txt, ""))
			case rr.Header().Class == dns.ClassNONE && ok:
				v := strings.Join(t.Txt, "")
				var keep []string
				for _, x := range s.txt[name] {
					if x != v {
						keep = append(keep, x)
					}
				}
				s.txt[name] = keep
			}
		}
		m.SetTsig(tsigName, dns.HmacSHA256, 300, time.Now().Unix())
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	ns := "ns1." + s.zone
	switch {
	case name == s.zone && q.Qtype == dns.TypeSOA:
		m.Answer = append(m.Answer, &dns.SOA{Hdr: dns.RR_Header{Name: s.zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
			Ns: ns, Mbox: "hostmaster." + s.zone, Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 60})
	case name == s.zone && q.Qtype == dns.TypeNS:
		m.Answer = append(m.Answer, &dns.NS{Hdr: dns.RR_Header{Name: s.zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 60}, Ns: ns})
	case name == ns && q.Qtype == dns.TypeA:
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: ns, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 1)})
	case q.Qtype == dns.TypeTXT && s.publish:
		for _, v := range s.txt[name] {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{v}})
		}
	}
	if !dns.IsSubDomain(s.zone, name) {
		m.SetRcode(req, dns.RcodeRefused)
	}
	_ = w.WriteMsg(m)
}

func (s *updateServer) values(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.txt[dns.Fqdn(name)]...)
}

// TestSolverRFC2136 drives the DNS-01 solver with the rfc2136 provider: the
// zone is found from DNS (SOA, the provider knows none), the record is
// written by a signed update, found at the zone's authoritative server,
// and removed.
func TestSolverRFC2136(t *testing.T) {
	for _, publish := range []bool{true, false} {
		srv := startUpdateServer(t, "rfc.test.", publish)
		s := &dnsSolver{
			provider:    &rfc2136.Provider{Server: srv.addr, KeyName: tsigName, KeyAlg: dns.HmacSHA256, Key: tsigSecret},
			dns:         &resolver{servers: []string{srv.addr}},
			propagation: 300 * time.Millisecond, poll: 20 * time.Millisecond, cleanup: 5 * time.Second,
			log: slog.New(slog.DiscardHandler),
		}
		chal := acme.Challenge{Type: acme.ChallengeTypeDNS01, Token: "tok", KeyAuthorization: "tok.thumb",
			Identifier: acme.Identifier{Type: "dns", Value: "www.rfc.test"}}
		ctx := context.Background()
		if err := s.Present(ctx, chal); err != nil {
			t.Fatalf("Present: %v", err)
		}
		if got := srv.values("_acme-challenge.www.rfc.test"); len(got) != 1 || got[0] != chal.DNS01KeyAuthorization() {
			t.Fatalf("record written: %v", got)
		}
		err := s.Wait(ctx, chal)
		if publish && err != nil {
			t.Errorf("Wait: %v", err)
		}
		if !publish && (err == nil || !strings.Contains(err.Error(), "not visible")) {
			t.Errorf("Wait on a server that does not publish: %v", err)
		}
		if err := s.CleanUp(ctx, chal); err != nil {
			t.Fatalf("CleanUp: %v", err)
		}
		if got := srv.values("_acme-challenge.www.rfc.test"); len(got) != 0 || srv.unsigned != 0 || srv.updates != 2 {
			t.Errorf("after cleanup: %v; %d updates, %d unsigned", got, srv.updates, srv.unsigned)
		}
	}
}
