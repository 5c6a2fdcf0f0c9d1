// Package secureurl checks the endpoint overrides certdrop accepts. Every
// request certdrop sends carries a signature, often an STS token, and for
// the Set calls a private key, so an endpoint is https, or plain http only
// to a loopback host (the local emulator).
package secureurl

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Endpoint is a checked endpoint: scheme and host, nothing else.
type Endpoint struct {
	// Scheme is "https", or "http" for a loopback host.
	Scheme string
	// Host is host[:port].
	Host string
	// Hostname is Host without the port.
	Hostname string
	// Loopback reports whether Hostname is a loopback host.
	Loopback bool
}

// String renders the endpoint as a URL: "https://cdn.aliyuncs.com".
func (e Endpoint) String() string { return e.Scheme + "://" + e.Host }

// Parse checks an endpoint given as a URL ("https://host[:port]"); a bare
// host means https. name labels errors (an environment variable, say).
// Errors never repeat user information a URL might carry.
func Parse(name, raw string) (Endpoint, error) {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	if strings.Contains(s, "@") {
		return Endpoint{}, fmt.Errorf("%s must not contain user information", name)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%s=%q is not a URL", name, raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return Endpoint{}, fmt.Errorf("%s=%q: the scheme must be https (or http to a loopback host)", name, raw)
	case u.Hostname() == "":
		return Endpoint{}, fmt.Errorf("%s=%q has no host", name, raw)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return Endpoint{}, fmt.Errorf("%s=%q: give only scheme, host and port, like https://cdn.aliyuncs.com", name, raw)
	}
	e := Endpoint{Scheme: u.Scheme, Host: u.Host, Hostname: u.Hostname(), Loopback: IsLoopback(u.Hostname())}
	if e.Scheme == "http" && !e.Loopback {
		return Endpoint{}, fmt.Errorf("%s=%q: plain http is allowed only to a loopback host (127.0.0.0/8, ::1, localhost); "+
			"the requests carry credentials and private keys: use https", name, raw)
	}
	return e, nil
}

// IsLoopback reports whether host is localhost or a loopback IP address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
