package cloudsim

// The products the OpenAPI emulator serves, as the domain registry and the
// journal's Service field name them.
const (
	ProductCDN  = "cdn"
	ProductVOD  = "vod"
	ProductLive = "live"
	// ProductDCDN is DCDN (Edge Security Acceleration), dcdn.go.
	ProductDCDN = "dcdn"
)

// apiSpec describes one emulated OpenAPI operation.
type apiSpec struct {
	action  string
	version string
	// product is ProductCDN, ProductVOD, ProductLive or ProductDNS.
	product string
	// set is true for the four Set operations, false for Describe.
	set bool
	// legacy marks SetDomainServerCertificate, whose parameters are
	// ServerCertificateStatus, ServerCertificate and PrivateKey.
	legacy bool
	// forceSet: the operation documents ForceSet (Live and the legacy CDN
	// operation); the others have no such parameter.
	forceSet bool
	// env: the operation documents Env=staging: VOD's
	// SetVodDomainSSLCertificate only. The current references of
	// SetCdnDomainSSLCertificate and SetDcdnDomainSSLCertificate have no
	// Env (the CDN SDK dropped it in v8.0.0, the DCDN SDK in v4.0.0), nor
	// have Live's or the legacy operation's.
	env bool
	// quota is the default per-account calls per second.
	quota float64
}

// hostID is what the product's error responses name as HostId.
func (a apiSpec) hostID() string {
	switch a.product {
	case ProductVOD:
		return "vod.cn-shanghai.aliyuncs.com"
	case ProductLive:
		return "live.aliyuncs.com"
	case ProductDNS:
		return "alidns.aliyuncs.com"
	case ProductCAS:
		return "cas.aliyuncs.com"
	case ProductDCDN:
		return "dcdn.aliyuncs.com"
	default:
		return "cdn.aliyuncs.com"
	}
}

// DefaultQuotas returns the per-account calls per second the emulator
// enforces when the configuration names no quota for an API: the
// documented 30/s for the current Set operations, 10/s for the legacy
// SetDomainServerCertificate, 30/s or 100/s for the Describe operations,
// and for Alibaba Cloud DNS the documented 60/s for AddDomainRecord and
// DeleteDomainRecord, 100/s, 300/s and 200/s for DescribeDomainRecords,
// DescribeSubDomainRecords and DescribeDomainRecordInfo, and 10/s for the
// undocumented DescribeDomains and GetMainDomainName.
func DefaultQuotas() map[string]float64 {
	q := map[string]float64{}
	for _, a := range apiSpecs() {
		q[a.action] = a.quota
	}
	return q
}

// apiSpecs lists the emulated operations.
func apiSpecs() []apiSpec {
	return []apiSpec{
		{action: "SetCdnDomainSSLCertificate", version: "2018-05-10", product: ProductCDN, set: true, quota: 30},
		{action: "SetDomainServerCertificate", version: "2018-05-10", product: ProductCDN, set: true, legacy: true, forceSet: true, quota: 10},
		{action: "SetVodDomainSSLCertificate", version: "2017-03-21", product: ProductVOD, set: true, env: true, quota: 30},
		{action: "SetLiveDomainCertificate", version: "2016-11-01", product: ProductLive, set: true, forceSet: true, quota: 30},
		// CDN's and Live's pages document 100 calls/s for their Describe;
		// VOD's documents none, so it gets the conservative 30 of its Set.
		{action: "DescribeDomainCertificateInfo", version: "2018-05-10", product: ProductCDN, quota: 100},
		{action: "DescribeVodDomainCertificateInfo", version: "2017-03-21", product: ProductVOD, quota: 30},
		{action: "DescribeLiveDomainCertificateInfo", version: "2016-11-01", product: ProductLive, quota: 100},
		// DCDN (dcdn.go).
		{action: "SetDcdnDomainSSLCertificate", version: "2018-01-15", product: ProductDCDN, set: true, quota: dcdnSetQuota},
		{action: "DescribeDcdnDomainCertificateInfo", version: "2018-01-15", product: ProductDCDN, quota: dcdnDescribeQuota},
		// Alibaba Cloud DNS's "API rate quota" page
		// (https://www.alibabacloud.com/help/en/dns/api-alidns-2015-01-09-quota)
		// lists the record operations; DescribeDomains and
		// GetMainDomainName are not listed: 10/s is the emulator's choice.
		{action: "DescribeDomains", version: "2015-01-09", product: ProductDNS, quota: 10},
		{action: "GetMainDomainName", version: "2015-01-09", product: ProductDNS, quota: 10},
		{action: "DescribeDomainRecords", version: "2015-01-09", product: ProductDNS, quota: 100},
		{action: "DescribeSubDomainRecords", version: "2015-01-09", product: ProductDNS, quota: 300},
		{action: "DescribeDomainRecordInfo", version: "2015-01-09", product: ProductDNS, quota: 200},
		{action: "AddDomainRecord", version: "2015-01-09", product: ProductDNS, quota: 60},
		{action: "DeleteDomainRecord", version: "2015-01-09", product: ProductDNS, quota: 60},
		// Certificate Management Service (cas.go): each page's QPS limit.
		{action: "UploadUserCertificate", version: "2020-04-07", product: ProductCAS, quota: 100},
		{action: "ListUserCertificateOrder", version: "2020-04-07", product: ProductCAS, quota: 10},
		{action: "GetUserCertificateDetail", version: "2020-04-07", product: ProductCAS, quota: 100},
		{action: "DeleteUserCertificate", version: "2020-04-07", product: ProductCAS, quota: 100},
	}
}

// lookupAPI finds an operation by action name.
func lookupAPI(action string) (apiSpec, bool) {
	for _, a := range apiSpecs() {
		if a.action == action {
			return a, true
		}
	}
	return apiSpec{}, false
}
