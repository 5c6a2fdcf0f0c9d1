package cloudsim

import "github.com/certdrop/certdrop/shared/config"

// ProductLive is ApsaraVideo Live (product live, API version 2016-11-01,
// RPC style), served on the OpenAPI listener (CERTDROP_LIVE_ENDPOINT).
// Its domains are configured under domains.live. Operations
// (domaincert.go has the checks and their order):
//
//	SetLiveDomainCertificate           DomainName, SSLProtocol (on|off), CertName,
//	                                   CertType, SSLPub, SSLPri (both required with
//	                                   SSLProtocol=on, whatever CertType says: the
//	                                   page documents no CertId, so CertType=cas is
//	                                   an upload), ForceSet. No Env, no CertRegion.
//	                                   An offline domain answers
//	                                   InvalidDomain.notOnline. 30 calls/s.
//	DescribeLiveDomainCertificateInfo  DomainName -> CertInfos.CertInfo[] with
//	                                   SSLProtocol and SSLPub. 100 calls/s, as its
//	                                   page documents.
//
// Its error messages are those of its reference where they differ from
// the CDN's (liveMessages).
const ProductLive = "live"

// liveProduct registers Live.
func liveProduct() productSpec {
	return productSpec{
		name: ProductLive, code: "live", host: "live.aliyuncs.com",
		env:      []string{config.LiveEndpoint},
		errors:   domainErrors(),
		messages: liveMessages(),
		domains: &domainProduct{
			configured: func(d Domains) []Domain { return d.Live },
			offline:    "InvalidDomain.notOnline",
			describe:   sslProtocolFields,
		},
		actions: []apiSpec{
			{action: "SetLiveDomainCertificate", version: "2016-11-01", quota: 30, journal: domainSetJournal,
				handle: domainSet(setSpec{forceSet: true, reference: refNone})},
			{action: "DescribeLiveDomainCertificateInfo", version: "2016-11-01", quota: 100, handle: domainDescribe},
		},
	}
}

// liveMessages are the messages the Live reference document gives where
// they differ from CDN's.
func liveMessages() map[string]string {
	return map[string]string{
		"InvalidSSLProtocol.ValueNotSupported": "The specified value of parameter SSLProtocol is not supported.",
		"SSLPub.MissingParameter":              `An input parameter "SSLPub" that is mandatory for processing the request is not supplied.`,
		"SSLPri.MissingParameter":              `An input parameter "SSLPri" that is mandatory for processing the request is not supplied.`,
		"InvalidSSLPub":                        "The SSLPub you provided is malformed!",
		"InvalidSSLPri":                        "The SSLPri you provided is malformed!",
		"Certificate.MissMatch":                "The SSLPri does not math the specified Certificate!",
		"InvalidCertificate.TooLong":           "The Certificate you provided is over the max length!",
		"InvalidCertName.TooLong":              "The Certificate name you provided is over the max length 128!",
		"Certificate.Duplicated":               "The certificate name is duplicated.",
		"Certificate.Expired":                  "The certificate is expired.",
		"InvalidDomain.notOnline":              "The domain is not online, please check the domain status and try again later.",
		"DomainInSafeMode":                     "This domain is in the safe mode. if you want to do this operation, please contact us!",
	}
}
