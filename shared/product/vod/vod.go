// Package vod is ApsaraVideo VOD's domains: SetVodDomainSSLCertificate
// (API 2017-03-21), 30 calls/s as its reference documents, and
// DescribeVodDomainCertificateInfo, whose page gives no rate: it gets the
// 30 calls/s of the Set (undocumented: a cautious default, configurable
// with CERTDROP_QUOTAS). The endpoint is the region's,
// vod.<region>.aliyuncs.com, or the URL in CERTDROP_VOD_ENDPOINT for
// every region.
//
// Manifest: a target is a VOD domain (domain, domains), with an optional
// region: cn-shanghai (the default) or ap-southeast-1. VOD's is the one
// Set reference that documents Env: staging: true sends Env=staging.
//
// Delivery: upload sends CertType=upload with SSLPub and SSLPri; cas
// sends CertType=cas with CertId and CertRegion.
//
// Errors: the OpenAPI table of shared/cloud (cloud.Codes), which holds the
// codes of these operations' references.
package vod

import (
	"fmt"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
)

// Name is the product's name.
const Name manifest.Product = "vod"

// Version is the VOD API version.
const Version = "2017-03-21"

// EnvEndpoint overrides the endpoint of every VOD region, as a URL.
const EnvEndpoint = config.VODEndpoint

// The regions a target may name.
const (
	RegionShanghai  = "cn-shanghai"
	RegionSingapore = "ap-southeast-1"
)

// The operations.
var (
	// SetAPI sets a domain's certificate.
	SetAPI = plan.API{Service: "vod", Action: "SetVodDomainSSLCertificate", Version: Version, Quota: 30}
	// DescribeAPI reads what a domain carries.
	DescribeAPI = plan.API{Service: "vod", Action: "DescribeVodDomainCertificateInfo", Version: Version, Quota: 30}
)

// pool is the product's connection pool.
const pool = "vod"

// Host returns the public endpoint of a VOD region (cn-shanghai when
// empty).
func Host(region string) string {
	if region == "" {
		region = RegionShanghai
	}
	return "vod." + region + ".aliyuncs.com"
}

// New returns product vod.
func New() product.Product {
	return &product.Domain{
		Manifest: manifest.Spec{Name: Name, Fields: []manifest.Field{{
			Name: "region", Default: RegionShanghai,
			Check: func(s string) string {
				if s != RegionShanghai && s != RegionSingapore {
					return fmt.Sprintf("unknown vod region %q (want %s or %s)", s, RegionShanghai, RegionSingapore)
				}
				return ""
			},
		}}},
		SetAPI: SetAPI, DescribeAPI: DescribeAPI, EnvEndpoint: EnvEndpoint, Host: Host, Pool: pool,
		UploadParams: func(c plan.Call, certName, certPEM string, key bundle.Secret) plan.Call {
			return staging(product.UploadSSL(c, certName, certPEM, key))
		},
		ReferenceParams: func(c plan.Call, casName string) (plan.Call, error) {
			return staging(product.ReferenceSSL(c, casName)), nil
		},
	}
}

// staging adds Env=staging to a staging target's Set: VOD's is the one
// Set reference that documents it.
func staging(c plan.Call) plan.Call {
	if c.Target.Staging {
		product.Add(&c, "Env", "staging")
	}
	return c
}
