package product

import (
	"context"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// Domain is a product whose targets are domains, each set with one
// OpenAPI call and read with a Describe*CertificateInfo operation (CDN,
// its legacy action, DCDN, VOD, Live): what tells such products apart is
// data, which a Domain holds. It implements Product.
type Domain struct {
	// Manifest is the product's manifest.Spec.
	Manifest manifest.Spec
	// SetAPI sets a domain's certificate; DescribeAPI reads what it
	// carries.
	SetAPI, DescribeAPI plan.API
	// EnvEndpoint names the variable that overrides the endpoint.
	EnvEndpoint string
	// Host returns the public endpoint host of a target's region.
	Host func(region string) string
	// DotWildcard: the API writes a wildcard domain ".example.com".
	DotWildcard bool
	// Pool names the connection pool; products of one service share one.
	Pool string
	// UploadParams plans an upload's parameters; nil: UploadSSL.
	UploadParams func(c plan.Call, certName, certPEM string, key bundle.Secret) plan.Call
	// ReferenceParams plans a by-reference Set's parameters; nil:
	// ReferenceSSL.
	ReferenceParams func(c plan.Call, casName string) (plan.Call, error)
	// Hint, when set, gives the Set's error codes a hint of the product's.
	Hint func(code string) string
}

var _ Product = (*Domain)(nil)

// Spec returns d.Manifest.
func (d *Domain) Spec() manifest.Spec { return d.Manifest }

// APIs are the Set and the Describe.
func (d *Domain) APIs() []plan.API { return []plan.API{d.SetAPI, d.DescribeAPI} }

// EndpointVar is d.EnvEndpoint.
func (d *Domain) EndpointVar() string { return d.EnvEndpoint }

// Target plans the Set on the target's domain, at its region's host.
func (d *Domain) Target(t manifest.Target) (plan.Call, error) {
	return DomainCall(t, d.SetAPI, d.Host(t.Region), d.EnvEndpoint, d.DotWildcard)
}

// Upload plans the certificate and key in the Set (UploadParams).
func (d *Domain) Upload(c plan.Call, certName, certPEM string, key bundle.Secret) plan.Call {
	if d.UploadParams != nil {
		return d.UploadParams(c, certName, certPEM, key)
	}
	return UploadSSL(c, certName, certPEM, key)
}

// Reference plans the Set by reference to a certificate in CAS
// (ReferenceParams).
func (d *Domain) Reference(c plan.Call, casName, _ string) (plan.Call, error) {
	if d.ReferenceParams != nil {
		return d.ReferenceParams(c, casName)
	}
	return ReferenceSSL(c, casName), nil
}

// Set sends the call's Set.
func (d *Domain) Set(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) error {
	r := SetRequest(call, d.Pool)
	r.Hint = d.Hint
	_, err := RPC(ctx, tr, calls, call.API, r, nil)
	return err
}

// Describe reads what the call's domain carries (DescribeDomain).
func (d *Domain) Describe(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	return DescribeDomain(ctx, tr, call, calls, d.DescribeAPI, d.Pool)
}

// At returns a Host for a product with one endpoint host in every region.
func At(host string) func(string) string { return func(string) string { return host } }
