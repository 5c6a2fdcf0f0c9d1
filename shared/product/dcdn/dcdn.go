// Package dcdn is Edge Security Acceleration's domains (formerly Dynamic
// Route for CDN): SetDcdnDomainSSLCertificate (API 2018-01-15), whose
// page states no rate: it gets 30 calls/s, the rate of CDN's Set and of
// DCDN's other domain writes (undocumented: a cautious default), and
// DescribeDcdnDomainCertificateInfo, 100 calls/s as its reference
// documents; both configurable with CERTDROP_QUOTAS. The endpoint is
// dcdn.aliyuncs.com, or the URL in CERTDROP_DCDN_ENDPOINT.
//
// Manifest: a target is a DCDN domain (domain, domains); no field of its
// own; staging: true is refused (the current Set reference has no Env
// parameter: the SDK dropped it in v4.0.0). DCDN's reference pages do not
// say how its API writes a wildcard domain: certdrop writes it as CDN's,
// ".example.com" (an assumption to check against a real account; the
// emulator takes the same form).
//
// Delivery: upload sends CertType=upload with SSLPub and SSLPri; cas
// sends CertType=cas with CertId and CertRegion.
//
// Errors: the OpenAPI table of shared/cloud (cloud.Codes): the Set
// answers CDN's codes, and DCDN's error centre adds SystemUpgrading and
// MissingParameter.
package dcdn

import (
	"context"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
)

// Name is the product's name.
const Name manifest.Product = "dcdn"

// Version is the DCDN API version.
const Version = "2018-01-15"

// EnvEndpoint overrides the endpoint, as a URL.
const EnvEndpoint = config.DCDNEndpoint

// Host is the DCDN API's public endpoint.
const Host = "dcdn.aliyuncs.com"

// The operations.
var (
	// SetAPI sets a domain's certificate.
	SetAPI = plan.API{Service: "dcdn", Action: "SetDcdnDomainSSLCertificate", Version: Version, Quota: 30}
	// DescribeAPI reads what a domain carries.
	DescribeAPI = plan.API{Service: "dcdn", Action: "DescribeDcdnDomainCertificateInfo", Version: Version, Quota: 100}
)

// pool is the product's connection pool.
const pool = "dcdn"

// New returns product dcdn.
func New() product.Product { return dcdn{} }

type dcdn struct{}

// Spec: a DCDN domain, without staging.
func (dcdn) Spec() manifest.Spec {
	return manifest.Spec{Name: Name, NoStaging: "its Set API's current reference has no Env parameter (only vod's has)"}
}

// APIs are SetAPI and DescribeAPI.
func (dcdn) APIs() []plan.API { return []plan.API{SetAPI, DescribeAPI} }

// EndpointVar is EnvEndpoint.
func (dcdn) EndpointVar() string { return EnvEndpoint }

// Target plans SetDcdnDomainSSLCertificate on the domain.
func (dcdn) Target(t manifest.Target) (plan.Call, error) {
	return product.DomainCall(t, SetAPI, Host, EnvEndpoint, true)
}

// Upload: CertType=upload with SSLPub and SSLPri.
func (dcdn) Upload(c plan.Call, certName, certPEM string, key bundle.Secret) plan.Call {
	return product.UploadSSL(c, certName, certPEM, key)
}

// Reference: CertType=cas with CertId and CertRegion.
func (dcdn) Reference(c plan.Call, casName, _ string) (plan.Call, error) {
	return product.ReferenceSSL(c, casName), nil
}

// Set sends SetDcdnDomainSSLCertificate.
func (dcdn) Set(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) error {
	return product.SetDomain(ctx, tr, call, calls, pool)
}

// Describe sends DescribeDcdnDomainCertificateInfo.
func (dcdn) Describe(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	return product.DescribeDomain(ctx, tr, call, calls, DescribeAPI, pool)
}
