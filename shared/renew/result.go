package renew

import (
	"errors"
	"fmt"
	"strings"
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
	SkipBackoff     = "backoff"      // an earlier failure: waiting until NextAttempt
	SkipDailyLimit  = "daily_limit"  // an order was made less than a day ago
	SkipDryRun      = "dry_run"      // nothing is ordered in a dry run
	SkipNotStarted  = "not_started"  // too close to the deadline to start an order
	SkipRateLimited = "rate_limited" // the CA asked to wait (Retry-After)
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
	// NextDue is, for a certificate not due, when it becomes due (the
	// CA's selected time in its renewal window, or renewBefore or a
	// third of the lifetime before expiry).
	NextDue time.Time `json:"nextDue,omitzero"`
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
	// Error is the failure (nil on success): its code, redacted message,
	// hint and class, as the function's outcome carries them; errors.Is
	// sees its cause (ErrNotVisible, ErrRateLimited, ErrNoZone…).
	Error *Error `json:"error,omitempty"`
	// LeftBehind names DNS records that could not be removed: a person
	// must delete them.
	LeftBehind []string `json:"leftBehind,omitempty"`
	// DurationMs is how long the certificate took.
	DurationMs int64 `json:"durationMs"`
}

// Failed reports whether the certificate needs attention: an error, or a
// record left behind.
func (r Result) Failed() bool { return r.Error != nil || len(r.LeftBehind) > 0 }

// Stalled reports whether a due certificate is held back by the back-off
// after failures: it is still due and is not renewed before NextAttempt,
// which people must hear of on every run.
func (r Result) Stalled() bool { return r.Due && !r.Renewed && r.Skipped == SkipBackoff }

// Alert reports whether the result needs a person: Failed or Stalled. The
// function alerts it and `certdrop renew` exits 1.
func (r Result) Alert() bool { return r.Failed() || r.Stalled() }

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
	// ErrNoZone: the DNS provider lists its zones and none holds a
	// challenge name (or the name its CNAME leads to).
	ErrNoZone = errors.New("no zone of the DNS provider holds the name")
	// ErrDNSWrite: the DNS provider did not write (or remove) a record.
	ErrDNSWrite = errors.New("the DNS provider could not write the record")
)

// kind marks err as one of the sentinel errors above, keeping its text.
type kind struct{ sentinel, err error }

func (k kind) Error() string   { return k.err.Error() }
func (k kind) Unwrap() []error { return []error{k.sentinel, k.err} }

// Line says in one line what the engine did for a certificate, for a
// person: renewed (why, the new expiry, where), failed (why, the error),
// due but not renewed (why not, the next attempt), or not due.
func (r Result) Line() string {
	var what string
	switch {
	case r.Error != nil:
		what = "FAILED (" + r.Reason + "): " + strings.TrimPrefix(r.Error.Code+": ", ": ") + r.Error.Message
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
