package cloud

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// The environment variables that override a product's endpoint, as a URL:
// "https://cdn.example.internal" or, for the local emulator only,
// "http://127.0.0.1:8080". CERTDROP_CDN_ENDPOINT serves both CDN
// operations (SetCdnDomainSSLCertificate and SetDomainServerCertificate).
const (
	EnvCDNEndpoint  = "CERTDROP_CDN_ENDPOINT"
	EnvVODEndpoint  = "CERTDROP_VOD_ENDPOINT"
	EnvLiveEndpoint = "CERTDROP_LIVE_ENDPOINT"
)

// endpoint is where a product's calls go.
type endpoint struct {
	scheme string // "https", or "http" for a loopback host
	host   string // host[:port]
}

// String renders the endpoint as a URL.
func (e endpoint) String() string { return e.scheme + "://" + e.host }

// endpointEnv names the override variable of a product.
func endpointEnv(p manifest.Product) string {
	switch p {
	case manifest.VOD:
		return EnvVODEndpoint
	case manifest.Live:
		return EnvLiveEndpoint
	default:
		return EnvCDNEndpoint
	}
}

// parseEndpoint reads an endpoint override. It takes a URL with scheme
// https, or http when the host is loopback (127.0.0.0/8, ::1, localhost):
// every Set call carries a private key, which must never cross a network
// in clear text. A bare host name means https.
func parseEndpoint(name, raw string) (endpoint, error) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("%s=%q is not a URL: %w", name, raw, err)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("%s=%q: give only scheme, host and port, like https://cdn.aliyuncs.com", name, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return endpoint{}, fmt.Errorf("%s=%q: plain http is allowed only to a loopback host (127.0.0.1, ::1, localhost); "+
				"the calls carry the certificate's private key: use https", name, raw)
		}
	default:
		return endpoint{}, fmt.Errorf("%s=%q: the scheme must be https (or http to a loopback host)", name, raw)
	}
	return endpoint{scheme: u.Scheme, host: u.Host}, nil
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// endpoints holds the overrides read from the environment at New.
type endpoints map[manifest.Product]endpoint

func readEndpoints(getenv func(string) string) (endpoints, error) {
	eps := endpoints{}
	for _, p := range []manifest.Product{manifest.CDN, manifest.VOD, manifest.Live} {
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
	return endpoint{scheme: "https", host: host}
}
