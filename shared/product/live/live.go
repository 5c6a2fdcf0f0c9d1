// Package live is ApsaraVideo Live's domains: SetLiveDomainCertificate
// (API 2016-11-01), 30 calls/s as its reference documents, and
// DescribeLiveDomainCertificateInfo, 100 calls/s as its reference
// documents (both configurable with CERTDROP_QUOTAS), at
// live.aliyuncs.com or the URL in CERTDROP_LIVE_ENDPOINT.
//
// Manifest: a target is a Live domain (domain, domains); no field of its
// own; staging: true is refused (its API has no Env parameter).
//
// Delivery: upload sends CertType=upload with SSLPub and SSLPri, and
// ForceSet=1. The reference requires SSLPub and SSLPri whenever
// SSLProtocol is on and documents no CertId: a target with delivery: cas
// is delivered by upload (ByUpload says so in the plan), and casRegion
// ap-southeast-1 is refused.
//
// Errors: the OpenAPI table of shared/cloud (cloud.Codes), which holds the
// codes of these operations' references.
package live

import (
	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
)

// Name is the product's name.
const Name manifest.Product = "live"

// Version is the Live API version.
const Version = "2016-11-01"

// EnvEndpoint overrides the endpoint, as a URL.
const EnvEndpoint = config.LiveEndpoint

// Host is the Live API's public endpoint.
const Host = "live.aliyuncs.com"

// The operations.
var (
	// SetAPI sets a domain's certificate.
	SetAPI = plan.API{Service: "live", Action: "SetLiveDomainCertificate", Version: Version, Quota: 30}
	// DescribeAPI reads what a domain carries.
	DescribeAPI = plan.API{Service: "live", Action: "DescribeLiveDomainCertificateInfo", Version: Version, Quota: 100}
)

// ByUpload is why a live target with delivery: cas is planned as an
// upload.
const ByUpload = "live targets with delivery: cas are delivered by upload (the certificate and key in " +
	"SetLiveDomainCertificate): its reference requires SSLPub and SSLPri with SSLProtocol=on and documents " +
	"no way to name a certificate in Certificate Management Service"

// pool is the product's connection pool.
const pool = "live"

// New returns product live.
func New() product.Product {
	return &product.Domain{
		Manifest: manifest.Spec{Name: Name, NoStaging: "its API has no Env parameter", CASByName: true},
		SetAPI:   SetAPI, DescribeAPI: DescribeAPI, EnvEndpoint: EnvEndpoint,
		Host: product.At(Host), Pool: pool,
		UploadParams: func(c plan.Call, certName, certPEM string, key bundle.Secret) plan.Call {
			// CertType=upload with SSLPub and SSLPri, and ForceSet=1.
			c = product.UploadSSL(c, certName, certPEM, key)
			product.Add(&c, "ForceSet", "1")
			return c
		},
		ReferenceParams: func(c plan.Call, _ string) (plan.Call, error) {
			return c, &plan.NoReferenceError{Note: ByUpload}
		},
	}
}
