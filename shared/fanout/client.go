package fanout

import (
	"context"
	"time"

	"github.com/certdrop/certdrop/shared/plan"
)

// Client performs planned calls against the cloud. shared/cloud implements
// it over the real OpenAPI; tests may implement it in memory.
type Client interface {
	// Set installs the call's certificate on its domain and returns the
	// API's RequestId.
	Set(ctx context.Context, call plan.Call) (requestID string, err error)
	// Describe reads what the call's domain carries now.
	Describe(ctx context.Context, call plan.Call) (Installed, error)
}

// Installed is what a domain carries now, as a Describe API reports it.
type Installed struct {
	// CertName is the certificate's name; empty when there is none.
	CertName string
	// Fingerprint is the lower-case hex SHA-256 of the installed leaf, when
	// the API returned its PEM; empty otherwise.
	Fingerprint string
	// NotBefore is when the installed certificate was issued (its
	// not-before), from the PEM or the API's CertStartTime; zero when the
	// answer does not say.
	NotBefore time.Time
	// NotAfter is the installed certificate's expiry; zero when unknown.
	NotAfter time.Time
	// HTTPS reports whether HTTPS (the certificate) is switched on.
	HTTPS bool
	// RequestID is the Describe call's RequestId.
	RequestID string
}

// Class says how the fan-out treats a failed call.
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
	// Refused errors belong to the certificate, not to the domain: the
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
// network errors, else Permanent.
type ClassifiedError interface {
	error
	// Class returns the error's class.
	Class() Class
	// RetryAfter is the server's hint of when to try again; 0 when none.
	RetryAfter() time.Duration
}
