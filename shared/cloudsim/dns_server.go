package cloudsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxCNAMEChain bounds the CNAME chase within the emulator's zones.
const maxCNAMEChain = 8

// nsTTL is the TTL of the emulator's SOA, NS and name-server A records.
const nsTTL = 600

// dnsServer is the authoritative DNS server: UDP and TCP on one loopback
// port, answering from the zones of a dnsState.
type dnsServer struct {
	st   *dnsState
	ip   net.IP
	log  *slog.Logger
	udp  *dns.Server
	tcp  *dns.Server
	addr string
}

// startDNSServer binds UDP and TCP on the same port of addr ("127.0.0.1:0"
// picks a port free for both) and serves until shutdown.
func startDNSServer(ctx context.Context, st *dnsState, addr string, log *slog.Logger) (*dnsServer, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("cloudsim: dns listener: %w", err)
	}
	var lc net.ListenConfig
	var pc net.PacketConn
	var ln net.Listener
	// With port 0 the UDP port picked may be taken for TCP: try again.
	for attempt := 0; ; attempt++ {
		pc, err = lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, fmt.Errorf("cloudsim: dns udp listener: %w", err)
		}
		ln, err = lc.Listen(ctx, "tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		_ = pc.Close()
		if port != "0" || attempt == 9 {
			return nil, fmt.Errorf("cloudsim: dns tcp listener: %w", err)
		}
	}
	ip := net.ParseIP(host)
	if ip == nil {
		ip = net.IPv4(127, 0, 0, 1)
	}
	srv := &dnsServer{st: st, ip: ip, log: log, addr: pc.LocalAddr().String()}
	srv.udp = &dns.Server{PacketConn: pc, Net: "udp", Handler: srv}
	srv.tcp = &dns.Server{Listener: ln, Net: "tcp", Handler: srv, ReadTimeout: 5 * time.Second}
	for _, s := range []*dns.Server{srv.udp, srv.tcp} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { _ = s.ActivateAndServe() }()
		<-started
	}
	return srv, nil
}

// shutdown stops both listeners.
func (d *dnsServer) shutdown(ctx context.Context) error {
	return errors.Join(d.udp.ShutdownContext(ctx), d.tcp.ShutdownContext(ctx))
}

// ServeDNS answers one query.
func (d *dnsServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := d.st.answer(req, d.ip)
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), false)
	}
	if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		m.Truncate(size)
	} else if m.Len() > dns.MaxMsgSize {
		// A TCP message cannot exceed 64 KiB: a name with that many
		// records is answered truncated rather than not at all.
		m.Truncate(dns.MaxMsgSize)
	}
	if err := w.WriteMsg(m); err != nil {
		d.log.Debug("dns answer not sent", "err", err)
	}
	if len(req.Question) == 1 {
		d.log.Debug("dns query", "name", req.Question[0].Name, "type", dns.TypeToString[req.Question[0].Qtype],
			"rcode", dns.RcodeToString[m.Rcode], "answers", len(m.Answer))
	}
}

// answer builds the authoritative answer to req: records of the zone that
// holds the name, CNAMEs chased within the emulator's zones, NXDOMAIN for
// a name that does not exist and NODATA (NOERROR, SOA in the authority
// section) for a name without records of the type asked. Names outside
// every zone are REFUSED, as an authoritative server does. The emulator's
// name servers resolve to ip.
func (st *dnsState) answer(req *dns.Msg, ip net.IP) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = false
	if req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeNotImplemented)
		return m
	}
	if len(req.Question) != 1 {
		m.SetRcode(req, dns.RcodeFormatError)
		return m
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.SetRcode(req, dns.RcodeRefused)
		return m
	}
	name := canonicalZone(q.Name)

	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	z := st.zoneOf(name)
	if z == nil {
		if slices.Contains(st.nameServers, name) {
			// The emulator's own name servers, outside its zones.
			if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
				m.Answer = append(m.Answer, nsAddress(name, ip)...)
			}
			return m
		}
		m.Authoritative = false
		m.SetRcode(req, dns.RcodeRefused)
		return m
	}
	seen := map[string]bool{}
	for hop := 0; hop <= maxCNAMEChain; hop++ {
		seen[name] = true
		rrs, exists := st.rrsAt(z, name, now, ip)
		if !exists {
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, st.negativeSOA(z))
			return m
		}
		var cname dns.RR
		for _, r := range rrs {
			if r.Header().Rrtype == dns.TypeCNAME {
				cname = r
			}
		}
		if cname != nil && q.Qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, cname)
			target := canonicalZone(cname.(*dns.CNAME).Target)
			next := st.zoneOf(target)
			if next == nil || seen[target] {
				// Outside the emulator's zones (a resolver goes on from
				// here), or a loop.
				return m
			}
			name, z = target, next
			continue
		}
		var match []dns.RR
		for _, r := range rrs {
			if q.Qtype == dns.TypeANY || r.Header().Rrtype == q.Qtype {
				match = append(match, r)
			}
		}
		if len(match) == 0 {
			m.Ns = append(m.Ns, st.negativeSOA(z))
			return m
		}
		m.Answer = append(m.Answer, match...)
		// The addresses of the emulator's name servers come with an NS
		// answer, as glue does.
		for _, r := range match {
			if ns, ok := r.(*dns.NS); ok && slices.Contains(st.nameServers, canonicalZone(ns.Ns)) {
				m.Extra = append(m.Extra, nsAddress(canonicalZone(ns.Ns), ip)...)
			}
		}
		return m
	}
	return m
}

// nsAddress is the A record of one of the emulator's name servers.
func nsAddress(name string, ip net.IP) []dns.RR {
	if ip4 := ip.To4(); ip4 != nil {
		return []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: nsTTL}, A: ip4}}
	}
	return nil
}

// soa is the zone's SOA record.
func (st *dnsState) soa(z *dnsZone) *dns.SOA {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: dns.Fqdn(z.name), Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: nsTTL},
		Ns:      dns.Fqdn(st.nameServers[0]),
		Mbox:    dns.Fqdn("hostmaster." + z.name),
		Serial:  z.serial,
		Refresh: 3600,
		Retry:   1200,
		Expire:  86400,
		Minttl:  nsTTL,
	}
}

// negativeSOA is the SOA for a negative answer.
func (st *dnsState) negativeSOA(z *dnsZone) dns.RR { return st.soa(z) }

// rrsAt returns the records the server serves at name in z now, and
// whether the name exists: the apex, a name with records, an empty
// non-terminal above one, or a name a wildcard covers. Callers hold st.mu.
func (st *dnsState) rrsAt(z *dnsZone, name string, now time.Time, ip net.IP) ([]dns.RR, bool) {
	var out []dns.RR
	exists := name == z.name
	if name == z.name {
		out = append(out, st.soa(z))
		for _, ns := range st.nameServers {
			out = append(out, &dns.NS{Hdr: dns.RR_Header{Name: dns.Fqdn(z.name), Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: nsTTL}, Ns: dns.Fqdn(ns)})
		}
	}
	if slices.Contains(st.nameServers, name) {
		out = append(out, nsAddress(name, ip)...)
		exists = true
	}
	below := false
	served := func(yield func(*zoneRecord) bool) {
		for _, list := range [][]*zoneRecord{z.records, z.ghosts} {
			for _, r := range list {
				if r.servedAt(now) && !yield(r) {
					return
				}
			}
		}
	}
	for r := range served {
		owner := ownerName(z.name, r.rr)
		switch {
		case owner == name:
			exists = true
			out = append(out, r.rrs...)
		case strings.HasSuffix(owner, "."+name):
			below = true
		}
	}
	if exists || below {
		return dedupe(out), true
	}
	// A wildcard at the closest encloser covers a name that does not exist.
	encloser := name
	for encloser != z.name {
		_, encloser, _ = strings.Cut(encloser, ".")
		if encloser == z.name || st.nameExists(z, encloser, now) {
			break
		}
	}
	wild := "*." + encloser
	for r := range served {
		if ownerName(z.name, r.rr) == wild {
			for _, rr := range r.rrs {
				c := dns.Copy(rr)
				c.Header().Name = dns.Fqdn(name)
				out = append(out, c)
			}
		}
	}
	return dedupe(out), len(out) > 0
}

// nameExists reports whether name has records or records below it.
func (st *dnsState) nameExists(z *dnsZone, name string, now time.Time) bool {
	for _, list := range [][]*zoneRecord{z.records, z.ghosts} {
		for _, r := range list {
			owner := ownerName(z.name, r.rr)
			if r.servedAt(now) && (owner == name || strings.HasSuffix(owner, "."+name)) {
				return true
			}
		}
	}
	return false
}

// dedupe drops duplicate records (a ghost and a live record alike).
func dedupe(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, r := range rrs {
		if !slices.ContainsFunc(out, func(o dns.RR) bool { return dns.IsDuplicate(o, r) }) {
			out = append(out, r)
		}
	}
	return out
}
