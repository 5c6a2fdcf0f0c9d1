// Package rfc2136 is a libdns provider that writes records by DNS dynamic
// update (RFC 2136) signed with TSIG (RFC 8945), as BIND, Knot and
// PowerDNS take them.
//
// It differs from github.com/libdns/rfc2136 in what a refusal says: the
// server's answer (its rcode and, when the server rejected the signature,
// the TSIG error: BADSIG, BADKEY, BADTIME) is kept in a typed *Error that
// names the key and the variable holding its secret (never the secret),
// says what to check, and reports that nothing was written.
package rfc2136

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// Fudge is the TSIG time fudge, in seconds: the clock difference the
// server accepts (RFC 8945 recommends 300).
const Fudge = 300

// DefaultTimeout bounds one exchange with the server when ctx has no
// earlier deadline.
const DefaultTimeout = 10 * time.Second

// Provider writes records at Server with dynamic updates signed by the
// TSIG key KeyName (algorithm KeyAlg, default hmac-sha256) whose base64
// secret is Key. It is safe for concurrent use.
type Provider struct {
	// Server is host:port of the primary server.
	Server string
	// KeyName, KeyAlg and Key are the TSIG key.
	KeyName, KeyAlg, Key string
	// KeyEnv names the variable Key was read from, for messages.
	KeyEnv string
}

var (
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
)

// AppendRecords adds recs to zone in one update (all or none).
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	zone = dns.Fqdn(zone)
	m := new(dns.Msg)
	m.SetUpdate(zone)
	for _, rec := range recs {
		rr, err := toRR(rec, zone)
		if err != nil {
			return nil, err
		}
		m.Insert([]dns.RR{rr})
	}
	if err := p.exchange(ctx, "add", zone, m); err != nil {
		return nil, err
	}
	return recs, nil
}

// DeleteRecords removes recs from zone in one update: a record with a
// type and data is removed as it is; one without data removes the
// name's records of that type; one without a type removes every record
// of the name.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	zone = dns.Fqdn(zone)
	m := new(dns.Msg)
	m.SetUpdate(zone)
	for _, rec := range recs {
		r := rec.RR()
		name := libdns.AbsoluteName(r.Name, zone)
		switch {
		case r.Type == "":
			m.RemoveName([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name}}})
		case r.Data == "":
			m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.StringToType[strings.ToUpper(r.Type)]}}})
		default:
			rr, err := toRR(rec, zone)
			if err != nil {
				return nil, err
			}
			m.Remove([]dns.RR{rr})
		}
	}
	if err := p.exchange(ctx, "delete", zone, m); err != nil {
		return nil, err
	}
	return recs, nil
}

// toRR converts a libdns record for zone.
func toRR(rec libdns.Record, zone string) (dns.RR, error) {
	r := rec.RR()
	hdr := dns.RR_Header{Name: libdns.AbsoluteName(r.Name, zone), Class: dns.ClassINET, Ttl: uint32(r.TTL / time.Second)}
	if strings.EqualFold(r.Type, "TXT") {
		// One string of at most 255 bytes each (RFC 1035 3.3.14).
		hdr.Rrtype = dns.TypeTXT
		t := &dns.TXT{Hdr: hdr}
		for s := r.Data; ; s = s[255:] {
			if len(s) <= 255 {
				t.Txt = append(t.Txt, s)
				break
			}
			t.Txt = append(t.Txt, s[:255])
		}
		return t, nil
	}
	rr, err := dns.NewRR(hdr.Name + " " + strconv.Itoa(int(hdr.Ttl)) + " IN " + r.Type + " " + r.Data)
	if err != nil {
		return nil, fmt.Errorf("rfc2136: the record %s %s cannot be written: %w", hdr.Name, r.Type, err)
	}
	return rr, nil
}

// exchange signs and sends an update over TCP and reads the answer.
func (p *Provider) exchange(ctx context.Context, op, zone string, m *dns.Msg) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	key := dns.Fqdn(p.KeyName)
	alg := dns.HmacSHA256
	if p.KeyAlg != "" {
		alg = dns.Fqdn(strings.ToLower(p.KeyAlg))
	}
	m.SetTsig(key, alg, Fudge, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{key: p.Key}}
	r, _, err := c.ExchangeContext(ctx, m, p.Server)
	e := &Error{Op: op, Server: p.Server, Zone: strings.TrimSuffix(zone, "."), KeyName: key, KeyEnv: p.KeyEnv}
	switch {
	case r != nil && r.Rcode != dns.RcodeSuccess:
		// The server answered and refused: an update is applied whole or
		// not at all (RFC 2136 3.7), so nothing was written. Its answer to
		// a signature it rejects is unsigned (RFC 8945 5.3.2), which the
		// client reports as a bad authentication: the rcode and the TSIG
		// error say more.
		e.Rcode = r.Rcode
		if t := r.IsTsig(); t != nil {
			e.TSIGError = t.Error
		}
		return e
	case err != nil:
		// No answer (network, deadline), or an answer whose signature does
		// not verify: whether the update was applied is unknown.
		e.err = err
		return e
	}
	return nil
}

// Error is a failed update.
type Error struct {
	// Op is "add" or "delete"; Server, Zone and KeyName as sent; KeyEnv
	// names the variable holding the key's secret.
	Op, Server, Zone, KeyName, KeyEnv string
	// Rcode is the server's answer (dns.RcodeNotAuth, dns.RcodeRefused…)
	// when Refused; without an answer it is 0 and Unwrap gives the cause. TSIGError is the TSIG record's error field
	// (dns.RcodeBadSig 16, dns.RcodeBadKey 17, dns.RcodeBadTime 18), 0
	// when none.
	Rcode     int
	TSIGError uint16
	err       error
}

// Error says what the server answered and what to check.
func (e *Error) Error() string {
	s := fmt.Sprintf("rfc2136: %s zone %s at %s: ", map[string]string{"add": "adding to", "delete": "deleting from"}[e.Op], e.Zone, e.Server)
	if e.err != nil {
		return s + "no answer: " + e.err.Error()
	}
	s += "the server refused the update: " + rcodeName(e.Rcode)
	if e.TSIGError != 0 {
		s += ", TSIG error " + rcodeName(int(e.TSIGError))
	}
	if h := e.Hint(); h != "" {
		s += ": " + h
	}
	return s
}

// Hint says what to check, naming the key and the secret's variable,
// never the secret.
func (e *Error) Hint() string {
	secret := "the key's secret"
	if e.KeyEnv != "" {
		secret = "the secret in " + e.KeyEnv
	}
	switch {
	case e.TSIGError == dns.RcodeBadKey:
		return fmt.Sprintf("the server does not know the key %q: check keyName against the server's key statement (the name must match, trailing dot aside) and keyAlg", strings.TrimSuffix(e.KeyName, "."))
	case e.TSIGError == dns.RcodeBadSig:
		return fmt.Sprintf("the server knows the key %q but the signature does not verify: check %s (base64, as in the server's key statement) and keyAlg", strings.TrimSuffix(e.KeyName, "."), secret)
	case e.TSIGError == dns.RcodeBadTime:
		return fmt.Sprintf("the server's clock and this machine's differ by more than %d s: check both clocks (NTP)", Fudge)
	case e.Rcode == dns.RcodeNotAuth:
		return fmt.Sprintf("check keyName %q, %s, and that server is the zone's primary", strings.TrimSuffix(e.KeyName, "."), secret)
	case e.Rcode == dns.RcodeRefused:
		return fmt.Sprintf("the server does not let the key %q update this name: check the zone's allow-update or update-policy (the record is a TXT at _acme-challenge)", strings.TrimSuffix(e.KeyName, "."))
	case e.Rcode == dns.RcodeNotZone:
		return "the server is not authoritative for this zone: check server"
	}
	return ""
}

// Refused reports that the server answered and refused: nothing was
// written. Without an answer, whether the update was applied is unknown.
func (e *Error) Refused() bool { return e.err == nil }

// Unwrap returns the cause when no answer came (a network error, the
// deadline).
func (e *Error) Unwrap() error { return e.err }

func rcodeName(c int) string {
	if n, ok := dns.RcodeToString[c]; ok {
		return fmt.Sprintf("%s (%d)", n, c)
	}
	return strconv.Itoa(c)
}
