package cloud

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/fanout"
)

// parseInstalled reads a Describe*CertificateInfo answer:
//
//	{"RequestId": "...", "CertInfos": {"CertInfo": [{"DomainName": ...,
//	  "CertName": ..., "CertExpireTime": "2018-06-03T22:03:39Z",
//	  "ServerCertificateStatus": "on", "ServerCertificate": "-----BEGIN..."}]}}
//
// CDN and VOD name the PEM ServerCertificate and the HTTPS switch
// ServerCertificateStatus; Live names them SSLPub and SSLProtocol. The
// entry for domain is used (the first when none names it). The
// fingerprint, issue date and expiry come from the PEM when the answer
// carries one, else from CertStartTime and CertExpireTime.
func parseInstalled(domain string, body map[string]any) (fanout.Installed, error) {
	inst := fanout.Installed{}
	inst.RequestID, _ = body["RequestId"].(string)
	var list []any
	switch v := body["CertInfos"].(type) {
	case map[string]any:
		switch w := v["CertInfo"].(type) {
		case []any:
			list = w
		case map[string]any:
			list = []any{w}
		}
	case []any:
		list = v
	case nil:
	default:
		return inst, fmt.Errorf("CertInfos is a %T", v)
	}
	var info map[string]any
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		if info == nil {
			info = m
		}
		if d, _ := m["DomainName"].(string); strings.EqualFold(d, domain) {
			info = m
			break
		}
	}
	if info == nil {
		return inst, nil // no certificate configured
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := info[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	inst.CertName = str("CertName")
	inst.HTTPS = strings.EqualFold(str("ServerCertificateStatus", "SSLProtocol"), "on")
	if leaf := firstCert(str("ServerCertificate", "SSLPub")); leaf != nil {
		inst.Fingerprint = bundle.Fingerprint(leaf)
		inst.NotBefore, inst.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
	} else {
		// Without the PEM: CDN and VOD answer CertStartTime and
		// CertExpireTime; Live answers only the PEM, so its issue date may
		// stay unknown.
		if t, ok := parseTime(str("CertStartTime")); ok {
			inst.NotBefore = t
		}
		if t, ok := parseTime(str("CertExpireTime")); ok {
			inst.NotAfter = t
		}
	}
	return inst, nil
}

// firstCert parses the first certificate of a PEM chain; nil when there is
// none (the APIs return an empty or masked value for some certificates).
func firstCert(chain string) *x509.Certificate {
	rest := []byte(strings.ReplaceAll(chain, "\r\n", "\n"))
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil
		}
		if blk.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil
			}
			return c
		}
	}
}

// ossCnameTime is RFC 1123 with a day of one or two digits: time.Parse
// reads "2" as either, where time.RFC1123's "02" takes only two.
const ossCnameTime = "Mon, 2 Jan 2006 15:04:05 MST"

// parseTime reads the times the Describe APIs answer:
// "2018-06-03T22:03:39Z", the same without seconds, "2018-06-03 22:03:39"
// (taken as UTC), OSS ListCname's "Wed, 12 Apr 2023 10:14:51 GMT" with a
// day of one or two digits ("Mon, 4 May 2048 10:14:51 GMT", as the OSS
// SDK's ListCname fixture writes it), or Unix milliseconds.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z", "2006-01-02 15:04:05", time.RFC1123, ossCnameTime} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}
