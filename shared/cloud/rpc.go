package cloud

import (
	"context"

	"github.com/certdrop/certdrop/shared/plan"
)

// Request is one RPC-style OpenAPI call: a product's Set or Describe, or
// a call to a service certdrop has no product for (Alibaba Cloud DNS).
// Every call is signed, sent and classified alike.
type Request struct {
	// Endpoint is the URL the call goes to ("https://alidns.aliyuncs.com");
	// the overrides' rule applies: https, or http to a loopback host. When
	// it is empty, the call goes to the override in EndpointVar
	// (CERTDROP_CDN_ENDPOINT), else to https://Host.
	Endpoint    string
	EndpointVar string
	Host        string
	// Pool names the connection pool the call uses (its product's); empty
	// for the pool of calls that name none.
	Pool string
	// Action and Version name the operation ("AddDomainRecord",
	// "2015-01-09").
	Action, Version string
	// Params travel in the POST form body (in the query string with
	// CERTDROP_OPENAPI_PARAMS=query).
	Params map[string]string
	// Secrets are values among Params (a private key) scrubbed from every
	// error and log, besides the credentials.
	Secrets []string
	// Codes, when not nil, classify the answer's error codes before the
	// OpenAPI table (Codes) does: the product's own.
	Codes map[string]CodeInfo
	// Hint, when set, gives the hint of an error answer's code in place of
	// the tables' one, where it gives one (not empty).
	Hint func(code string) string
	// Subject names what the call is about (a domain, a zone, a record
	// name) in errors and logs.
	Subject string
}

// Call makes one call and returns the answer's JSON body. A failure is an
// *Error, classified like every other call's (throttled, transient, auth,
// permanent, with the server's retry hint); the caller retries. The
// client's own retries are off, as for every call.
func (c *Client) Call(ctx context.Context, r Request) (map[string]any, error) {
	ep, d, err := c.route(r.Endpoint, r.EndpointVar, r.Host, r.Pool)
	if err != nil {
		return nil, errorf(r.Action, r.Subject, "%v", err)
	}
	body, e := c.rpc(ctx, ep, d, plan.API{Action: r.Action, Version: r.Version}, r.Subject, r.Params, r.Secrets, answers{r.Codes, r.Hint})
	if e != nil {
		return nil, e
	}
	return body, nil
}
