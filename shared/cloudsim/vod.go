package cloudsim

import "github.com/certdrop/certdrop/shared/config"

// ProductVOD is ApsaraVideo VOD (product vod, API version 2017-03-21, RPC
// style), served on the OpenAPI listener (CERTDROP_VOD_ENDPOINT). Its
// domains are configured under domains.vod. Operations (domaincert.go
// has the checks and their order):
//
//	SetVodDomainSSLCertificate        DomainName, SSLProtocol (on|off), CertType
//	                                  (upload|cas), CertName, SSLPub, SSLPri,
//	                                  CertId or CertName (with cas), CertRegion,
//	                                  Env (staging: installed beside production,
//	                                  Sim.Staging; Describe reports production).
//	                                  No ForceSet. 30 calls/s.
//	DescribeVodDomainCertificateInfo  DomainName -> CertInfos.CertInfo[] with
//	                                  ServerCertificateStatus, ServerCertificate,
//	                                  CertStartTime, CertUpdateTime. Its page
//	                                  documents no quota: the emulator applies
//	                                  the 30 calls/s of the Set.
const ProductVOD = "vod"

// vodProduct registers VOD.
func vodProduct() productSpec {
	return productSpec{
		name: ProductVOD, code: "vod", host: "vod.cn-shanghai.aliyuncs.com",
		env:    []string{config.VODEndpoint},
		errors: domainErrors(),
		domains: &domainProduct{
			configured: func(d Domains) []Domain { return d.VOD },
			offline:    "InvalidDomain.Offline",
			describe:   serverCertificateFields,
		},
		actions: []apiSpec{
			{action: "SetVodDomainSSLCertificate", version: "2017-03-21", quota: 30, journal: domainSetJournal,
				handle: domainSet(setSpec{env: true, certRegion: true, reference: refByIDOrName})},
			{action: "DescribeVodDomainCertificateInfo", version: "2017-03-21", quota: 30, handle: domainDescribe},
		},
	}
}
