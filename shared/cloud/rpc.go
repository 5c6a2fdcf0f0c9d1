package cloud

import (
	"context"

	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/plan"
)

// Request is one RPC-style OpenAPI call to a product certdrop has no typed
// client for (Alibaba Cloud DNS): signed, sent and classified exactly as
// the Set and Describe calls are.
type Request struct {
	// Endpoint is the URL the call goes to ("https://alidns.aliyuncs.com");
	// the overrides' rule applies: https, or http to a loopback host.
	Endpoint string
	// Action and Version name the operation ("AddDomainRecord",
	// "2015-01-09").
	Action, Version string
	// Params travel in the POST form body (in the query string with
	// CERTDROP_OPENAPI_PARAMS=query).
	Params map[string]string
	// Subject names what the call is about (a zone, a record name) in
	// errors and logs.
	Subject string
}

// Call makes one call and returns the answer's JSON body. A failure is an
// *Error, classified like every other call's (throttled, transient, auth,
// permanent, with the server's retry hint); the caller retries. The
// client's own retries are off, as for every call.
func (c *Client) Call(ctx context.Context, r Request) (map[string]any, error) {
	ep, err := secureurl.Parse("endpoint", r.Endpoint)
	if err != nil {
		return nil, errorf(r.Action, r.Subject, "%v", err)
	}
	body, e := c.rpc(ctx, ep, c.rpcDoer, plan.API{Action: r.Action, Version: r.Version}, r.Subject, r.Params, nil)
	if e != nil {
		return nil, e
	}
	return body, nil
}
