// Package plan turns a validated bundle and the manifest targets it matches
// into the exact API calls to make: action, version, endpoint and
// parameters as the vendor's reference documents name them, plus the
// quota-bound estimate of how long the run must take.
package plan

import (
	"fmt"

	"github.com/certdrop/certdrop/shared/manifest"
)

// API describes one OpenAPI operation certdrop calls and its documented
// per-account quota.
type API struct {
	Product manifest.Product
	// Action is the OpenAPI action name, e.g. "SetCdnDomainSSLCertificate".
	Action string
	// Version is the API version, e.g. "2018-05-10".
	Version string
	// Quota is the documented limit in calls per second per account.
	Quota float64
}

// String returns the action name.
func (a API) String() string { return a.Action }

// API versions of the OpenAPI products. OSS's PutCname and ListCname are
// OSS REST operations, which have no API version.
const (
	CDNVersion  = "2018-05-10"
	VODVersion  = "2017-03-21"
	LiveVersion = "2016-11-01"
	DCDNVersion = "2018-01-15"
)

// The OSS operations: PutCname (POST /?cname&comp=add with a
// CertificateConfiguration) sets a custom domain's certificate, ListCname
// (GET /?cname) reads what the bucket's custom domains carry.
const (
	OSSPutCname  = "PutCname"
	OSSListCname = "ListCname"
)

// SetAPI returns the operation that installs a certificate on a product.
// The quotas are those the reference documents state: 30 calls/s for the
// three current APIs, 10 calls/s for the legacy SetDomainServerCertificate.
// The SetDcdnDomainSSLCertificate page states no rate: it gets 30 calls/s,
// the rate of CDN's Set and of DCDN's other domain writes. OSS documents no
// per-operation rate for PutCname (only the account's 10,000 requests/s
// for all of OSS): each call also creates a certificate in Certificate
// Management Service, so it gets a cautious 10 calls/s. All are
// configurable (CERTDROP_QUOTAS).
func SetAPI(p manifest.Product) API {
	switch p {
	case manifest.CDN:
		return API{p, "SetCdnDomainSSLCertificate", CDNVersion, 30}
	case manifest.CDNLegacy:
		return API{p, "SetDomainServerCertificate", CDNVersion, 10}
	case manifest.VOD:
		return API{p, "SetVodDomainSSLCertificate", VODVersion, 30}
	case manifest.Live:
		return API{p, "SetLiveDomainCertificate", LiveVersion, 30}
	case manifest.DCDN:
		return API{p, "SetDcdnDomainSSLCertificate", DCDNVersion, 30}
	case manifest.OSS:
		return API{p, OSSPutCname, "", 10}
	}
	panic(fmt.Sprintf("plan: unknown product %q", p))
}

// DescribeAPI returns the operation that reads the certificate a domain
// carries now. Both CDN products share DescribeDomainCertificateInfo. The
// vendor's pages give 100 calls/s for the CDN and Live reads; the VOD page
// gives none, so VOD's read gets the 30 calls/s of its write. DCDN's read
// is documented at 100 calls/s; OSS's ListCname, undocumented, gets the
// 10 calls/s of PutCname. All are configurable (CERTDROP_QUOTAS).
func DescribeAPI(p manifest.Product) API {
	switch p {
	case manifest.CDN, manifest.CDNLegacy:
		return API{manifest.CDN, "DescribeDomainCertificateInfo", CDNVersion, 100}
	case manifest.VOD:
		return API{p, "DescribeVodDomainCertificateInfo", VODVersion, 30}
	case manifest.Live:
		return API{p, "DescribeLiveDomainCertificateInfo", LiveVersion, 100}
	case manifest.DCDN:
		return API{p, "DescribeDcdnDomainCertificateInfo", DCDNVersion, 100}
	case manifest.OSS:
		return API{p, OSSListCname, "", 10}
	}
	panic(fmt.Sprintf("plan: unknown product %q", p))
}

// DefaultEndpoint returns the public endpoint host of a product; region
// matters for VOD (cn-shanghai by default, or ap-southeast-1) and OSS
// (the bucket's region: oss-<region>.aliyuncs.com, the bucket going in
// front of it or in the path as the SDK addresses it).
func DefaultEndpoint(p manifest.Product, region string) string {
	switch p {
	case manifest.DCDN:
		return "dcdn.aliyuncs.com"
	case manifest.OSS:
		return "oss-" + region + ".aliyuncs.com"
	case manifest.VOD:
		if region == "" {
			region = manifest.VODRegionShanghai
		}
		return "vod." + region + ".aliyuncs.com"
	case manifest.Live:
		return "live.aliyuncs.com"
	default:
		return "cdn.aliyuncs.com"
	}
}
