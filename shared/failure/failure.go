// Package failure names how a failed API call is treated: the error
// classes the API clients give their errors (shared/cloud, the DNS
// providers) and the fan-out acts on (retry, back off, stop the API, stop
// the run). It imports nothing of certdrop, so that every layer can use it.
package failure

import "time"

// Class says how a failed call is treated.
type Class int

// The error classes. The zero value is Permanent: an error nobody
// classified is not retried.
const (
	// Permanent errors fail the one target; retrying cannot help.
	Permanent Class = iota
	// Throttled errors are retried after backing off, and slow the API's pace.
	Throttled
	// Transient errors (5xx, busy, network) are retried after backing off.
	Transient
	// Auth errors stop the whole run: the credentials were refused (unknown
	// key, bad signature, expired token), so every further call would fail
	// alike.
	Auth
	// Forbidden errors say the credentials may not call this API (a RAM
	// policy without the action). RAM grants are per action, so the API's
	// remaining calls are not sent (their targets fail with the same
	// error) and the other APIs go on.
	Forbidden
	// Refused errors belong to the certificate, not to the target: the
	// certificate or key was refused as malformed, too long, expired or
	// mismatched. Every target of the API would be refused alike, so the
	// API's remaining targets fail at once with the same error.
	Refused
)

// String names the class.
func (c Class) String() string {
	switch c {
	case Throttled:
		return "throttled"
	case Transient:
		return "transient"
	case Auth:
		return "auth"
	case Forbidden:
		return "forbidden"
	case Refused:
		return "refused"
	default:
		return "permanent"
	}
}

// ClassifiedError is implemented by client errors that know their class.
// Errors that do not implement it are Transient if they are context or
// network errors, else Permanent (the fan-out's rule).
type ClassifiedError interface {
	error
	// Class returns the error's class.
	Class() Class
	// RetryAfter is the server's hint of when to try again; 0 when none.
	RetryAfter() time.Duration
}
