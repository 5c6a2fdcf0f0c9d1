package product

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// The helpers below serve the products whose targets are domains set
// through one OpenAPI call and read through a Describe*CertificateInfo
// call (CDN, VOD, Live, DCDN): each product's package says which it uses,
// with its own APIs, endpoint and parameters.

// DomainCall returns the call that names a domain target t without a
// certificate: set through set, at host unless envVar overrides it, the
// domain as the API takes it (APIDomain).
func DomainCall(t manifest.Target, set plan.API, host, envVar string, dotWildcard bool) (plan.Call, error) {
	domain, err := APIDomain(t.Domain, dotWildcard)
	if err != nil {
		return plan.Call{}, fmt.Errorf("target %s %s: %w", t.Product, t.Domain, err)
	}
	return plan.Call{Target: t, API: set, Endpoint: host, EndpointVar: envVar, DomainName: domain}, nil
}

// APIDomain returns a domain as an API takes it: normalised by
// bundle.NormalizeDomain and, with dotWildcard, a wildcard written
// ".example.com" (the CDN answers InvalidDomain.NotFound for
// "*.example.com").
func APIDomain(domain string, dotWildcard bool) (string, error) {
	d, err := bundle.NormalizeDomain(domain)
	if err != nil {
		return "", err
	}
	if dotWildcard {
		if rest, ok := strings.CutPrefix(d, "*."); ok {
			d = "." + rest
		}
	}
	return d, nil
}

// Add appends a parameter to c.
func Add(c *plan.Call, name, value string) {
	c.Params = append(c.Params, plan.Param{Name: name, Value: value})
}

// AddSecret appends a sensitive parameter (a private key) to c.
func AddSecret(c *plan.Call, name, value string) {
	c.Params = append(c.Params, plan.Param{Name: name, Value: value, Sensitive: true})
}

// UploadSSL returns c with the parameters the SSL Set operations of CDN,
// VOD, Live and DCDN take with the certificate and its key, in their
// references' order: DomainName, CertName, CertType=upload,
// SSLProtocol=on, SSLPub and SSLPri. A product adds its own after them.
func UploadSSL(c plan.Call, certName, certPEM string, key bundle.Secret) plan.Call {
	Add(&c, "DomainName", c.DomainName)
	Add(&c, "CertName", certName)
	Add(&c, "CertType", "upload")
	Add(&c, "SSLProtocol", "on")
	Add(&c, "SSLPub", certPEM)
	AddSecret(&c, "SSLPri", key.Reveal())
	return c
}

// ReferenceSSL returns c with the parameters the SSL Set operations of
// CDN, VOD and DCDN take by reference to a certificate in Certificate
// Management Service, in their references' order: DomainName, CertName,
// CertId (empty until plan.Call.WithCertID), CertType=cas,
// SSLProtocol=on and CertRegion (the target's CAS region, which c gets).
func ReferenceSSL(c plan.Call, casName string) plan.Call {
	c.CASRegion = c.Target.CertRegion()
	Add(&c, "DomainName", c.DomainName)
	Add(&c, "CertName", casName)
	Add(&c, plan.ParamCertID, "")
	Add(&c, "CertType", "cas")
	Add(&c, "SSLProtocol", "on")
	Add(&c, "CertRegion", c.CASRegion)
	return c
}

// RPC makes one OpenAPI call of api through calls (paced in api's lane,
// retried there), r saying where and what; read, when not nil, reads a
// successful answer (an error of read ends the call as that error). It
// returns the answer.
func RPC(ctx context.Context, tr *cloud.Client, calls fanout.Caller, api plan.API, r cloud.Request, read func(body map[string]any) error) (map[string]any, error) {
	r.Action, r.Version = api.Action, api.Version
	var body map[string]any
	err := calls.Call(ctx, api, func() (string, error) {
		var err error
		body, err = tr.Call(ctx, r)
		if err != nil {
			return cloud.RequestIDOf(err), err
		}
		rid, _ := body["RequestId"].(string)
		if read != nil {
			if err := read(body); err != nil {
				return rid, err
			}
		}
		return rid, nil
	})
	return body, err
}

// SetRequest is the request of a call's Set: its parameters as planned
// (the private key among the secrets), to the call's endpoint, over pool.
func SetRequest(call plan.Call, pool string) cloud.Request {
	return cloud.Request{
		EndpointVar: call.EndpointVar, Host: call.Endpoint, Pool: pool,
		Params: call.Form(), Secrets: call.Secrets(), Subject: call.DomainName,
	}
}

// SetDomain sends a call's Set (SetRequest) through calls.
func SetDomain(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, pool string) error {
	_, err := RPC(ctx, tr, calls, call.API, SetRequest(call, pool), nil)
	return err
}

// DescribeDomain reads what a domain call's domain carries through a
// Describe*CertificateInfo operation (api, DomainName its one parameter),
// at the call's endpoint over pool; the answer is read by ParseCertInfo.
func DescribeDomain(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller, api plan.API, pool string) (fanout.Installed, error) {
	var inst fanout.Installed
	_, err := RPC(ctx, tr, calls, api, cloud.Request{
		EndpointVar: call.EndpointVar, Host: call.Endpoint, Pool: pool,
		Params: map[string]string{"DomainName": call.DomainName}, Subject: call.DomainName,
	}, func(body map[string]any) error {
		var perr error
		inst, perr = ParseCertInfo(call.DomainName, body)
		if perr != nil {
			e := cloud.Errorf(api.Action, call.DomainName, "the answer could not be read: %v", perr)
			e.RequestID = inst.RequestID
			return e
		}
		return nil
	})
	return inst, err
}

// ParseCertInfo reads a Describe*CertificateInfo answer:
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
func ParseCertInfo(domain string, body map[string]any) (fanout.Installed, error) {
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
	if leaf := FirstCert(str("ServerCertificate", "SSLPub")); leaf != nil {
		inst.Fingerprint = bundle.Fingerprint(leaf)
		inst.NotBefore, inst.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
	} else {
		// Without the PEM: CDN and VOD answer CertStartTime and
		// CertExpireTime; Live answers only the PEM, so its issue date may
		// stay unknown.
		if t, ok := cloud.ParseTime(str("CertStartTime")); ok {
			inst.NotBefore = t
		}
		if t, ok := cloud.ParseTime(str("CertExpireTime")); ok {
			inst.NotAfter = t
		}
	}
	return inst, nil
}

// FirstCert parses the first certificate of a PEM chain; nil when there is
// none (the APIs return an empty or masked value for some certificates).
func FirstCert(chain string) *x509.Certificate {
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

// SameFingerprint reports whether fp, as a product's API writes a
// certificate's fingerprint (hex, any case, with or without colons), is
// the SHA-1 or the SHA-256 of der.
func SameFingerprint(fp string, der []byte) bool {
	h := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(fp))
	switch len(h) {
	case 2 * sha1.Size:
		s := sha1.Sum(der)
		return h == hex.EncodeToString(s[:])
	case 2 * sha256.Size:
		s := sha256.Sum256(der)
		return h == hex.EncodeToString(s[:])
	}
	return false
}
