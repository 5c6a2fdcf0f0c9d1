// Package oss is the certificate of an OSS bucket's custom domain (CNAME),
// through OSS's REST operations (no API version), V4-signed: PutCname
// (POST /?cname&comp=add) with a CertificateConfiguration sets it,
// ListCname (GET /?cname) reads what the bucket's custom domains carry.
// OSS documents no per-operation rate for them (only the account's
// 10,000 requests/s for all of OSS); each PutCname also creates a
// certificate in Certificate Management Service: both get a cautious 10
// calls/s (undocumented: a cautious default, configurable with
// CERTDROP_QUOTAS). The endpoint is the bucket region's,
// oss-<region>.aliyuncs.com (the bucket in front of it), or the URL in
// CERTDROP_OSS_ENDPOINT (the variable the OSS store reads too, so that
// one emulator serves both; path-style for a loopback host).
//
// Manifest: a target is a custom domain (domain, domains; not a
// wildcard) with the bucket it is bound to (bucket, required: OSS's
// bucket naming rule) and the bucket's region (region, required: a region
// ID such as cn-hangzhou); staging: true is refused.
//
// Delivery: upload sends the certificate and key with Force (the
// domain's current certificate is replaced without naming its CertId: the
// fan-out decided to replace it from ListCname); cas sends the CAS
// certificate as "<CertId>-<region>", with Force.
//
// Errors: Codes, OSS's own (which differ from the OpenAPI gateway's) and
// NeedVerifyDomainOwnership, then the OpenAPI table of shared/cloud.
// OSS's certificate refusals come as InvalidArgument with an EC code in
// the message (0018-00000210: a key without its certificate), which stay
// permanent.
package oss

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/product"
)

// Name is the product's name.
const Name manifest.Product = "oss"

// EnvEndpoint overrides the endpoint of every region, as a URL.
const EnvEndpoint = config.OSSEndpoint

// The operations.
var (
	// PutCname sets a custom domain's certificate.
	PutCname = plan.API{Service: "oss", Action: "PutCname", Quota: 10}
	// ListCname reads what a bucket's custom domains carry.
	ListCname = plan.API{Service: "oss", Action: "ListCname", Quota: 10}
)

// BucketPattern is OSS's bucket naming rule: 3 to 63 lower-case letters,
// digits and hyphens, starting and ending with a letter or digit.
const BucketPattern = `^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`

var bucketRE = regexp.MustCompile(BucketPattern)

// pool is the product's connection pool.
const pool = "oss"

// MaxCnameList caps the ListCname answer certdrop reads, in bytes: a
// bucket has at most 100 custom domains, each entry well under 2 KiB.
const MaxCnameList = 1 << 20

// Host returns the public endpoint of an OSS region.
func Host(region string) string { return "oss-" + region + ".aliyuncs.com" }

// New returns product oss.
func New() product.Product { return ossProduct{} }

type ossProduct struct{}

// Spec: a custom domain, not a wildcard, with its bucket and region.
func (ossProduct) Spec() manifest.Spec {
	return manifest.Spec{
		Name: Name,
		Fields: []manifest.Field{
			product.RegionField(Name, "oss target has no region (the bucket's region, e.g. cn-hangzhou)"),
			product.PatternField("bucket", bucketRE, "oss target has no bucket (the bucket the custom domain is bound to)",
				"invalid bucket name %q (3 to 63 lower-case letters, digits and hyphens)"),
		},
		NoStaging:  "its API has no Env parameter",
		NoWildcard: "an oss custom domain cannot be a wildcard",
	}
}

// APIs are PutCname and ListCname.
func (ossProduct) APIs() []plan.API { return []plan.API{PutCname, ListCname} }

// EndpointVar is EnvEndpoint.
func (ossProduct) EndpointVar() string { return EnvEndpoint }

// Target plans PutCname on the custom domain, at its bucket's region.
func (ossProduct) Target(t manifest.Target) (plan.Call, error) {
	return product.DomainCall(t, PutCname, Host(t.Region), EnvEndpoint, false)
}

// Upload: PutCname's CertificateConfiguration with the certificate and
// key, and Force. OSS has no certificate name: the bucket goes with the
// call.
func (ossProduct) Upload(c plan.Call, _, certPEM string, key bundle.Secret) plan.Call {
	product.Add(&c, "Bucket", c.Target.Field("bucket"))
	product.Add(&c, "Domain", c.DomainName)
	product.Add(&c, "Certificate", certPEM)
	product.AddSecret(&c, "PrivateKey", key.Reveal())
	product.Add(&c, "Force", "true")
	return c
}

// Reference: PutCname's CertificateConfiguration by CAS id,
// "<CertId>-<region>", and Force; the certificate (public) stays with the
// call so that ListCname's fingerprint can be compared with it, and is
// not sent.
func (ossProduct) Reference(c plan.Call, _, certPEM string) (plan.Call, error) {
	c.CASRegion = c.Target.CertRegion()
	c.CertIDSuffix = "-" + c.CASRegion
	product.Add(&c, "Bucket", c.Target.Field("bucket"))
	product.Add(&c, "Domain", c.DomainName)
	product.Add(&c, plan.ParamCertID, "")
	product.Add(&c, "Force", "true")
	if certPEM != "" {
		product.Add(&c, "Certificate", certPEM)
	}
	return c, nil
}

// request is an OSS call on the call's bucket.
func request(call plan.Call, api plan.API, bucket string) cloud.OSSRequest {
	return cloud.OSSRequest{
		EndpointVar: call.EndpointVar, Host: call.Endpoint, Pool: pool,
		Region: call.Target.Region, Bucket: bucket,
		Action: api.Action, Subject: call.DomainName, Codes: ossCodeTable,
	}
}

// Set sends PutCname: the domain stays bound to the bucket and gets the
// call's certificate and key (or CAS certificate); Force replaces the
// certificate it has.
func (ossProduct) Set(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) error {
	api := call.API
	return calls.Call(ctx, api, func() (string, error) {
		conf := alioss.PutBucketCname{
			Cname: call.Param("Domain"),
			CertificateConfiguration: &alioss.CertificateConfiguration{
				Certificate: call.Param("Certificate"),
				PrivateKey:  call.Param("PrivateKey"),
				Force:       call.Param("Force") == "true",
			},
		}
		if id := call.Param(plan.ParamCertID); id != "" {
			// delivery: cas: by reference ("<CertId>-<region>"), no PEM sent.
			conf.CertificateConfiguration = &alioss.CertificateConfiguration{CertId: id, Force: call.Param("Force") == "true"}
		}
		body, err := xml.Marshal(conf)
		if err != nil {
			return "", cloud.Errorf(api.Action, call.DomainName, "the request could not be built: %v", err)
		}
		if err := checkTarget(call, api, call.Param("Bucket")); err != nil {
			return "", err
		}
		r := request(call, api, call.Param("Bucket"))
		r.Method, r.Params = http.MethodPost, map[string]any{"cname": nil, "comp": "add"}
		r.Header = map[string]string{alioss.HTTPHeaderContentType: "application/xml"}
		r.Secrets, r.Body = call.Secrets(), bytes.NewReader(body)
		res, err := tr.OSS(ctx, r)
		if err != nil {
			return cloud.RequestIDOf(err), err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, MaxCnameList))
		return res.Headers.Get(alioss.HTTPHeaderOssRequestID), nil
	})
}

// checkTarget refuses a call without its bucket or region.
func checkTarget(call plan.Call, api plan.API, bucket string) error {
	if call.Target.Region == "" || bucket == "" {
		return cloud.Errorf(api.Action, call.DomainName, "an oss target needs its bucket and region")
	}
	return nil
}

// Describe sends ListCname and reads the call's domain's entry. A domain
// the bucket does not list carries nothing (PutCname binds it, when OSS
// finds its ownership verified). OSS answers no certificate name and a
// colon-separated fingerprint (SHA-1 in the vendor's example): when it is
// the fingerprint of the certificate the call carries, the domain carries
// that certificate, and Installed says so with certdrop's SHA-256
// fingerprint; otherwise the fingerprint stays unknown and the validity
// dates decide.
func (ossProduct) Describe(ctx context.Context, tr *cloud.Client, call plan.Call, calls fanout.Caller) (fanout.Installed, error) {
	api := ListCname
	bucket := call.Target.Field("bucket")
	var inst fanout.Installed
	r := request(call, api, bucket)
	r.Method, r.Params = http.MethodGet, map[string]any{"cname": nil}
	err := calls.Call(ctx, api, func() (string, error) {
		inst = fanout.Installed{}
		if err := checkTarget(call, api, bucket); err != nil {
			return "", err
		}
		res, err := tr.OSS(ctx, r)
		if err != nil {
			return cloud.RequestIDOf(err), err
		}
		defer res.Body.Close()
		inst.RequestID = res.Headers.Get(alioss.HTTPHeaderOssRequestID)
		data, err := io.ReadAll(io.LimitReader(res.Body, MaxCnameList+1))
		if err == nil && len(data) > MaxCnameList {
			err = fmt.Errorf("the answer is larger than %d bytes", MaxCnameList)
		}
		var list alioss.ListBucketCnameResult
		if err == nil {
			err = xml.Unmarshal(data, &list)
		}
		if err != nil {
			e := cloud.Errorf(api.Action, call.DomainName, "the answer could not be read: %v", err)
			e.RequestID = inst.RequestID
			return inst.RequestID, e
		}
		parseCname(&inst, call, list)
		return inst.RequestID, nil
	})
	return inst, err
}

// parseCname fills inst from the ListCname entry of the call's domain.
func parseCname(inst *fanout.Installed, call plan.Call, list alioss.ListBucketCnameResult) {
	for _, cn := range list.Cname {
		if !strings.EqualFold(strings.TrimSuffix(cn.Domain, "."), call.DomainName) {
			continue
		}
		cert := cn.Certificate
		if cert.CertId == "" && cert.Fingerprint == "" {
			return // bound, without a certificate
		}
		inst.HTTPS = cert.Status == "" || strings.EqualFold(cert.Status, "Enabled")
		if t, ok := cloud.ParseTime(cert.ValidStartDate); ok {
			inst.NotBefore = t
		}
		if t, ok := cloud.ParseTime(cert.ValidEndDate); ok {
			inst.NotAfter = t
		}
		if leaf := product.FirstCert(call.Param("Certificate")); leaf != nil && product.SameFingerprint(cert.Fingerprint, leaf.Raw) {
			inst.Fingerprint = bundle.Fingerprint(leaf)
			inst.NotBefore, inst.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
		}
		return
	}
}

// Codes returns how certdrop treats the error codes OSS answers PutCname
// and ListCname with: OSS's common codes (which differ from the OpenAPI
// gateway's) and NeedVerifyDomainOwnership, which PutCname answers for a
// domain whose ownership OSS has not verified. Codes not in it go through
// cloud.Codes and the HTTP status. The map is a fresh copy.
func Codes() map[string]cloud.CodeInfo { return maps.Clone(ossCodeTable) }

// ossCodeTable is the table Codes copies and every call classifies with:
// built once, at init, and never written.
var ossCodeTable = buildCodes()

// buildCodes builds the table Codes describes.
func buildCodes() map[string]cloud.CodeInfo {
	p, t, r, a, f := failure.Permanent, failure.Transient, failure.Throttled, failure.Auth, failure.Forbidden
	return map[string]cloud.CodeInfo{
		"SlowDown":                  {Class: r, Hint: "OSS is limiting the request rate: certdrop backs off and retries"},
		"TotalQpsLimitExceeded":     {Class: r, Hint: "the account's OSS request rate limit was hit: certdrop backs off and retries"},
		"InternalError":             {Class: t, Hint: "OSS failed internally: certdrop retries"},
		"ServiceUnavailable":        {Class: t, Hint: "OSS is temporarily unavailable: certdrop retries"},
		"AccessDenied":              {Class: f, Hint: "the RAM policy does not allow this OSS action: grant oss:PutCname and oss:ListCname on the bucket (and the yundun-cert actions PutCname with a certificate needs)"},
		"InvalidAccessKeyId":        {Class: a, Hint: "the AccessKey ID does not exist: check ALIBABA_CLOUD_ACCESS_KEY_ID or the function's role"},
		"SignatureDoesNotMatch":     {Class: a, Hint: "the signature does not match: the AccessKey secret is wrong"},
		"SecurityTokenExpired":      {Class: a, Hint: "the STS security token expired: get fresh credentials (FC passes new ones per invocation)"},
		"InvalidSecurityToken":      {Class: a, Hint: "the STS security token is invalid: check ALIBABA_CLOUD_SECURITY_TOKEN"},
		"RequestTimeTooSkewed":      {Class: a, Hint: "the request time is too far from OSS's: fix this machine's clock"},
		"NoSuchBucket":              {Class: p, Hint: "the bucket does not exist in that region: check the target's bucket and region in the manifest"},
		"NeedVerifyDomainOwnership": {Class: p, Hint: "OSS has not verified that you own the domain: add the _dnsauth TXT record of its CNAME token, then run certdrop again"},
		"InvalidArgument":           {Class: p, Hint: "OSS rejected an argument: check the message"},
		"MalformedXML":              {Class: p, Hint: "OSS could not read the request: report this as a certdrop bug"},
	}
}
