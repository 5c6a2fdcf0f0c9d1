package renew

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"

	"github.com/certdrop/certdrop/internal/secureurl"
)

// newHTTPClient is the ACME HTTP client: TLS 1.2 or later, the system
// roots plus roots, bounded connect and answer times, and no connection to
// a link-local or instance metadata address, checked on the address dialled
// after resolution (a directory, or a URL a directory hands out, may name a
// host that resolves there).
func newHTTPClient(roots []*x509.Certificate) (*http.Client, error) {
	var pool *x509.CertPool
	if len(roots) > 0 {
		p, err := x509.SystemCertPool()
		if err != nil || p == nil {
			p = x509.NewCertPool()
		}
		for _, r := range roots {
			p.AddCert(r)
		}
		pool = p
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: secureurl.DialControl}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: t, Timeout: 60 * time.Second}, nil
}

// certClient is the ACME client of one certificate's run, with what its
// transport saw: the CA's Retry-After on a refusal, and whether the CA
// accepted a new order.
type certClient struct {
	*acmez.Client
	rec *recorder
}

// newClient builds the ACME client of one certificate.
func (e *Engine) newClient(directory string, log *slog.Logger) *certClient {
	base := e.http.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	rec := &recorder{base: base, now: e.opts.Now}
	hc := &http.Client{Transport: rec, Timeout: e.http.Timeout, Jar: e.http.Jar}
	return &certClient{
		Client: &acmez.Client{Client: &acme.Client{
			Directory:  directory,
			HTTPClient: hc,
			UserAgent:  "certdrop",
			Logger:     acmeLogger(log),
		}},
		rec: rec,
	}
}

// acmeLogger passes the ACME client's warnings and errors on; its debug
// lines (request headers) are dropped.
func acmeLogger(log *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{log.Handler(), slog.LevelWarn})
}

// recorder is an http.RoundTripper that notes the CA's Retry-After on
// 429/503 answers and when a newOrder request was answered 201 Created.
type recorder struct {
	base http.RoundTripper
	now  func() time.Time

	mu         sync.Mutex
	newOrder   string // the directory's newOrder URL, once known
	ordered    bool
	orderedAt  time.Time
	retryAfter time.Time
}

// RoundTrip implements http.RoundTripper. A URL whose host is a
// link-local or instance metadata address is refused before it is sent,
// whatever transport (or proxy) the client has.
func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := secureurl.CheckHost(req.URL.Hostname()); err != nil {
		return nil, err
	}
	res, err := r.base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if (res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable) && res.Header.Get("Retry-After") != "" {
		if t := parseRetryAfter(res.Header.Get("Retry-After"), r.now()); t.After(r.retryAfter) {
			r.retryAfter = t
		}
	}
	if req.Method == http.MethodPost && res.StatusCode == http.StatusCreated && r.newOrder != "" && req.URL.String() == r.newOrder {
		r.ordered, r.orderedAt = true, r.now()
	}
	return res, nil
}

func (r *recorder) setNewOrderURL(u string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.newOrder = u
}

// outcome returns what the recorder saw.
func (r *recorder) outcome() (ordered bool, at, retryAfter time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ordered, r.orderedAt, r.retryAfter
}

// parseRetryAfter reads seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Time {
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return now.Add(time.Duration(s) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}

// levelFilter drops records below min.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

// Enabled implements slog.Handler.
func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

// WithAttrs implements slog.Handler.
func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}

// WithGroup implements slog.Handler.
func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(n), f.min}
}
