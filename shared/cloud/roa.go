package cloud

import (
	"context"
	"net/http"
	"strings"
	"time"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"

	"github.com/certdrop/certdrop/shared/plan"
)

// ROARequest is one ROA-style (RESTful) OpenAPI call: a method on a
// resource path with a JSON body, as the vendor's generated SDKs make them
// (Function Compute 3.0's GetCustomDomain is GET
// /2023-03-30/custom-domains/{domainName}). It is signed ACS3-HMAC-SHA256
// through the same darabonba-openapi client as an RPC call (Params with
// Style ROA, the Pathname and Method, ReqBodyType json), the body's
// SHA-256 in x-acs-content-sha256, and classified alike.
type ROARequest struct {
	// Endpoint, EndpointVar and Host say where the call goes, as for
	// Request.
	Endpoint    string
	EndpointVar string
	Host        string
	// Pool names the connection pool the call uses (its product's).
	Pool string
	// Action and Version name the operation ("UpdateCustomDomain",
	// "2023-03-30"); the SDK sends them in x-acs-action and x-acs-version.
	Action, Version string
	// Method is the HTTP method; Path the resource path, its variable
	// parts already percent-encoded (PathSegment).
	Method, Path string
	// Query are query-string parameters, if any.
	Query map[string]string
	// Body is the JSON body; nil sends none.
	Body map[string]any
	// Secrets are values in Body (a private key) scrubbed from every error
	// and log, besides the credentials.
	Secrets []string
	// Codes and Hint classify and explain the answer's error codes before
	// the OpenAPI table does, as for Request.
	Codes map[string]CodeInfo
	Hint  func(code string) string
	// Subject names what the call is about in errors and logs.
	Subject string
}

// ROAResponse is a successful ROA call's answer.
type ROAResponse struct {
	// Body is the JSON body; empty when the answer had none.
	Body map[string]any
	// RequestID is the answer's request ID header (x-acs-request-id, or
	// the product's own, x-fc-request-id); ROA bodies seldom carry one.
	RequestID string
	// Status is the HTTP status.
	Status int
}

// PathSegment percent-encodes one variable part of an ROA path as the
// SDKs do (dara.PercentEncode: RFC 3986 unreserved characters kept).
func PathSegment(s string) string { return dara.PercentEncode(s) }

// ROA makes one ROA-style call. A failure is an *Error, classified like
// every other call's; the caller retries. The client's own retries are
// off.
func (c *Client) ROA(ctx context.Context, r ROARequest) (ROAResponse, error) {
	ep, d, err := c.route(r.Endpoint, r.EndpointVar, r.Host, r.Pool)
	if err != nil {
		return ROAResponse{}, errorf(r.Action, r.Subject, "%v", err)
	}
	api := plan.API{Action: r.Action, Version: r.Version}
	if !strings.HasPrefix(r.Path, "/") || r.Method == "" {
		return ROAResponse{}, errorf(r.Action, r.Subject, "an ROA call needs a method and an absolute path")
	}
	own := answers{r.Codes, r.Hint}
	red, e := c.begin(ctx, api.Action, r.Subject, r.Secrets, own)
	if e != nil {
		return ROAResponse{}, e
	}
	sdk, e := c.sdk(ep, d, api, r.Subject, red)
	if e != nil {
		return ROAResponse{}, e
	}
	params := &openapiutil.Params{
		Action:      dara.String(r.Action),
		Version:     dara.String(r.Version),
		Protocol:    dara.String(strings.ToUpper(ep.Scheme)),
		Pathname:    dara.String(r.Path),
		Method:      dara.String(strings.ToUpper(r.Method)),
		AuthType:    dara.String("AK"),
		Style:       dara.String("ROA"),
		ReqBodyType: dara.String("json"),
		BodyType:    dara.String("json"),
	}
	req := &openapiutil.OpenApiRequest{Headers: map[string]*string{}}
	if len(r.Query) > 0 {
		req.Query = make(map[string]*string, len(r.Query))
		for k, v := range r.Query {
			req.Query[k] = dara.String(v)
		}
	}
	if r.Body != nil {
		req.Body = r.Body
	}
	mctx, meta := withMeta(ctx)
	start := time.Now()
	res, err := sdk.CallApiWithCtx(mctx, params, req, &dara.RuntimeOptions{})
	if err != nil {
		e := convert(ctx, api.Action, r.Subject, err, meta, red, own)
		if e.RequestID == "" {
			e.RequestID = headerRequestID(meta.header)
		}
		c.log.Debug("api call failed", "api", api.Action, "domain", r.Subject, "endpoint", ep.String(),
			"status", e.HTTPStatus, "code", e.Code, "class", e.class.String(), "requestId", e.RequestID,
			"duration", time.Since(start))
		return ROAResponse{}, e
	}
	out := ROAResponse{Status: meta.status, RequestID: headerRequestID(meta.header)}
	out.Body, _ = res["body"].(map[string]any)
	if out.RequestID == "" {
		out.RequestID, _ = out.Body["RequestId"].(string)
	}
	c.log.Debug("api call", "api", api.Action, "domain", r.Subject, "endpoint", ep.String(),
		"status", meta.status, "requestId", out.RequestID, "duration", time.Since(start))
	return out, nil
}

// headerRequestID is an answer's request ID header.
func headerRequestID(h http.Header) string {
	for _, k := range []string{"x-acs-request-id", "x-fc-request-id"} {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}
