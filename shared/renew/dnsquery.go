package renew

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/certdrop/certdrop/shared/config"
)

// EnvDNSResolvers lists the resolvers (host or host:port, comma or space
// separated) certdrop asks to follow _acme-challenge CNAMEs and to find a
// zone's authoritative servers. Default: the system's (/etc/resolv.conf).
const EnvDNSResolvers = config.DNSResolvers

// dnsTimeout bounds one DNS exchange.
const dnsTimeout = 3 * time.Second

// maxCNAMEs bounds a CNAME chain.
const maxCNAMEs = 8

// resolver asks DNS servers directly (github.com/miekg/dns), so that
// nothing is cached between the write of a record and the check for it.
type resolver struct {
	servers []string // host:port
}

// ParseResolvers reads a CERTDROP_DNS_RESOLVERS value: hosts or
// host:port pairs (port 53 by default), separated by commas or spaces.
func ParseResolvers(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		host, port, err := net.SplitHostPort(f)
		if err != nil {
			host, port = strings.Trim(f, "[]"), "53"
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 || host == "" {
			return nil, fmt.Errorf("%s: %q is not a host or host:port", EnvDNSResolvers, f)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}

// systemResolvers reads /etc/resolv.conf.
func systemResolvers() []string {
	cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil || len(cfg.Servers) == 0 {
		return nil
	}
	var out []string
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	return out
}

// exchange sends m to server over UDP, and again over TCP when the answer
// is truncated.
func exchange(ctx context.Context, server string, m *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: dnsTimeout}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, server)
	}
	return r, err
}

// query asks the resolvers in turn (recursion desired) until one answers
// with NOERROR or NXDOMAIN.
func (r *resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	if len(r.servers) == 0 {
		return nil, errors.New("no DNS resolvers: set " + EnvDNSResolvers)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	var errs []error
	for _, s := range r.servers {
		a, err := exchange(ctx, s, m)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", s, err))
		case a.Rcode != dns.RcodeSuccess && a.Rcode != dns.RcodeNameError:
			errs = append(errs, fmt.Errorf("%s: %s", s, dns.RcodeToString[a.Rcode]))
		default:
			return a, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%s %s: %w", dns.TypeToString[qtype], name, errors.Join(errs...))
}

// followCNAME returns where name leads through CNAME records (itself when
// it has none): the name whose TXT record the CA will read.
func (r *resolver) followCNAME(ctx context.Context, name string) (string, error) {
	cur := dns.Fqdn(strings.ToLower(name))
	for i := 0; i <= maxCNAMEs; i++ {
		a, err := r.query(ctx, cur, dns.TypeCNAME)
		if err != nil {
			return "", err
		}
		next := ""
		for _, rr := range a.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, cur) {
				next = strings.ToLower(c.Target)
			}
		}
		if next == "" {
			return cur, nil
		}
		cur = next
	}
	return "", fmt.Errorf("%s: more than %d CNAMEs in a row", name, maxCNAMEs)
}

// findZone returns the zone that holds name: the closest enclosing name
// with an SOA record.
func (r *resolver) findZone(ctx context.Context, name string) (string, error) {
	labels := dns.SplitDomainName(name)
	for i := range labels {
		cand := dns.Fqdn(strings.Join(labels[i:], "."))
		a, err := r.query(ctx, cand, dns.TypeSOA)
		if err != nil {
			return "", err
		}
		for _, rr := range a.Answer {
			if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, cand) {
				return strings.ToLower(cand), nil
			}
		}
	}
	return "", fmt.Errorf("no zone (SOA) found for %s", name)
}

// nameserver is one authoritative server of a zone.
type nameserver struct {
	name string // ns1.example.com.
	addr string // ip:port
}

// authoritative returns the addresses of zone's authoritative servers. A
// name server whose address is a loopback IP is asked at the port of the
// first loopback resolver: the local emulator serves every zone on one
// loopback port.
func (r *resolver) authoritative(ctx context.Context, zone string) ([]nameserver, error) {
	a, err := r.query(ctx, zone, dns.TypeNS)
	if err != nil {
		return nil, err
	}
	var hosts []string
	for _, rr := range a.Answer {
		if ns, ok := rr.(*dns.NS); ok {
			hosts = append(hosts, strings.ToLower(ns.Ns))
		}
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("zone %s has no NS records", zone)
	}
	glue := map[string][]string{}
	for _, rr := range a.Extra {
		switch g := rr.(type) {
		case *dns.A:
			glue[strings.ToLower(g.Hdr.Name)] = append(glue[strings.ToLower(g.Hdr.Name)], g.A.String())
		case *dns.AAAA:
			glue[strings.ToLower(g.Hdr.Name)] = append(glue[strings.ToLower(g.Hdr.Name)], g.AAAA.String())
		}
	}
	var out []nameserver
	var errs []error
	for _, h := range hosts {
		ips := glue[h]
		if len(ips) == 0 {
			for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
				ans, err := r.query(ctx, h, t)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, rr := range ans.Answer {
					switch g := rr.(type) {
					case *dns.A:
						ips = append(ips, g.A.String())
					case *dns.AAAA:
						ips = append(ips, g.AAAA.String())
					}
				}
			}
		}
		for _, ip := range ips {
			out = append(out, nameserver{name: h, addr: net.JoinHostPort(ip, r.portFor(ip))})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no address for the name servers of %s (%s): %w", zone, strings.Join(hosts, ", "), errors.Join(errs...))
	}
	return out, nil
}

// portFor is 53, or for a loopback address the port of the first loopback
// resolver.
func (r *resolver) portFor(ip string) string {
	if p := net.ParseIP(ip); p != nil && p.IsLoopback() {
		for _, s := range r.servers {
			host, port, err := net.SplitHostPort(s)
			if hp := net.ParseIP(host); err == nil && hp != nil && hp.IsLoopback() {
				return port
			}
		}
	}
	return "53"
}

// hasTXT asks server (no recursion) whether name has a TXT record with
// value.
func hasTXT(ctx context.Context, server, name, value string) (bool, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	m.RecursionDesired = false
	a, err := exchange(ctx, server, m)
	if err != nil {
		return false, err
	}
	if a.Rcode != dns.RcodeSuccess && a.Rcode != dns.RcodeNameError {
		return false, fmt.Errorf("%s", dns.RcodeToString[a.Rcode])
	}
	for _, rr := range a.Answer {
		if t, ok := rr.(*dns.TXT); ok && strings.EqualFold(t.Hdr.Name, dns.Fqdn(name)) && strings.Join(t.Txt, "") == value {
			return true, nil
		}
	}
	return false, nil
}
