package fanout

import (
	"context"
	"time"

	"github.com/certdrop/certdrop/shared/plan"
)

// Client performs planned calls against the cloud: it sets and describes
// a call's target as the target's product does it. The products'
// registry implements it over shared/cloud (product.Client); tests may
// implement it in memory.
type Client interface {
	// Set installs the call's certificate on its target, making every API
	// call of the way (one call, or several: add, wait, remove) through
	// calls.
	Set(ctx context.Context, call plan.Call, calls Caller) error
	// Describe reads what the call's target carries now, making every API
	// call through calls.
	Describe(ctx context.Context, call plan.Call, calls Caller) (Installed, error)
}

// Caller makes the API calls of one target's Set or Describe for its
// product: each call waits in the lane of its API (paced at the API's
// quota, within its call slots), and a throttled or transient failure is
// retried there within the target's budgets. An API's lane is shared by
// every target that calls it, so a product whose Set takes several calls
// is paced per API as one whose Set takes one.
type Caller interface {
	// Call makes one call of api: send makes it and returns the answer's
	// RequestId (also with an error, when the API answered). It returns
	// nil once a try succeeded, else the last error, or the run's stop.
	Call(ctx context.Context, api plan.API, send func() (requestID string, err error)) error
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
