// Package cdn is Alibaba Cloud CDN, two products on the same domains:
//
//   - cdn: SetCdnDomainSSLCertificate (API 2018-05-10), 30 calls/s as its
//     reference documents;
//   - cdn-legacy: the older SetDomainServerCertificate (2018-05-10),
//     10 calls/s as its reference documents, which the vendor has
//     deprecated (removed from the CDN SDK in v6.0.0; its page points to
//     SetCdnDomainSSLCertificate): certdrop still calls it as documented,
//     with a notice on every cdn-legacy target entry, and a gateway that
//     no longer knows it gets LegacyHint.
//
// Both read what a domain carries with DescribeDomainCertificateInfo,
// 100 calls/s as its reference documents, at cdn.aliyuncs.com or the
// URL in CERTDROP_CDN_ENDPOINT, over one connection pool. Every quota is
// configurable with CERTDROP_QUOTAS.
//
// Manifest: a target is a CDN domain (domain, domains), a wildcard
// written "*.example.com" or ".example.com" and sent as ".example.com"
// (the CDN answers InvalidDomain.NotFound for "*.example.com"). No field
// of its own; staging: true is refused (the current Set reference has no
// Env parameter: the SDK dropped it in v8.0.0). A domain listed under
// both cdn and cdn-legacy is an error: both set the same domain's
// certificate.
//
// Delivery: upload sends CertType=upload with SSLPub and SSLPri (cdn), or
// ServerCertificate and PrivateKey with ForceSet=1 (cdn-legacy); cas
// sends CertType=cas with CertId and CertRegion (cdn), or the
// certificate's name only, which CAS looks up in cn-hangzhou, so that
// casRegion ap-southeast-1 is refused (cdn-legacy).
//
// Errors: the OpenAPI table of shared/cloud (cloud.Codes), which holds the
// codes of these operations' references.
package cdn

import (
	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
)

// The products' names.
const (
	Name       manifest.Product = "cdn"
	LegacyName manifest.Product = "cdn-legacy"
)

// Version is the CDN API version.
const Version = "2018-05-10"

// EnvEndpoint overrides the endpoint of both products, as a URL:
// "https://cdn.example.internal" or, for the local emulator only,
// "http://127.0.0.1:8080".
const EnvEndpoint = config.CDNEndpoint

// Host is the CDN API's public endpoint.
const Host = "cdn.aliyuncs.com"

// pool is the connection pool both products share.
const pool = "cdn"

// The operations.
var (
	// SetAPI sets a domain's certificate (cdn).
	SetAPI = plan.API{Service: "cdn", Action: "SetCdnDomainSSLCertificate", Version: Version, Quota: 30}
	// LegacySetAPI sets a domain's certificate (cdn-legacy).
	LegacySetAPI = plan.API{Service: "cdn", Action: "SetDomainServerCertificate", Version: Version, Quota: 10}
	// DescribeAPI reads what a domain carries (both).
	DescribeAPI = plan.API{Service: "cdn", Action: "DescribeDomainCertificateInfo", Version: Version, Quota: 100}
)

// resource is what both products' Set changes.
const resource = "CDN domain"

// LegacyNotice says why a cdn-legacy target should move to cdn.
const LegacyNotice = "product cdn-legacy calls SetDomainServerCertificate, which the vendor has deprecated " +
	"(removed from the CDN SDK in v6.0.0; its reference page points to SetCdnDomainSSLCertificate): " +
	"certdrop still calls it as its reference documents it, but move the target to product: cdn"

// LegacyHint answers a refusal of LegacySetAPI itself: the vendor
// deprecated it, so a gateway that no longer knows it is the expected
// end, and the way on is product cdn.
const LegacyHint = "SetDomainServerCertificate (product cdn-legacy) is deprecated and the gateway no longer takes it: move the target to product: cdn (SetCdnDomainSSLCertificate)"

// New returns product cdn.
func New() product.Product {
	return &product.Domain{
		Manifest: manifest.Spec{Name: Name, Resource: resource,
			NoStaging: "its Set API's current reference has no Env parameter (only vod's has)"},
		SetAPI: SetAPI, DescribeAPI: DescribeAPI, EnvEndpoint: EnvEndpoint,
		Host: product.At(Host), DotWildcard: true, Pool: pool,
	}
}

// NewLegacy returns product cdn-legacy.
func NewLegacy() product.Product {
	return &product.Domain{
		Manifest: manifest.Spec{Name: LegacyName, Resource: resource, NoStaging: "its API has no Env parameter",
			CASByName: true, Notice: LegacyNotice},
		SetAPI: LegacySetAPI, DescribeAPI: DescribeAPI, EnvEndpoint: EnvEndpoint,
		Host: product.At(Host), DotWildcard: true, Pool: pool,
		UploadParams: legacyUpload, ReferenceParams: legacyReference, Hint: legacyHint,
	}
}

// legacyUpload: ServerCertificate and PrivateKey, with ForceSet=1.
func legacyUpload(c plan.Call, certName, certPEM string, key bundle.Secret) plan.Call {
	product.Add(&c, "DomainName", c.DomainName)
	product.Add(&c, "ServerCertificateStatus", "on")
	product.Add(&c, "CertName", certName)
	product.Add(&c, "ServerCertificate", certPEM)
	product.AddSecret(&c, "PrivateKey", key.Reveal())
	product.Add(&c, "ForceSet", "1")
	return c
}

// legacyReference: CertType=cas with the name only (its page: with cas,
// the private key is optional); CAS looks the name up in cn-hangzhou.
func legacyReference(c plan.Call, casName string) (plan.Call, error) {
	c.CASRegion = c.Target.CertRegion()
	product.Add(&c, "DomainName", c.DomainName)
	product.Add(&c, "ServerCertificateStatus", "on")
	product.Add(&c, "CertName", casName)
	product.Add(&c, "CertType", "cas")
	return c, nil
}

// legacyHint is LegacyHint for a code that says the gateway refuses the
// action itself.
func legacyHint(code string) string {
	if cloud.ActionRefused(code) {
		return LegacyHint
	}
	return ""
}
