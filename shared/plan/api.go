// Package plan turns a validated bundle and the manifest targets it matches
// into the exact API calls to make: action, version, endpoint and
// parameters as the vendor's reference documents name them, plus the
// quota-bound estimate of how long the run must take.
package plan

import (
	"fmt"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/manifest"
)

// API describes one operation certdrop calls and its per-account quota.
type API struct {
	// Service is the RAM service whose action it is ("cdn", "oss",
	// "yundun-cert"): a RAM policy grants Service:Action.
	Service string
	// Action is the operation's name, e.g. "SetCdnDomainSSLCertificate".
	Action string
	// Version is the API version, e.g. "2018-05-10"; empty for a REST
	// operation without one (OSS's).
	Version string
	// Quota is the limit in calls per second per account: the vendor's
	// documented one, or a cautious default where none is documented (each
	// product's package says which), overridable with CERTDROP_QUOTAS.
	Quota float64
}

// String returns the action name.
func (a API) String() string { return a.Action }

// Lane names the quota a call of the API is paced at in one account: its
// service and action, so that two products' operations of one name
// (ALB's and NLB's UpdateListenerAttribute) are paced apart.
func (a API) Lane() string { return a.Service + ":" + a.Action }

// Planner plans the calls of one product's targets; every product
// implements it (shared/product).
type Planner interface {
	// Target returns the call that names t without a certificate: its Set
	// API, its endpoint, what it addresses as its API takes it
	// (DomainName), and no parameters. It is what a Describe of the target
	// needs.
	Target(t manifest.Target) (Call, error)
	// Upload returns c, t's Target call, with the parameters of a Set that
	// carries the certificate and its key (delivery: upload).
	Upload(c Call, certName, certPEM string, key bundle.Secret) Call
	// Reference returns c, t's Target call, with the parameters of a Set
	// by reference to the certificate in Certificate Management Service
	// (delivery: cas): CASRegion set, the CertId parameter empty until
	// WithCertID binds it, no key. certPEM, when not empty, may stay with
	// the call (never sent) for its Describe to compare. A product whose
	// Set API takes no reference returns a *NoReferenceError.
	Reference(c Call, casName, certPEM string) (Call, error)
}

// Products finds the Planner of a product by name (product.Registry).
type Products interface {
	// Planner returns the named product's Planner; false when there is
	// no such product.
	Planner(name manifest.Product) (Planner, bool)
}

// planner returns the Planner of t's product, or an error naming t.
func planner(ps Products, t manifest.Target) (Planner, error) {
	if ps != nil {
		if pl, ok := ps.Planner(t.Product); ok {
			return pl, nil
		}
	}
	return nil, fmt.Errorf("target %s: unknown product %q", t, t.Product)
}
