package bundle

import (
	"crypto/x509"
	"time"
)

// DefaultWarnDays is the expiry warning callers use when the user has not
// chosen one (the manifest's warnDays left out, validate's --warn-days not
// given). Options.WarnDays does not default to it: 0 there means never.
const DefaultWarnDays = 14

// Options tune Parse, Split and Validate. The zero value is ready to use: a
// 1 MiB cap, the real clock, no expiry warning, and the system roots.
type Options struct {
	// MaxSize caps the total bytes of all sources; 0 means DefaultMaxSize.
	MaxSize int64
	// Now is the clock; nil means time.Now. Tests inject a fixed time.
	Now func() time.Time
	// WarnDays: a leaf with fewer days left (as DaysLeft counts them) than
	// this draws a warning. 0 or a negative value never warns, as the
	// manifest's warnDays: 0 does; callers that want the usual warning set
	// DefaultWarnDays explicitly.
	WarnDays int
	// Roots are trusted in addition to the system roots (private CAs, tests).
	Roots []*x509.Certificate
	// NoSystemRoots trusts only Roots: for tests and air-gapped setups.
	NoSystemRoots bool
	// AllowUntrusted turns a chain that does not verify (self-signed, a
	// private root not given in Roots, a leaf not for server
	// authentication) from an error into a warning. A missing intermediate
	// stays an error: a chain that stops short of any root breaks clients
	// whatever they trust.
	AllowUntrusted bool
}

func (o Options) maxSize() int64 {
	if o.MaxSize > 0 {
		return o.MaxSize
	}
	return DefaultMaxSize
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) warnDays() int { return max(o.WarnDays, 0) }
