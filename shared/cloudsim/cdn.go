package cloudsim

import "github.com/certdrop/certdrop/shared/config"

// ProductCDN is Alibaba Cloud CDN (product cdn, API version 2018-05-10,
// RPC style), served on the OpenAPI listener (CERTDROP_CDN_ENDPOINT). Its
// domains are configured under domains.cdn; a wildcard domain is named
// ".example.com", as the CDN names it. Operations (domaincert.go has the
// checks and their order):
//
//	SetCdnDomainSSLCertificate     DomainName, SSLProtocol (on|off), CertType
//	                               (upload|cas), CertName, SSLPub, SSLPri,
//	                               CertId (required with cas), CertRegion
//	                               (cn-hangzhou|ap-southeast-1). No Env (the
//	                               CDN SDK dropped it in v8.0.0) nor ForceSet:
//	                               a name taken by other content is
//	                               Certificate.Duplicated. 30 calls/s.
//	SetDomainServerCertificate     the legacy operation: DomainName,
//	                               ServerCertificateStatus (on|off), CertName,
//	                               ServerCertificate, PrivateKey, CertType,
//	                               ForceSet; by reference, CertName in
//	                               cn-hangzhou. Its own codes for a bad pair
//	                               (Certificate.FormatError,
//	                               Certificate.KeyNull). 10 calls/s.
//	DescribeDomainCertificateInfo  DomainName -> CertInfos.CertInfo[] with
//	                               ServerCertificateStatus, ServerCertificate,
//	                               CertStartTime, CertUpdateTime, CertId,
//	                               CertRegion, Status. 100 calls/s.
const ProductCDN = "cdn"

// cdnProduct registers the CDN.
func cdnProduct() productSpec {
	return productSpec{
		name: ProductCDN, code: "Cdn", host: "cdn.aliyuncs.com",
		env:    []string{config.CDNEndpoint},
		errors: domainErrors(),
		domains: &domainProduct{
			configured:  func(d Domains) []Domain { return d.CDN },
			offline:     "InvalidDomain.Offline",
			dotWildcard: true,
			describe: func(info map[string]string, dc DomainCert) {
				serverCertificateFields(info, dc)
				certIDFields(info, dc)
			},
		},
		actions: []apiSpec{
			{action: "SetCdnDomainSSLCertificate", version: "2018-05-10", quota: 30, journal: domainSetJournal,
				handle: domainSet(setSpec{certRegion: true, reference: refByID})},
			{action: "SetDomainServerCertificate", version: "2018-05-10", quota: 10, journal: domainSetJournal,
				handle: domainSet(setSpec{legacy: true, forceSet: true, reference: refByName})},
			// Its page documents 100 calls/s.
			{action: "DescribeDomainCertificateInfo", version: "2018-05-10", quota: 100, handle: domainDescribe},
		},
	}
}
