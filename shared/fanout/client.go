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
