package cloud

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/http/httpproxy"
)

// metaKey carries a *responseMeta through the SDK to the transport.
type metaKey struct{}

// doer is the darabonba HttpClient certdrop gives the SDK: one
// *http.Client (and connection pool) per product, shared by every call,
// that also records the answer's status and headers for the caller. The
// SDK drops the headers of error answers, and with them the
// x-ratelimit-user-api retry hint of 429s and Rejected.Throttling.
type doer struct {
	c *http.Client
}

// Call implements dara.HttpClient. The transport the SDK builds per call
// is ignored: connections are pooled in d.c.
func (d doer) Call(req *http.Request, _ *http.Transport) (*http.Response, error) {
	res, err := d.c.Do(req)
	if m, ok := req.Context().Value(metaKey{}).(*responseMeta); ok && res != nil {
		m.status, m.header = res.StatusCode, res.Header.Clone()
	}
	return res, err
}

// newDoer builds a product's HTTP client: TLS 1.2 or later, bounded
// connect, TLS handshake and response-header times, a per-request cap of
// connect + read timeout, keep-alive with enough idle connections for the
// fan-out's calls in flight, and proxies from the given environment.
func newDoer(o Options) doer {
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	proxy := (&httpproxy.Config{
		HTTPProxy:  firstEnv(o.Getenv, "HTTP_PROXY", "http_proxy"),
		HTTPSProxy: firstEnv(o.Getenv, "HTTPS_PROXY", "https_proxy"),
		NoProxy:    firstEnv(o.Getenv, "NO_PROXY", "no_proxy"),
	}).ProxyFunc()
	t := &http.Transport{
		Proxy:                 func(r *http.Request) (*url.URL, error) { return proxy(r.URL) },
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs},
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.ReadTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * o.MaxConnsPerHost,
		MaxIdleConnsPerHost:   o.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return doer{c: &http.Client{Transport: t, Timeout: o.ConnectTimeout + o.ReadTimeout}}
}

func firstEnv(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// withMeta returns a context that makes the transport record the answer.
func withMeta(ctx context.Context) (context.Context, *responseMeta) {
	m := &responseMeta{}
	return context.WithValue(ctx, metaKey{}, m), m
}
