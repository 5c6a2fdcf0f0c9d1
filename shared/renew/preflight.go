package renew

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// preflightPrefix starts the value of the preflight's TXT record: no CA
// takes it for a key authorization, and a person who finds one left
// behind knows whose it is.
const preflightPrefix = "certdrop-preflight-"

// preflight shows, before the CA is asked anything, that the provider can
// write the record of every challenge name of domains: it follows each
// _acme-challenge CNAME and finds the zone (among the provider's own
// zones when it finds them: a name in none is refused with ErrNoZone),
// then writes a TXT record with a value of its own there and removes it.
//
// Only a write proves what the order needs (the credentials or TSIG key,
// the permission to write that name, a zone the provider serves): an
// authentication alone passes a key whose policy may not write the name.
// It costs two DNS writes per name per attempt, and an attempt is made
// once per renewal. A write refused here costs no order, no account and
// no day of back-off; a record it could not remove is reported left
// behind.
func (s *dnsSolver) preflight(ctx context.Context, domains []string) error {
	var names []string
	for _, d := range domains {
		n := dns01Name("_acme-challenge." + strings.TrimPrefix(d, "*."))
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	var targets []target
	for _, n := range names {
		t, err := s.locate(ctx, n)
		if err != nil {
			return err
		}
		if !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
	}
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	value := preflightPrefix + hex.EncodeToString(nonce)
	for _, t := range targets {
		p := &presented{fqdn: t.fqdn, zone: t.zone, value: value}
		if err := s.write(ctx, p); err != nil {
			if !refused(err) {
				// Perhaps written: remove it, or report it left behind.
				_ = s.remove(ctx, p)
			}
			return fmt.Errorf("before ordering: %w", err)
		}
		if err := s.remove(ctx, p); err != nil {
			return kind{ErrDNSWrite, fmt.Errorf("before ordering: the DNS provider wrote a TXT record but could not remove it: %w", err)}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.log.Info("dns-01 preflight: every challenge name is writable", "names", len(names))
	return nil
}
