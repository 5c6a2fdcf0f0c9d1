package renew

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/store"
)

// ariTimeout bounds the renewal-information request (the ACME client
// retries it a few times).
const ariTimeout = 15 * time.Second

// dueInfo is the verdict on one certificate.
type dueInfo struct {
	due            bool
	reason, detail string
	// nextDue is when a certificate not due yet becomes due (zero when
	// it is due or not known).
	nextDue time.Time
	// current is the certificate in the bucket, when there is a valid one.
	current *x509.Certificate
	// replaces is sent as the order's "replaces" (RFC 9773) when the CA
	// knows current through ARI.
	replaces *x509.Certificate
}

// due decides whether c needs a new certificate.
func (e *Engine) due(ctx context.Context, cl *certClient, c manifest.Certificate) (dueInfo, error) {
	key := e.BundleKey(c.Name)
	o, err := e.opts.Store.Get(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return dueInfo{due: true, reason: ReasonNoBundle, detail: "no " + key}, nil
	case errors.Is(err, store.ErrTooLarge):
		return dueInfo{due: true, reason: ReasonInvalidBundle, detail: key + " is larger than a bundle can be"}, nil
	case err != nil:
		return dueInfo{}, fmt.Errorf("reading %s: %w", key, err)
	}
	b, err := bundle.Parse([]bundle.Source{{Name: key, Data: o.Data}}, bundle.Options{})
	if err != nil {
		return dueInfo{due: true, reason: ReasonInvalidBundle, detail: err.Error()}, nil
	}
	leaf := b.Leaf
	now := e.opts.Now()
	d := dueInfo{current: leaf}
	if !now.Before(leaf.NotAfter) {
		d.due, d.reason, d.detail = true, ReasonExpired, "expired "+leaf.NotAfter.UTC().Format(time.RFC3339)
		return d, nil
	}
	if have := certNames(leaf); !slices.Equal(have, sortedCopy(c.Domains)) {
		d.due, d.reason = true, ReasonNamesChanged
		d.detail = "the certificate has " + strings.Join(have, ", ") + "; the manifest asks for " + strings.Join(sortedCopy(c.Domains), ", ")
		return d, nil
	}

	ari := func() (start, end, selected time.Time, ok bool) {
		actx, cancel := context.WithTimeout(ctx, ariTimeout)
		defer cancel()
		ri, err := cl.GetRenewalInfo(actx, leaf)
		if err != nil {
			e.log.Debug("no renewal information", "certificate", c.Name, "error", err)
			return
		}
		return ri.SuggestedWindow.Start, ri.SuggestedWindow.End, ri.SelectedTime, true
	}

	if c.RenewBefore > 0 {
		at := leaf.NotAfter.Add(-c.RenewBefore)
		if now.Before(at) {
			d.reason, d.detail, d.nextDue = ReasonNotDue, "renews from "+at.UTC().Format(time.RFC3339), at.UTC()
			return d, nil
		}
		d.due, d.reason = true, ReasonRenewBefore
		d.detail = "expires " + leaf.NotAfter.UTC().Format(time.RFC3339) + ", renewBefore " + c.RenewBefore.String()
		if _, _, _, ok := ari(); ok {
			d.replaces = leaf
		}
		return d, nil
	}
	if start, end, selected, ok := ari(); ok {
		if now.Before(selected) && now.Before(end) {
			d.reason, d.nextDue = ReasonNotDue, selected.UTC()
			d.detail = "the CA's renewal window is " + start.UTC().Format(time.RFC3339) + " to " + end.UTC().Format(time.RFC3339)
			return d, nil
		}
		d.due, d.reason, d.replaces = true, ReasonARIWindow, leaf
		d.detail = "the CA's renewal window opened " + start.UTC().Format(time.RFC3339)
		return d, nil
	}
	at := leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3)
	if now.Before(at) {
		d.reason, d.detail, d.nextDue = ReasonNotDue, "renews from "+at.UTC().Format(time.RFC3339)+" (a third of the lifetime left)", at.UTC()
		return d, nil
	}
	d.due, d.reason = true, ReasonLifetime
	d.detail = "less than a third of the lifetime is left (expires " + leaf.NotAfter.UTC().Format(time.RFC3339) + ")"
	return d, nil
}

// certNames returns a certificate's DNS names, normalised and sorted.
func certNames(c *x509.Certificate) []string {
	var out []string
	for _, n := range c.DNSNames {
		if norm, err := bundle.NormalizeDomain(n); err == nil {
			out = append(out, norm)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
