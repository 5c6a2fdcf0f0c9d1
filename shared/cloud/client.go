// Package cloud is certdrop's client of the Alibaba Cloud OpenAPI: it
// makes the planned Set calls (SetCdnDomainSSLCertificate,
// SetDomainServerCertificate, SetVodDomainSSLCertificate,
// SetLiveDomainCertificate, SetDcdnDomainSSLCertificate) and the matching
// Describe calls through the official darabonba-openapi SDK, RPC style,
// POST with the parameters in a form body (or, with
// CERTDROP_OPENAPI_PARAMS=query, in the query string as the vendor's SDKs
// send them), signed ACS3-HMAC-SHA256; and
// an OSS bucket custom domain's certificate (PutCname, ListCname) through
// the OSS SDK, V4-signed (ossCname). It implements fanout.Client.
//
// The SDK's own retries are off (the fan-out retries, paced by quota), its
// errors become *Error values the fan-out classifies, and nothing it
// returns or logs carries the private key, the AccessKey secret or the
// security token.
package cloud

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/credentials-go/credentials"
	"golang.org/x/time/rate"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// Defaults for Options' zero values.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultReadTimeout    = 30 * time.Second
	// DefaultMaxConnsPerHost keeps enough idle connections for the
	// fan-out's 30-60 calls in flight per product.
	DefaultMaxConnsPerHost = 64
)

// EnvOpenAPIParams chooses where an OpenAPI call's parameters travel:
// "body" (the default) sends them in a form body, signed through ACS3 with
// the body's SHA-256 in x-acs-content-sha256, so that the private key and
// certificate never appear in a URL, where gateways, proxies and access
// logs record them; "query" sends them in the query string, as the
// vendor's generated SDKs do, for a gateway that refuses a body.
const EnvOpenAPIParams = config.OpenAPIParams

// Where an OpenAPI call's parameters travel (EnvOpenAPIParams).
const (
	ParamsInBody  = "body"
	ParamsInQuery = "query"
)

// paramsIn reads EnvOpenAPIParams: ParamsInBody when unset.
func paramsIn(getenv func(string) string) (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(getenv(EnvOpenAPIParams))); v {
	case "", ParamsInBody:
		return ParamsInBody, nil
	case ParamsInQuery:
		return ParamsInQuery, nil
	default:
		return "", fmt.Errorf("%s=%q: want %s (the default: parameters in a signed form body, never in a URL) or %s (in the query string, as the vendor's SDKs send them)",
			EnvOpenAPIParams, v, ParamsInBody, ParamsInQuery)
	}
}

// Options configure a Client. The zero value reads no environment: set
// Getenv (os.Getenv in the CLI).
type Options struct {
	// Getenv reads endpoint overrides (CERTDROP_*_ENDPOINT), credentials
	// (ALIBABA_CLOUD_*), HOME for the CLI profile, and proxies. nil reads
	// nothing.
	Getenv func(string) string
	// Credentials, when set, are used instead of the default chain:
	// Function Compute's per-invocation credentials, say.
	Credentials *credchain.Credentials
	// ConnectTimeout bounds dialing and the TLS handshake; ReadTimeout
	// bounds the wait for an answer. Together they cap one call.
	ConnectTimeout, ReadTimeout time.Duration
	// MaxConnsPerHost is how many idle connections a product keeps.
	MaxConnsPerHost int
	// RootCAs, when set, are trusted instead of the system roots (a
	// private endpoint, tests).
	RootCAs *x509.CertPool
	// Logger receives one debug line per call, without parameters; nil
	// discards them.
	Logger *slog.Logger
}

// Client calls the products' certificate APIs (OpenAPI and OSS's
// custom-domain operations) and Certificate Management Service. It is safe for concurrent use
// and implements fanout.Client.
type Client struct {
	opts      Options
	creds     *credentialSource
	sdkCred   credentials.Credential
	endpoints endpoints
	// paramsIn is ParamsInBody or ParamsInQuery (EnvOpenAPIParams).
	paramsIn string
	doers    map[manifest.Product]doer
	rpcDoer  doer // for Call
	casPace  *casPacers
	log      *slog.Logger
}

var _ fanout.Client = (*Client)(nil)

// New builds a client. It fails, before any call, when there are no
// credentials, when an endpoint override is not https (or http to a
// loopback host), or when DEBUG would make the SDK print secrets.
func New(opts Options) (*Client, error) {
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.MaxConnsPerHost <= 0 {
		opts.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if err := checkDebug(opts.Getenv); err != nil {
		return nil, err
	}
	eps, err := readEndpoints(opts.Getenv)
	if err != nil {
		return nil, err
	}
	in, err := paramsIn(opts.Getenv)
	if err != nil {
		return nil, err
	}
	src, err := resolveCredentials(opts.Credentials, opts.Getenv)
	if err != nil {
		return nil, err
	}
	c := &Client{
		opts:      opts,
		creds:     src,
		sdkCred:   credentials.FromCredentialsProvider("certdrop", src),
		endpoints: eps,
		paramsIn:  in,
		casPace:   &casPacers{m: map[string]*rate.Limiter{}},
		log:       opts.Logger,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	// One HTTP client per product; CDN's two operations share one.
	cdn := newDoer(opts)
	c.doers = map[manifest.Product]doer{
		manifest.CDN: cdn, manifest.CDNLegacy: cdn,
		manifest.VOD: newDoer(opts), manifest.Live: newDoer(opts),
		manifest.DCDN: newDoer(opts), manifest.OSS: newDoer(opts),
	}
	c.rpcDoer = newDoer(opts)
	return c, nil
}

// WithCredentials returns a client that shares c's connections and
// endpoints but signs with cr: per-invocation credentials without new
// connection pools.
func (c *Client) WithCredentials(cr credchain.Credentials) (*Client, error) {
	if !cr.Complete() {
		return nil, fmt.Errorf("the credentials given have no AccessKey ID or secret: %w", ErrNoCredentials)
	}
	n := *c
	n.creds = staticSource("given", cr)
	n.sdkCred = credentials.FromCredentialsProvider("certdrop", n.creds)
	return &n, nil
}

// CloseIdleConnections closes the idle connections of every product.
func (c *Client) CloseIdleConnections() {
	for _, d := range c.doers {
		d.c.CloseIdleConnections()
	}
	c.rpcDoer.c.CloseIdleConnections()
}

// Endpoint returns the URL a call would go to, for reports and dry runs.
func (c *Client) Endpoint(call plan.Call) string { return c.endpoints.forCall(call).String() }

// checkDebug refuses to run when DEBUG enables the SDK's debug log, which
// prints every request header (the security token among them) to stdout.
func checkDebug(getenv func(string) string) error {
	for _, part := range strings.Split(getenv("DEBUG"), ",") {
		switch strings.TrimSpace(part) {
		case "dara", "tea", "credential":
			return fmt.Errorf("DEBUG=%s makes the Alibaba Cloud SDK print request headers, including the security token, to stdout: unset it", part)
		}
	}
	return nil
}

// Set installs the call's certificate on its domain and returns the
// RequestId. The certificate and key travel in the POST body (in the query
// string with CERTDROP_OPENAPI_PARAMS=query).
func (c *Client) Set(ctx context.Context, call plan.Call) (string, error) {
	if call.Target.Product == manifest.OSS {
		return ossCname{c, c.doers[manifest.OSS]}.set(ctx, call)
	}
	body, err := c.do(ctx, call, call.API, call.Form(), call.Secrets())
	if err != nil {
		return err.RequestID, err
	}
	id, _ := body["RequestId"].(string)
	return id, nil
}

// Describe reads what the call's domain carries now, through the
// product's Describe operation.
func (c *Client) Describe(ctx context.Context, call plan.Call) (fanout.Installed, error) {
	if call.Target.Product == manifest.OSS {
		return ossCname{c, c.doers[manifest.OSS]}.describe(ctx, call)
	}
	api := plan.DescribeAPI(call.Target.Product)
	body, err := c.do(ctx, call, api, map[string]string{"DomainName": call.DomainName}, nil)
	if err != nil {
		return fanout.Installed{RequestID: err.RequestID}, err
	}
	inst, perr := parseInstalled(call.DomainName, body)
	if perr != nil {
		e := errorf(api.Action, call.DomainName, "the answer could not be read: %v", perr)
		e.RequestID = inst.RequestID
		return inst, e
	}
	return inst, nil
}

// do makes one call and returns the answer's JSON body, or an *Error.
func (c *Client) do(ctx context.Context, call plan.Call, api plan.API, form map[string]string, secrets []string) (map[string]any, *Error) {
	d, ok := c.doers[call.Target.Product]
	if !ok {
		return nil, errorf(api.Action, call.DomainName, "unknown product %q", call.Target.Product)
	}
	return c.rpc(ctx, c.endpoints.forCall(call), d, api, call.DomainName, form, secrets)
}

// rpc makes one RPC-style call (POST, form body, ACS3-HMAC-SHA256) to ep
// and returns the answer's JSON body, or an *Error naming subject.
func (c *Client) rpc(ctx context.Context, ep endpoint, d doer, api plan.API, subject string, form map[string]string, secrets []string) (map[string]any, *Error) {
	red := newRedactor(append(secrets, c.creds.secretValues()...)...)
	if err := ctx.Err(); err != nil {
		return nil, convert(ctx, api.Action, subject, err, nil, red)
	}
	// An SDK client is cheap, and not safe for concurrent use (it resets
	// its Headers field on every RPC call): one per call.
	sdk, err := openapi.NewClient(&openapiutil.Config{
		Credential:     c.sdkCred,
		Endpoint:       dara.String(ep.Host),
		Protocol:       dara.String(ep.Scheme),
		ConnectTimeout: dara.Int(int(c.opts.ConnectTimeout.Milliseconds())),
		ReadTimeout:    dara.Int(int(c.opts.ReadTimeout.Milliseconds())),
		RetryOptions:   &dara.RetryOptions{Retryable: false},
		HttpClient:     d,
		UserAgent:      dara.String("certdrop"),
	})
	if err != nil {
		return nil, errorf(api.Action, subject, "the SDK client could not be built: %s", red.scrub(err.Error()))
	}
	// Errors come back as *ClientError / *ServerError / *ThrottlingError,
	// not flattened into an SDKError that loses the retry hint.
	sdk.DisableSDKError = dara.Bool(true)

	body := make(map[string]any, len(form))
	for k, v := range form {
		body[k] = v
	}
	params := &openapiutil.Params{
		Action:      dara.String(api.Action),
		Version:     dara.String(api.Version),
		Protocol:    dara.String(strings.ToUpper(ep.Scheme)),
		Pathname:    dara.String("/"),
		Method:      dara.String("POST"),
		AuthType:    dara.String("AK"),
		Style:       dara.String("RPC"),
		ReqBodyType: dara.String("formData"),
		BodyType:    dara.String("json"),
	}
	mctx, meta := withMeta(ctx)
	start := time.Now()
	req := &openapiutil.OpenApiRequest{Body: body}
	if c.paramsIn == ParamsInQuery {
		// The SDKs' way: every parameter in the query string, no body.
		req = &openapiutil.OpenApiRequest{Query: openapiutil.Query(body)}
	}
	res, err := sdk.CallApiWithCtx(mctx, params, req, &dara.RuntimeOptions{})
	if err != nil {
		e := convert(ctx, api.Action, subject, err, meta, red)
		c.log.Debug("api call failed", "api", api.Action, "domain", subject, "endpoint", ep.String(),
			"status", e.HTTPStatus, "code", e.Code, "class", e.class.String(), "requestId", e.RequestID,
			"duration", time.Since(start))
		return nil, e
	}
	out, _ := res["body"].(map[string]any)
	c.log.Debug("api call", "api", api.Action, "domain", subject, "endpoint", ep.String(),
		"status", meta.status, "requestId", out["RequestId"], "duration", time.Since(start))
	return out, nil
}
