package renew

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/libdns/libdns"
	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"

	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
	esadns "github.com/certdrop/certdrop/shared/dnsprovider/esa"
)

// Provider writes DNS records: any libdns provider that can append and
// delete records (github.com/libdns/*). An error from AppendRecords with a
// method Refused() bool that returns true says that the provider answered
// and wrote nothing (shared/dnsprovider/rfc2136 and alidns do): such a
// record is not removed afterwards, nor reported left behind. Any other
// error leaves the record's fate unknown, and its removal is tried.
type Provider interface {
	libdns.RecordAppender
	libdns.RecordDeleter
}

// ZoneFinder is an optional Provider interface: the provider knows which of
// its zones holds a name (alidns lists every page of the account's zones,
// and answers alidns.ErrNoZone when none holds it; esa lists the sites and
// answers esa.ErrNoZone). Providers without it
// get the zone from DNS (the closest SOA). A libdns.ZoneLister is not
// taken for one: cloudflare's (v0.2.2) lists only the API's first page of
// zones, so a zone missing from it proves nothing.
type ZoneFinder interface {
	FindZone(ctx context.Context, name string) (string, error)
}

// refused reports whether a provider's error says nothing was written.
func refused(err error) bool {
	var r interface{ Refused() bool }
	return errors.As(err, &r) && r.Refused()
}

// dnsSolver answers dns-01 challenges: it writes the TXT record where the
// CA will look (following _acme-challenge CNAMEs), waits until every
// authoritative server of the zone serves it, and removes it afterwards,
// whatever happened.
type dnsSolver struct {
	provider Provider
	dns      *resolver
	ttl      time.Duration
	// propagation bounds Wait; poll is the pause between checks.
	propagation, poll time.Duration
	// cleanup bounds the removal of the records, on a context detached
	// from the order's (which may be past its deadline).
	cleanup time.Duration
	log     *slog.Logger

	mu        sync.Mutex
	targets   map[string]target     // by challenge name (dns01Name), once located
	presented map[string]*presented // by challenge token
	written   int                   // challenge records written
	leftovers []string              // records that could not be removed
}

// target is where a challenge name's record goes: the name the
// _acme-challenge CNAMEs lead to, and its zone (FQDNs, lower case).
type target struct{ fqdn, zone string }

// presented is a record written (or perhaps written) for one challenge.
type presented struct {
	fqdn, zone, value string
	recs              []libdns.Record
}

var _ acmez.Waiter = (*dnsSolver)(nil)

// locate returns where the record of a challenge name goes, following
// its CNAMEs and finding the zone (once per name).
func (s *dnsSolver) locate(ctx context.Context, name string) (target, error) {
	key := dns01Name(name)
	s.mu.Lock()
	t, ok := s.targets[key]
	s.mu.Unlock()
	if ok {
		return t, nil
	}
	fqdn, err := s.dns.followCNAME(ctx, name)
	if err != nil {
		return target{}, fmt.Errorf("following %s: %w", strings.TrimSuffix(name, "."), err)
	}
	var zone string
	if zf, ok := s.provider.(ZoneFinder); ok {
		zone, err = zf.FindZone(ctx, fqdn)
		if errors.Is(err, alidns.ErrNoZone) || errors.Is(err, esadns.ErrNoZone) {
			err = kind{ErrNoZone, err}
		}
	} else {
		zone, err = s.dns.findZone(ctx, fqdn)
	}
	if err != nil {
		return target{}, fmt.Errorf("finding the zone of %s: %w", strings.TrimSuffix(fqdn, "."), err)
	}
	zone = dns01Name(zone)
	t = target{fqdn: dns01Name(fqdn), zone: zone}
	s.mu.Lock()
	if s.targets == nil {
		s.targets = map[string]target{}
	}
	s.targets[key] = t
	s.mu.Unlock()
	return t, nil
}

// Present writes the challenge's TXT record.
func (s *dnsSolver) Present(ctx context.Context, chal acme.Challenge) error {
	name := chal.DNS01TXTRecordName()
	t, err := s.locate(ctx, name)
	if err != nil {
		return err
	}
	p := &presented{fqdn: t.fqdn, zone: t.zone, value: chal.DNS01KeyAuthorization()}
	s.remember(chal.Token, p)
	if err := s.write(ctx, p); err != nil {
		if refused(err) {
			s.forget(chal.Token)
		}
		return err
	}
	s.mu.Lock()
	s.written++
	s.mu.Unlock()
	via := ""
	if !strings.EqualFold(t.fqdn, dns01Name(name)) {
		via = strings.TrimSuffix(t.fqdn, ".")
	}
	s.log.Info("dns-01 record added", "name", name, "cname", via, "zone", strings.TrimSuffix(t.zone, "."))
	return nil
}

// write adds p's TXT record.
func (s *dnsSolver) write(ctx context.Context, p *presented) error {
	rel := libdns.RelativeName(p.fqdn, p.zone)
	recs, err := s.provider.AppendRecords(ctx, p.zone, []libdns.Record{libdns.TXT{Name: rel, TTL: s.ttl, Text: p.value}})
	s.mu.Lock()
	p.recs = recs
	s.mu.Unlock()
	if err != nil {
		return kind{ErrDNSWrite, fmt.Errorf("adding the TXT record %s in zone %s: %w", strings.TrimSuffix(p.fqdn, "."), strings.TrimSuffix(p.zone, "."), err)}
	}
	return nil
}

// challengesWritten reports how many challenge records were written.
func (s *dnsSolver) challengesWritten() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}

// Wait returns once every authoritative server of the record's zone
// serves it, or fails after the propagation timeout.
func (s *dnsSolver) Wait(ctx context.Context, chal acme.Challenge) error {
	s.mu.Lock()
	p := s.presented[chal.Token]
	s.mu.Unlock()
	if p == nil {
		return errors.New("no record was presented for this challenge")
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.propagation)
	defer cancel()
	var missing []string
	for {
		servers, err := s.dns.authoritative(ctx, p.zone)
		if err == nil {
			missing = missing[:0]
			for _, ns := range servers {
				ok, qerr := hasTXT(ctx, ns.addr, p.fqdn, p.value)
				if !ok {
					m := strings.TrimSuffix(ns.name, ".") + " (" + ns.addr + ")"
					if qerr != nil {
						m += ": " + qerr.Error()
					}
					missing = append(missing, m)
				}
			}
			if len(missing) == 0 {
				return nil
			}
		} else {
			missing = []string{err.Error()}
		}
		t := time.NewTimer(s.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			if err := parent.Err(); err != nil {
				return fmt.Errorf("waiting for the TXT record %s to be visible: %w", strings.TrimSuffix(p.fqdn, "."), err)
			}
			return fmt.Errorf("the TXT record %s was not visible at the zone's authoritative servers within %s (%s): %w",
				strings.TrimSuffix(p.fqdn, "."), s.propagation, strings.Join(missing, "; "), ErrNotVisible)
		case <-t.C:
		}
	}
}

// CleanUp removes the challenge's record. It runs on a context of its own,
// detached from ctx's deadline and cancellation, so that a record is
// removed even when the order ran out of time.
func (s *dnsSolver) CleanUp(ctx context.Context, chal acme.Challenge) error {
	s.mu.Lock()
	p := s.presented[chal.Token]
	delete(s.presented, chal.Token)
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return s.remove(ctx, p)
}

// cleanupAll removes every record still presented: the engine's own
// guarantee after an order, whatever the ACME client did.
func (s *dnsSolver) cleanupAll(ctx context.Context) {
	s.mu.Lock()
	ps := s.presented
	s.presented = map[string]*presented{}
	s.mu.Unlock()
	for _, p := range ps {
		_ = s.remove(ctx, p)
	}
}

func (s *dnsSolver) remove(ctx context.Context, p *presented) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cleanup)
	defer cancel()
	recs := p.recs
	if len(recs) == 0 {
		// The append failed without a refusal, or returned nothing: delete
		// by name and value, in case the record was written all the same.
		recs = []libdns.Record{libdns.TXT{Name: libdns.RelativeName(p.fqdn, p.zone), Text: p.value}}
	}
	_, err := s.provider.DeleteRecords(ctx, p.zone, recs)
	if err != nil {
		s.mu.Lock()
		s.leftovers = append(s.leftovers, strings.TrimSuffix(p.fqdn, "."))
		s.mu.Unlock()
		s.log.Error("dns-01 record could not be removed", "name", strings.TrimSuffix(p.fqdn, "."), "error", err)
		return fmt.Errorf("removing the TXT record %s: %w", strings.TrimSuffix(p.fqdn, "."), err)
	}
	return nil
}

// leftover returns the names of records that could not be removed.
func (s *dnsSolver) leftover() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.leftovers...)
}

func (s *dnsSolver) remember(token string, p *presented) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.presented == nil {
		s.presented = map[string]*presented{}
	}
	s.presented[token] = p
}

// forget drops a record that was never written: there is nothing to
// remove.
func (s *dnsSolver) forget(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.presented, token)
}

// dns01Name is the record name of a challenge, as an FQDN.
func dns01Name(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) + "." }
