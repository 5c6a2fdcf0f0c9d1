package renew

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/store"
)

// Error is a certificate's failure as reports carry it: the same fields,
// JSON and meaning as the function outcome's error (shared/report.Error),
// so that `certdrop renew --json` and the function say one thing. It never
// holds a key or a secret: Message is scrubbed.
type Error struct {
	// Code is what failed, for people and filters: RateLimited,
	// RecordNotVisible, NoDNSZone, DNSWriteFailed, EABMissing,
	// DNSProviderUnavailable, Deadline, RenewalFailed.
	Code string `json:"code"`
	// Message is the error, redacted.
	Message string `json:"message"`
	// Hint says what a person can do about it.
	Hint string `json:"hint,omitempty"`
	// Transient is true when the same attempt may succeed later unchanged
	// (the CA's rate limit, the deadline, a network error).
	Transient bool `json:"transient,omitempty"`

	cause error // for errors.Is and errors.As; not serialised
}

// Error returns the redacted message.
func (e *Error) Error() string {
	if e == nil {
		return ""
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.cause
}

// newError classifies the failure err of r (whose Skipped and
// NextAttempt are set) and redacts its message.
func (e *Engine) newError(err error, r Result) *Error {
	out := &Error{Message: e.scrub(err.Error()), cause: err}
	next := ""
	if !r.NextAttempt.IsZero() {
		next = " (not before " + r.NextAttempt.UTC().Format(time.RFC3339) + ")"
	}
	var h interface{ Hint() string }
	switch {
	case errors.Is(err, ErrRateLimited) || r.Skipped == SkipRateLimited:
		out.Code, out.Transient = "RateLimited", true
		out.Hint = "the CA asked to wait; the next run after that tries again" + next
	case errors.Is(err, ErrNoZone):
		out.Code = "NoDNSZone"
		out.Hint = "no order was placed: add the domain's zone to the DNS provider's account, or delegate its " +
			"_acme-challenge name with a CNAME to a zone the provider serves; the engine backs off" + next
	case errors.Is(err, ErrDNSWrite):
		out.Code, out.Transient = "DNSWriteFailed", transient(err)
		out.Hint = "check that the DNS provider's credentials may add and delete TXT records at _acme-challenge in the zone " +
			"(alidns: the role's alidns:AddDomainRecord, DeleteDomainRecord, DescribeSubDomainRecords)"
		if errors.As(err, &h) && h.Hint() != "" {
			out.Hint = h.Hint()
		}
		out.Hint += "; the engine backs off" + next
	case errors.Is(err, ErrNotVisible):
		out.Code = "RecordNotVisible"
		out.Hint = "the _acme-challenge TXT record never showed at the zone's authoritative servers: check that the DNS provider " +
			"serves the zone (or the CNAME delegation), and CERTDROP_DNS_RESOLVERS; the engine backs off" + next
	case errors.Is(err, ErrRefused):
		out.Code = "CertificateRefused"
		out.Hint = "nothing was ordered: the certificate's entry names a variable outside CERTDROP_SECRET_ or a directory at a " +
			"link-local or metadata address; fix the manifest (certdrop validate --manifest shows the line)"
	case errors.Is(err, ErrEABMissing):
		out.Code = "EABMissing"
		out.Hint = "the CA needs an external account binding: set the variables the manifest's eab names"
	case errors.Is(err, ErrNoProvider):
		out.Code = "DNSProviderUnavailable"
		out.Hint = "check the certificate's dns section and the variables it names (alidns: the function's role and CERTDROP_ALIDNS_ENDPOINT)"
	case r.Skipped == SkipNotStarted || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		out.Code, out.Transient = "Deadline", true
		out.Hint = "the deadline came first; the next run goes on (give the function, or --timeout, more time if it recurs)"
	default:
		out.Code, out.Transient = "RenewalFailed", transient(err)
		out.Hint = strings.TrimPrefix("the engine backs off"+next, " ")
	}
	return out
}

// transient reports whether err may pass by itself: a bucket that could
// not be reached or answered 5xx, the deadline, a network error or an API
// answer that says so.
func transient(err error) bool {
	for _, permanent := range []error{store.ErrNotFound, store.ErrDenied, store.ErrTooLarge, store.ErrInvalidKey, store.ErrConfig} {
		if errors.Is(err, permanent) {
			return false
		}
	}
	var se *store.Error
	if errors.As(err, &se) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
