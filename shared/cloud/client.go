// Package cloud is certdrop's transport to Alibaba Cloud: it signs, sends
// and classifies the calls the products make (shared/product), and knows
// no product. An OpenAPI call (Call) goes through the official
// darabonba-openapi SDK, RPC style, POST with the parameters in a form
// body (or, with CERTDROP_OPENAPI_PARAMS=query, in the query string as the
// vendor's SDKs send them), signed ACS3-HMAC-SHA256; an ROA-style call
// (ROA: a method on a resource path with a JSON body, Function Compute
// 3.0's) through the same SDK client and signature; an OSS REST call
// (OSS) through the OSS SDK, V4-signed. It also makes the Certificate
// Management Service calls of delivery: cas (UploadCAS, ListCAS,
// DeleteCAS), which implement fanout.CASClient.
//
// The SDKs' own retries are off (the fan-out retries, paced by quota),
// their errors become *Error values classified by failure.Class, and
// nothing the client returns or logs carries the private key, the
// AccessKey secret or the security token.
package cloud

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/credentials-go/credentials"
	"golang.org/x/time/rate"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/config"
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
	// EndpointVars are the endpoint override variables New reads and
	// checks, so that a bad override fails before any call: the products'
	// (product.Registry.EndpointVars). An override of another variable a
	// call names is read and checked at that call.
	EndpointVars []string
	// Credentials, when set, are used instead of the default chain:
	// Function Compute's per-invocation credentials, say.
	Credentials *credchain.Credentials
	// ConnectTimeout bounds dialing and the TLS handshake; ReadTimeout
	// bounds the wait for an answer. Together they cap one call.
	ConnectTimeout, ReadTimeout time.Duration
	// MaxConnsPerHost is how many idle connections a connection pool keeps.
	MaxConnsPerHost int
	// RootCAs, when set, are trusted instead of the system roots (a
	// private endpoint, tests).
	RootCAs *x509.CertPool
	// Logger receives one debug line per call, without parameters; nil
	// discards them.
	Logger *slog.Logger
}

// Client signs and sends the products' calls. It is safe for concurrent
// use.
type Client struct {
	opts      Options
	creds     *credentialSource
	sdkCred   credentials.Credential
	endpoints endpoints
	// paramsIn is ParamsInBody or ParamsInQuery (EnvOpenAPIParams).
	paramsIn string
	// pools are the named connection pools (one per product), shared by
	// the clients WithCredentials derives; rpcDoer is the pool of calls
	// that name none.
	pools   *pools
	rpcDoer doer
	casPace *casPacers
	// roles are the clients AssumeRole built with these credentials.
	roles *roleClients
	log   *slog.Logger
}

// pools are a client's connection pools, by name, built at first use.
type pools struct {
	opts Options
	mu   sync.Mutex
	m    map[string]doer
	// cas are the CAS pacers of the accounts roles act in, by account ID.
	cas map[string]*casPacers
}

// get returns the pool named name, building it at its first use.
func (p *pools) get(name string) doer {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.m[name]
	if !ok {
		d = newDoer(p.opts)
		p.m[name] = d
	}
	return d
}

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
	eps, err := readEndpoints(opts.Getenv, append(append([]string(nil), opts.EndpointVars...), EnvSTSEndpoint))
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
		roles:     &roleClients{m: map[string]*roleClient{}},
		log:       opts.Logger,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	// One HTTP client per pool a call names (each product names its own).
	c.pools = &pools{opts: opts, m: map[string]doer{}}
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
	n.roles = &roleClients{m: map[string]*roleClient{}}
	return &n, nil
}

// CloseIdleConnections closes the idle connections of every pool.
func (c *Client) CloseIdleConnections() {
	c.pools.mu.Lock()
	for _, d := range c.pools.m {
		d.c.CloseIdleConnections()
	}
	c.pools.mu.Unlock()
	c.rpcDoer.c.CloseIdleConnections()
}

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

// sdk builds the SDK client of one call to ep over d. An SDK client is
// cheap, and not safe for concurrent use (it resets its Headers field on
// every call): one per call.
func (c *Client) sdk(ep endpoint, d doer, api plan.API, subject string, red redactor) (*openapi.Client, *Error) {
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
	return sdk, nil
}

// begin readies one call (RPC, ROA or OSS): ctx not done, and the
// role's credentials renewed first, so that the redactor it returns
// knows the secrets the call is signed with, besides secrets. A failure
// is the call's *Error, classified with own.
func (c *Client) begin(ctx context.Context, action, subject string, secrets []string, own answers) (redactor, *Error) {
	err := ctx.Err()
	if err == nil {
		err = c.prepare(ctx)
	}
	red := newRedactor(append(secrets, c.creds.secretValues()...)...)
	if err != nil {
		return red, convert(ctx, action, subject, err, nil, red, own)
	}
	return red, nil
}

// route returns where a call goes (the URL in url, else the override in
// envVar, else https://host) and the connection pool it uses (pool's, or
// the pool of calls that name none).
func (c *Client) route(url, envVar, host, pool string) (endpoint, doer, error) {
	var ep endpoint
	var err error
	if url != "" {
		ep, err = secureurl.Parse("endpoint", url)
	} else {
		ep, err = c.endpointFor(envVar, host)
	}
	if err != nil {
		return endpoint{}, doer{}, err
	}
	if pool != "" {
		return ep, c.pools.get(pool), nil
	}
	return ep, c.rpcDoer, nil
}

// rpc makes one RPC-style call (POST, form body, ACS3-HMAC-SHA256) to ep
// and returns the answer's JSON body, or an *Error naming subject.
// own are the caller's answers to error codes, before the OpenAPI table.
func (c *Client) rpc(ctx context.Context, ep endpoint, d doer, api plan.API, subject string, form map[string]string, secrets []string, own answers) (map[string]any, *Error) {
	red, e := c.begin(ctx, api.Action, subject, secrets, own)
	if e != nil {
		return nil, e
	}
	sdk, e := c.sdk(ep, d, api, subject, red)
	if e != nil {
		return nil, e
	}

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
		e := convert(ctx, api.Action, subject, err, meta, red, own)
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
