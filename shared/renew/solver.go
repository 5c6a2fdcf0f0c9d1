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
)

// Provider writes DNS records: any libdns provider that can append and
// delete records (github.com/libdns/*).
type Provider interface {
	libdns.RecordAppender
	libdns.RecordDeleter
}

// ZoneFinder is an optional Provider interface: the provider knows which of
// its zones holds a name (alidns lists the account's zones). Providers
// without it get the zone from DNS (the closest SOA).
type ZoneFinder interface {
	FindZone(ctx context.Context, name string) (string, error)
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
	presented map[string]*presented // by challenge token
	leftovers []string              // records that could not be removed
}

// presented is a record written for one challenge.
type presented struct {
	fqdn, zone, value string
	recs              []libdns.Record
}

var _ acmez.Waiter = (*dnsSolver)(nil)

// Present writes the challenge's TXT record.
func (s *dnsSolver) Present(ctx context.Context, chal acme.Challenge) error {
	name := chal.DNS01TXTRecordName()
	target, err := s.dns.followCNAME(ctx, name)
	if err != nil {
		return fmt.Errorf("following %s: %w", name, err)
	}
	var zone string
	if zf, ok := s.provider.(ZoneFinder); ok {
		zone, err = zf.FindZone(ctx, target)
	} else {
		zone, err = s.dns.findZone(ctx, target)
	}
	if err != nil {
		return fmt.Errorf("finding the zone of %s: %w", strings.TrimSuffix(target, "."), err)
	}
	zone = strings.ToLower(zone)
	if !strings.HasSuffix(zone, ".") {
		zone += "."
	}
	p := &presented{fqdn: target, zone: zone, value: chal.DNS01KeyAuthorization()}
	s.remember(chal.Token, p)
	rel := libdns.RelativeName(target, zone)
	recs, err := s.provider.AppendRecords(ctx, zone, []libdns.Record{libdns.TXT{Name: rel, TTL: s.ttl, Text: p.value}})
	s.mu.Lock()
	p.recs = recs
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("adding the TXT record %s in zone %s: %w", strings.TrimSuffix(target, "."), strings.TrimSuffix(zone, "."), err)
	}
	via := ""
	if !strings.EqualFold(target, dns01Name(name)) {
		via = strings.TrimSuffix(target, ".")
	}
	s.log.Info("dns-01 record added", "name", name, "cname", via, "zone", strings.TrimSuffix(zone, "."))
	return nil
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
		// The append failed or returned nothing: delete by name and value,
		// in case the record was written all the same.
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

// dns01Name is the record name of a challenge, as an FQDN.
func dns01Name(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) + "." }
