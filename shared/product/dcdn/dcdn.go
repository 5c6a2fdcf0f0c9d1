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
	"github.com/certdrop/certdrop/shared/config"
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
func New() product.Product {
	return &product.Domain{
		Manifest: manifest.Spec{Name: Name, NoStaging: "its Set API's current reference has no Env parameter (only vod's has)"},
		SetAPI:   SetAPI, DescribeAPI: DescribeAPI, EnvEndpoint: EnvEndpoint,
		Host: product.At(Host), DotWildcard: true, Pool: pool,
	}
}
