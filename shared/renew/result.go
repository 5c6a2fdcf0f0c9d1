package renew

import (
	"errors"
	"fmt"
	"time"
)

// Reasons a certificate is due, or why it was not renewed. They are a
// public format: reports and webhooks carry them.
const (
	// Due:
	ReasonNoBundle      = "no_bundle"      // no bundle.pem in the bucket
	ReasonInvalidBundle = "invalid_bundle" // a bundle.pem that does not parse
	ReasonExpired       = "expired"        // the bundle's certificate has expired
	ReasonNamesChanged  = "names_changed"  // the manifest's domains differ from the certificate's
	ReasonARIWindow     = "ari_window"     // the CA's renewal window (RFC 9773) has opened
	ReasonRenewBefore   = "renew_before"   // less than renewBefore is left
	ReasonLifetime      = "lifetime"       // less than a third of the lifetime is left (no ARI)
	ReasonForced        = "forced"         // --force, or "force": true
	// Not due:
	ReasonNotDue = "not_due"
)

// Why a due certificate was not renewed in this run.
const (
	SkipBackoff    = "backoff"      // an earlier failure: waiting until NextAttempt
	SkipDailyLimit = "daily_limit"  // an order was made less than a day ago
	SkipDryRun     = "dry_run"      // nothing is ordered in a dry run
	SkipDeadline   = "not_started"  // too close to the deadline to start an order
	SkipRateLimit  = "rate_limited" // the CA asked to wait (Retry-After)
)

// Result is what the engine did for one certificate.
type Result struct {
	// Name and Domains are the manifest's.
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	// Due reports whether the certificate needed renewing, Reason why (or
	// ReasonNotDue), and Detail the particulars ("expires 2027-01-02",
	// "window opens 2026-12-01T00:00:00Z").
	Due    bool   `json:"due"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
	// Renewed reports whether a new certificate was issued and written to
	// Key.
	Renewed bool   `json:"renewed"`
	Key     string `json:"key,omitempty"`
	// Skipped says why a due certificate was not renewed in this run.
	Skipped string `json:"skipped,omitempty"`
	// NotAfter is the expiry of the new certificate when Renewed, else of
	// the current one (zero when there is none).
	NotAfter time.Time `json:"notAfter,omitzero"`
	// Serial is the new certificate's serial number (hex).
	Serial string `json:"serial,omitempty"`
	// NextAttempt is the earliest the engine tries again (after a failure,
	// or the daily limit), unless forced.
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	// Error is the failure, redacted; empty on success. Err is the same
	// error for errors.Is (ErrNotVisible, ErrRateLimited, ErrEABMissing,
	// context.DeadlineExceeded); it is not serialised.
	Error string `json:"error,omitempty"`
	Err   error  `json:"-"`
	// LeftBehind names DNS records that could not be removed: a person
	// must delete them.
	LeftBehind []string `json:"leftBehind,omitempty"`
	// DurationMs is how long the certificate took.
	DurationMs int64 `json:"durationMs"`
}

// Failed reports whether the certificate needs attention: an error, or a
// record left behind.
func (r Result) Failed() bool { return r.Error != "" || len(r.LeftBehind) > 0 }

// Errors the engine's results wrap, for errors.Is.
var (
	// ErrNotVisible: the challenge record never became visible at the
	// zone's authoritative servers.
	ErrNotVisible = errors.New("DNS record not visible")
	// ErrRateLimited: the CA refused the order for its rate limits.
	ErrRateLimited = errors.New("rate limited by the CA")
	// ErrEABMissing: the CA needs an external account binding and the
	// variables the manifest names are not set.
	ErrEABMissing = errors.New("external account binding not set")
	// ErrNoProvider: the certificate's DNS provider cannot be used.
	ErrNoProvider = errors.New("DNS provider unavailable")
)

// Line says in one line what the engine did for a certificate, for a
// person: renewed (why, the new expiry, where), failed (why, the error),
// due but not renewed (why not, the next attempt), or not due.
func (r Result) Line() string {
	var what string
	switch {
	case r.Error != "":
		what = "FAILED (" + r.Reason + "): " + r.Error
	case r.Renewed:
		what = fmt.Sprintf("renewed (%s), expires %s, written to %s", r.Reason, r.NotAfter.UTC().Format(time.RFC3339), r.Key)
	case r.Skipped != "":
		what = fmt.Sprintf("due (%s), not renewed: %s", r.Reason, r.Skipped)
		if !r.NextAttempt.IsZero() {
			what += ", next attempt " + r.NextAttempt.UTC().Format(time.RFC3339)
		}
	default:
		what = "not due"
		if !r.NotAfter.IsZero() {
			what += ", expires " + r.NotAfter.UTC().Format(time.RFC3339)
		}
	}
	if r.Detail != "" && !r.Renewed {
		what += " (" + r.Detail + ")"
	}
	return what
}
