package cloud

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// OSSRequest is one OSS REST call on a bucket, through the OSS SDK,
// V4-signed with the client's credentials, over the client's pooled
// connections.
type OSSRequest struct {
	// EndpointVar names the variable that overrides the endpoint
	// (CERTDROP_OSS_ENDPOINT), as a URL; without it the call goes to
	// https://Host (oss-<region>.aliyuncs.com), the bucket in front of
	// it. An override to a loopback host is addressed path-style.
	EndpointVar, Host string
	// Pool names the connection pool the call uses.
	Pool string
	// Region is the bucket's region, which V4 signs; Bucket the bucket.
	Region, Bucket string
	// Action names the operation in errors and logs ("PutCname"); Subject
	// what it is about (a custom domain).
	Action, Subject string
	// Method, Params (the sub-resources: "cname", "comp"), Header and
	// Body make the request.
	Method string
	Params map[string]any
	Header map[string]string
	Body   io.Reader
	// Secrets are values in Body (a private key) scrubbed from every
	// error and log, besides the credentials.
	Secrets []string
	// Codes classify OSS's error codes (which differ from the OpenAPI
	// gateway's) before the OpenAPI table does.
	Codes map[string]CodeInfo
}

// OSS makes one OSS call and returns the answer, whose Body the caller
// reads and closes; a failure is an *Error, classified by r.Codes, then
// as an OpenAPI call's.
func (c *Client) OSS(ctx context.Context, r OSSRequest) (*oss.Response, error) {
	red, e := c.begin(ctx, r.Action, r.Subject, r.Secrets, answers{})
	if e != nil {
		return nil, e
	}
	ep, err := c.endpointFor(r.EndpointVar, r.Host)
	if err != nil {
		return nil, errorf(r.Action, r.Subject, "%v", err)
	}
	opts := []oss.ClientOption{
		oss.AuthVersion(oss.AuthV4),
		oss.Region(r.Region),
		oss.SetCredentialsProvider(ossCredentials{c.creds}),
		oss.HTTPClient(c.pools.get(r.Pool).c),
		oss.UserAgent("certdrop"),
	}
	if ep.Loopback {
		opts = append(opts, oss.ForcePathStyle(true))
	}
	cl, err := oss.New(ep.String(), "", "", opts...)
	if err != nil {
		return nil, errorf(r.Action, r.Subject, "the OSS client could not be built: %s", red.scrub(err.Error()))
	}
	start := time.Now()
	res, err := cl.Conn.DoWithContext(ctx, r.Method, r.Bucket, "", r.Params, r.Header, r.Body, 0, nil)
	if err != nil {
		e := convertOSS(ctx, r.Action, r.Subject, err, red, answers{codes: r.Codes})
		c.log.Debug("api call failed", "api", r.Action, "domain", r.Subject, "endpoint", ep.String(),
			"status", e.HTTPStatus, "code", e.Code, "class", e.class.String(), "requestId", e.RequestID,
			"duration", time.Since(start))
		return nil, e
	}
	c.log.Debug("api call", "api", r.Action, "domain", r.Subject, "endpoint", ep.String(),
		"status", res.StatusCode, "requestId", res.Headers.Get(oss.HTTPHeaderOssRequestID), "duration", time.Since(start))
	return res, nil
}

// convertOSS turns an OSS SDK error into an *Error: a service error by its
// code (codes, then the OpenAPI table) and status; anything else as
// convert does (a lost credential, cancellation, the network).
func convertOSS(ctx context.Context, api, domain string, err error, red redactor, own answers) *Error {
	var se oss.ServiceError
	if !errors.As(err, &se) {
		var pse *oss.ServiceError
		if !errors.As(err, &pse) {
			if errors.Is(err, errOSSCredentials) {
				err = &credentialError{source: "the credential chain", msg: "it gave no AccessKey"}
			}
			return convert(ctx, api, domain, err, nil, red, own)
		}
		se = *pse
	}
	e := &Error{API: api, Domain: domain, Code: se.Code, HTTPStatus: se.StatusCode, RequestID: se.RequestID}
	e.Message = strings.Join(strings.Fields(red.scrub(se.Message)), " ")
	if se.Ec != "" {
		e.Message = strings.TrimSpace(e.Message + " (EC " + se.Ec + ")")
	}
	e.class, e.Hint = classify(se.Code, se.StatusCode, own.codes)
	return e
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
