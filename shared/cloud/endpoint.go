package cloud

import (
	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/plan"
)

// endpoint is where a call goes.
type endpoint = secureurl.Endpoint

// parseEndpoint reads an endpoint override: https, or http to a loopback
// host only (every Set call carries a private key, which must never cross
// a network in clear text); a bare host name means https.
func parseEndpoint(name, raw string) (endpoint, error) { return secureurl.Parse(name, raw) }

// endpoints holds the overrides read from the environment, by variable
// name (CERTDROP_CDN_ENDPOINT).
type endpoints map[string]endpoint

// readEndpoints reads and checks the override variables names.
func readEndpoints(getenv func(string) string, names []string) (endpoints, error) {
	eps := endpoints{}
	for _, name := range names {
		raw := getenv(name)
		if raw == "" {
			continue
		}
		e, err := parseEndpoint(name, raw)
		if err != nil {
			return nil, err
		}
		eps[name] = e
	}
	return eps, nil
}

// endpointFor returns where a call goes: the override in variable name,
// else https://host. An override New did not read (its variable is not
// in Options.EndpointVars) is read and checked now.
func (c *Client) endpointFor(name, host string) (endpoint, error) {
	if e, ok := c.endpoints[name]; ok {
		return e, nil
	}
	if name != "" {
		if raw := c.opts.Getenv(name); raw != "" {
			return parseEndpoint(name, raw)
		}
	}
	return endpoint{Scheme: "https", Host: host}, nil
}

// Endpoint returns the URL a call would go to, for reports and dry runs.
func (c *Client) Endpoint(call plan.Call) string {
	ep, err := c.endpointFor(call.EndpointVar, call.Endpoint)
	if err != nil {
		return ""
	}
	return ep.String()
}

// ResolveEndpoint returns the URL a call would go to under the
// environment's override of its endpoint (call.EndpointVar), without
// needing credentials: for plans.
func ResolveEndpoint(getenv func(string) string, call plan.Call) (string, error) {
	if call.EndpointVar != "" {
		if raw := getenv(call.EndpointVar); raw != "" {
			e, err := parseEndpoint(call.EndpointVar, raw)
			if err != nil {
				return "", err
			}
			return e.String(), nil
		}
	}
	return endpoint{Scheme: "https", Host: call.Endpoint}.String(), nil
}
