package cloud

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/plan"
)

// EnvOSSEndpoint overrides the endpoint of OSS targets' calls, as a URL; it
// is the variable the OSS store reads too, so that one emulator serves
// both. Without it an oss target's calls go to its bucket region's public
// endpoint, oss-<region>.aliyuncs.com.
const EnvOSSEndpoint = config.OSSEndpoint

// maxCnameList caps the ListCname answer certdrop reads: a bucket has at
// most 100 custom domains, each entry well under 2 KiB.
const maxCnameList = 1 << 20

// ossCname sets and reads the certificate of an OSS bucket's custom domain
// (CNAME) through the OSS SDK, V4-signed with the client's credentials,
// over the client's pooled HTTP connections: PutCname with a
// CertificateConfiguration (the certificate, the key and Force) and
// ListCname.
type ossCname struct {
	c *Client
	d doer
}

// sdk builds an OSS client for the call's bucket region, over the
// override endpoint when there is one (path-style for a loopback host).
func (o ossCname) sdk(call plan.Call) (*oss.Client, string, error) {
	ep, ok := o.c.endpoints[call.Target.Product]
	if !ok {
		ep = endpoint{Scheme: "https", Host: call.Endpoint}
		if call.Endpoint == "" {
			ep.Host = plan.DefaultEndpoint(call.Target.Product, call.Target.Region)
		}
	}
	opts := []oss.ClientOption{
		oss.AuthVersion(oss.AuthV4),
		oss.Region(call.Target.Region),
		oss.SetCredentialsProvider(ossCredentials{o.c.creds}),
		oss.HTTPClient(o.d.c),
		oss.UserAgent("certdrop"),
	}
	if ep.Loopback {
		opts = append(opts, oss.ForcePathStyle(true))
	}
	cl, err := oss.New(ep.String(), "", "", opts...)
	return cl, ep.String(), err
}

// set sends PutCname: the domain stays bound to the bucket and gets the
// call's certificate and key; Force replaces the certificate it has.
func (o ossCname) set(ctx context.Context, call plan.Call) (string, error) {
	api := call.API.Action
	bucket := call.Param("Bucket")
	secrets := call.Secrets()
	conf := oss.PutBucketCname{
		Cname: call.Param("Domain"),
		CertificateConfiguration: &oss.CertificateConfiguration{
			Certificate: call.Param("Certificate"),
			PrivateKey:  call.Param("PrivateKey"),
			Force:       call.Param("Force") == "true",
		},
	}
	if id := call.Param(plan.ParamCertID); id != "" {
		// delivery: cas: by reference ("<CertId>-<region>"), no PEM sent.
		conf.CertificateConfiguration = &oss.CertificateConfiguration{CertId: id, Force: call.Param("Force") == "true"}
	}
	body, err := xml.Marshal(conf)
	if err != nil {
		return "", errorf(api, call.DomainName, "the request could not be built: %v", err)
	}
	params := map[string]any{"cname": nil, "comp": "add"}
	hdr := map[string]string{oss.HTTPHeaderContentType: "application/xml"}
	res, err := o.do(ctx, call, api, secrets, func(cl *oss.Client) (*oss.Response, error) {
		return cl.Conn.DoWithContext(ctx, http.MethodPost, bucket, "", params, hdr, bytes.NewReader(body), 0, nil)
	})
	if err != nil {
		return requestIDOf(err), err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxCnameList))
	return res.Headers.Get(oss.HTTPHeaderOssRequestID), nil
}

// describe sends ListCname and reads the call's domain's entry. A domain
// the bucket does not list carries nothing (PutCname binds it, when OSS
// finds its ownership verified). OSS answers no certificate name and a
// colon-separated fingerprint (SHA-1 in the vendor's example): when it is
// the fingerprint of the certificate the call carries, the domain carries
// that certificate, and Installed says so with certdrop's SHA-256
// fingerprint; otherwise the fingerprint stays unknown and the validity
// dates decide.
func (o ossCname) describe(ctx context.Context, call plan.Call) (fanout.Installed, error) {
	api := plan.DescribeAPI(call.Target.Product).Action
	bucket := call.Target.Bucket
	params := map[string]any{"cname": nil}
	res, err := o.do(ctx, call, api, nil, func(cl *oss.Client) (*oss.Response, error) {
		return cl.Conn.DoWithContext(ctx, http.MethodGet, bucket, "", params, nil, nil, 0, nil)
	})
	if err != nil {
		return fanout.Installed{RequestID: requestIDOf(err)}, err
	}
	defer res.Body.Close()
	inst := fanout.Installed{RequestID: res.Headers.Get(oss.HTTPHeaderOssRequestID)}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxCnameList+1))
	if err == nil && len(data) > maxCnameList {
		err = fmt.Errorf("the answer is larger than %d bytes", maxCnameList)
	}
	var list oss.ListBucketCnameResult
	if err == nil {
		err = xml.Unmarshal(data, &list)
	}
	if err != nil {
		e := errorf(api, call.DomainName, "the answer could not be read: %v", err)
		e.RequestID = inst.RequestID
		return inst, e
	}
	parseCname(&inst, call, list)
	return inst, nil
}

// parseCname fills inst from the ListCname entry of the call's domain.
func parseCname(inst *fanout.Installed, call plan.Call, list oss.ListBucketCnameResult) {
	for _, cn := range list.Cname {
		if !strings.EqualFold(strings.TrimSuffix(cn.Domain, "."), call.DomainName) {
			continue
		}
		cert := cn.Certificate
		if cert.CertId == "" && cert.Fingerprint == "" {
			return // bound, without a certificate
		}
		inst.HTTPS = cert.Status == "" || strings.EqualFold(cert.Status, "Enabled")
		if t, ok := parseTime(cert.ValidStartDate); ok {
			inst.NotBefore = t
		}
		if t, ok := parseTime(cert.ValidEndDate); ok {
			inst.NotAfter = t
		}
		if leaf := firstCert(call.Param("Certificate")); leaf != nil && sameFingerprint(cert.Fingerprint, leaf.Raw) {
			inst.Fingerprint = bundle.Fingerprint(leaf)
			inst.NotBefore, inst.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
		}
		return
	}
}

// sameFingerprint reports whether fp, as OSS writes it (hex, any case,
// with or without colons), is the SHA-1 or the SHA-256 of der.
func sameFingerprint(fp string, der []byte) bool {
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

// do makes one OSS call and turns its failure into an *Error.
func (o ossCname) do(ctx context.Context, call plan.Call, api string, secrets []string, send func(*oss.Client) (*oss.Response, error)) (*oss.Response, error) {
	red := newRedactor(append(secrets, o.c.creds.secretValues()...)...)
	if err := ctx.Err(); err != nil {
		return nil, convert(ctx, api, call.DomainName, err, nil, red)
	}
	if call.Target.Region == "" || call.Param("Bucket") == "" && call.Target.Bucket == "" {
		return nil, errorf(api, call.DomainName, "an oss target needs its bucket and region")
	}
	cl, ep, err := o.sdk(call)
	if err != nil {
		return nil, errorf(api, call.DomainName, "the OSS client could not be built: %s", red.scrub(err.Error()))
	}
	start := time.Now()
	res, err := send(cl)
	if err != nil {
		e := convertOSS(ctx, api, call.DomainName, err, red)
		o.c.log.Debug("api call failed", "api", api, "domain", call.DomainName, "endpoint", ep,
			"status", e.HTTPStatus, "code", e.Code, "class", e.class.String(), "requestId", e.RequestID,
			"duration", time.Since(start))
		return nil, e
	}
	o.c.log.Debug("api call", "api", api, "domain", call.DomainName, "endpoint", ep,
		"status", res.StatusCode, "requestId", res.Headers.Get(oss.HTTPHeaderOssRequestID), "duration", time.Since(start))
	return res, nil
}

// convertOSS turns an OSS SDK error into an *Error: a service error by its
// code (ossCodes, then the OpenAPI table) and status; anything else as
// convert does (a lost credential, cancellation, the network).
func convertOSS(ctx context.Context, api, domain string, err error, red redactor) *Error {
	var se oss.ServiceError
	if !errors.As(err, &se) {
		var pse *oss.ServiceError
		if !errors.As(err, &pse) {
			if errors.Is(err, errOSSCredentials) {
				err = &credentialError{source: "the credential chain", msg: "it gave no AccessKey"}
			}
			return convert(ctx, api, domain, err, nil, red)
		}
		se = *pse
	}
	e := &Error{API: api, Domain: domain, Code: se.Code, HTTPStatus: se.StatusCode, RequestID: se.RequestID}
	e.Message = strings.Join(strings.Fields(red.scrub(se.Message)), " ")
	if se.Ec != "" {
		e.Message = strings.TrimSpace(e.Message + " (EC " + se.Ec + ")")
	}
	e.class, e.Hint = classifyOSS(se.Code, se.StatusCode)
	return e
}

// requestIDOf returns the RequestId an *Error carries.
func requestIDOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.RequestID
	}
	return ""
}

// errOSSCredentials is what ossCredentials reports when the chain has no
// credentials: its own messages can quote a profile file's content.
var errOSSCredentials = errors.New("no Alibaba Cloud credentials")

// ossCredentials hands the client's credentials to the OSS SDK, asking
// the source at each request (temporary credentials refresh), and lets the
// source remember what it handed out so errors can be scrubbed of it.
type ossCredentials struct{ src *credentialSource }

func (p ossCredentials) GetCredentials() oss.Credentials {
	c, err := p.GetCredentialsE()
	if err != nil {
		return ossKey{}
	}
	return c
}

// GetCredentialsE implements oss.CredentialsProviderE: a failure stops the
// request before it is sent.
func (p ossCredentials) GetCredentialsE() (oss.Credentials, error) {
	c, err := p.src.GetCredentials()
	if err != nil || c == nil {
		return nil, errOSSCredentials
	}
	return ossKey{id: c.AccessKeyId, secret: c.AccessKeySecret, token: c.SecurityToken}, nil
}

// ossKey is one set of credentials in the OSS SDK's form.
type ossKey struct{ id, secret, token string }

func (k ossKey) GetAccessKeyID() string     { return k.id }
func (k ossKey) GetAccessKeySecret() string { return k.secret }
func (k ossKey) GetSecurityToken() string   { return k.token }

var _ oss.CredentialsProviderE = ossCredentials{}
