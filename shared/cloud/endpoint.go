package cloud

import (
	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// The environment variables that override a product's endpoint, as a URL:
// "https://cdn.example.internal" or, for the local emulator only,
// "http://127.0.0.1:8080". CERTDROP_CDN_ENDPOINT serves both CDN
// operations (SetCdnDomainSSLCertificate and SetDomainServerCertificate).
const (
	EnvCDNEndpoint  = config.CDNEndpoint
	EnvVODEndpoint  = config.VODEndpoint
	EnvLiveEndpoint = config.LiveEndpoint
	EnvDCDNEndpoint = config.DCDNEndpoint
)

// endpoint is where a product's calls go.
type endpoint = secureurl.Endpoint

// endpointEnv names the override variable of a product.
func endpointEnv(p manifest.Product) string {
	switch p {
	case manifest.VOD:
		return EnvVODEndpoint
	case manifest.Live:
		return EnvLiveEndpoint
	case manifest.DCDN:
		return EnvDCDNEndpoint
	case manifest.OSS:
		return EnvOSSEndpoint
	default:
		return EnvCDNEndpoint
	}
}

// parseEndpoint reads an endpoint override: https, or http to a loopback
// host only (every Set call carries a private key, which must never cross
// a network in clear text); a bare host name means https.
func parseEndpoint(name, raw string) (endpoint, error) { return secureurl.Parse(name, raw) }

// endpoints holds the overrides read from the environment at New.
type endpoints map[manifest.Product]endpoint

func readEndpoints(getenv func(string) string) (endpoints, error) {
	eps := endpoints{}
	for _, p := range []manifest.Product{manifest.CDN, manifest.VOD, manifest.Live, manifest.DCDN, manifest.OSS} {
		name := endpointEnv(p)
		raw := getenv(name)
		if raw == "" {
			continue
		}
		e, err := parseEndpoint(name, raw)
		if err != nil {
			return nil, err
		}
		eps[p] = e
		if p == manifest.CDN {
			eps[manifest.CDNLegacy] = e
		}
	}
	return eps, nil
}

// forCall returns where a call goes: the override, else the call's
// planned endpoint, else the product's default (VOD by the target region).
func (eps endpoints) forCall(c plan.Call) endpoint {
	if e, ok := eps[c.Target.Product]; ok {
		return e
	}
	host := c.Endpoint
	if host == "" {
		host = plan.DefaultEndpoint(c.Target.Product, c.Target.Region)
	}
	return endpoint{Scheme: "https", Host: host}
}

// ResolveEndpoint returns the URL a call would go to under the
// environment's overrides, without needing credentials: for plans.
func ResolveEndpoint(getenv func(string) string, call plan.Call) (string, error) {
	eps, err := readEndpoints(getenv)
	if err != nil {
		return "", err
	}
	return eps.forCall(call).String(), nil
}
