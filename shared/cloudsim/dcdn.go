package cloudsim

import "github.com/certdrop/certdrop/shared/config"

// ProductDCDN is DCDN (Edge Security Acceleration; product dcdn, API
// version 2018-01-15, RPC style), served on the OpenAPI listener (CERTDROP_DCDN_ENDPOINT) with
// the same signature checks, quotas, faults and journal as CDN. Its domains
// are configured under domains.dcdn, like the other products'.
//
//	SetDcdnDomainSSLCertificate  DomainName (required), SSLProtocol (on|off,
//	                             required), CertType (upload|cas; default upload),
//	                             CertName (upload only: the name to store the
//	                             certificate under; generated when absent),
//	                             SSLPub, SSLPri (upload), CertId (required with
//	                             cas), CertRegion (cn-hangzhou|ap-southeast-1,
//	                             default cn-hangzhou; cas only). No Env: the
//	                             current reference has none (the DCDN SDK
//	                             dropped it in v4.0.0), so a call with Env
//	                             is refused InvalidEnv
//	  -> RequestId. Errors as SetCdnDomainSSLCertificate (the page lists the same
//	     codes): MissingDomainName, MissingSSLProtocol,
//	     InvalidSSLProtocol.ValueNotSupported, InvalidDomain.NotFound,
//	     InvalidDomain.Offline, DomainInSafeMode, ServiceBusy (configuring),
//	     SSLPub.MissingParameter, SSLPri.MissingParameter, InvalidSSLPub,
//	     InvalidSSLPri, Certificate.MissMatch, Certificate.Expired,
//	     InvalidCertificate.TooLong, InvalidCertName.TooLong,
//	     Certificate.Duplicated (a name taken by other content),
//	     Abs.CertRegion.ValueNotSupported, and for cas the answers of
//	     applySetByReference (SetDomainCertificate.ParameterError without
//	     CertId or when the certificate does not cover the domain,
//	     Certificate.NotFind, Certificate.Expired).
//	DescribeDcdnDomainCertificateInfo  DomainName (required)
//	  -> RequestId, CertInfos.CertInfo[]: DomainName, CertName, CertId (string),
//	     CertRegion, CertType (upload|cas), SSLProtocol (on|off), SSLPub (the
//	     chain), CertDomainName, CertExpireTime (2006-01-02T15:04:05Z),
//	     CertLife ("3 months"), CertOrg, Status ("success" once a certificate
//	     is set), the fields of the reference page. Errors: MissingDomainName,
//	     InvalidDomain.NotFound.
//
// Quotas: DescribeDcdnDomainCertificateInfo 100/s per account, as its page
// documents. The SetDcdnDomainSSLCertificate page documents no per-second
// limit (its English and Chinese editions, help.aliyun.com document
// 131404, have no "QPS limit" section): the emulator applies CDN's
// documented 30/s (SetCdnDomainSSLCertificate; the same certificate
// backend). Config.Quotas changes either.
//
// Sources: https://www.alibabacloud.com/help/en/doc-detail/131404.html
// (SetDcdnDomainSSLCertificate: parameters, "CertName ... only effective
// when CertType=upload", "CertId ... required when CertType=cas",
// "CertRegion ... default cn-hangzhou"),
// https://help.aliyun.com/document_detail/131404.html (error codes),
// https://help.aliyun.com/document_detail/131400.htm and
// https://www.alibabacloud.com/help/en/dcdn/developer-reference/api-dcdn-2018-01-15-describedcdndomaincertificateinfo
// (DescribeDcdnDomainCertificateInfo: response fields, 100 calls/s).
const ProductDCDN = "dcdn"

// The DCDN quotas the emulator applies (ProductDCDN says which the vendor
// documents).
const (
	dcdnSetQuota      = 30
	dcdnDescribeQuota = 100
)

// dcdnProduct registers DCDN.
func dcdnProduct() productSpec {
	return productSpec{
		name: ProductDCDN, code: "dcdn", host: "dcdn.aliyuncs.com",
		env:    []string{config.DCDNEndpoint},
		errors: domainErrors(),
		domains: &domainProduct{
			configured:  func(d Domains) []Domain { return d.DCDN },
			offline:     "InvalidDomain.Offline",
			dotWildcard: true,
			describe: func(info map[string]string, dc DomainCert) {
				sslProtocolFields(info, dc)
				certIDFields(info, dc)
			},
		},
		actions: []apiSpec{
			{action: "SetDcdnDomainSSLCertificate", version: "2018-01-15", quota: dcdnSetQuota, journal: domainSetJournal,
				handle: domainSet(setSpec{certRegion: true, reference: refByID})},
			{action: "DescribeDcdnDomainCertificateInfo", version: "2018-01-15", quota: dcdnDescribeQuota, handle: domainDescribe},
		},
	}
}
