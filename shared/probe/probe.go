// Package probe asks each edge which certificate it serves for a name, and
// says whether that is the certificate certdrop deployed.
//
// A probe opens a TCP connection, sends a TLS ClientHello with the name as
// SNI, reads the server's Certificate message, records its leaf and closes
// the connection. It never completes the handshake, and its connection
// lets through only plaintext handshake and ChangeCipherSpec records until
// the certificate is read and nothing after (crypto/tls would then send an
// encrypted alert): on the wire the probe sends one ClientHello record
// (two ClientHellos and a ChangeCipherSpec when the server answers with a
// HelloRetryRequest) and nothing else: no Finished, no alert, no
// application data, no HTTP. The chain is not verified: the probe reports
// what is served, trusted or not.
//
// # Verdicts
//
// Each Request carries the fingerprint of the certificate the target
// should serve (Expected) and the fingerprints of certificates it is known
// to have carried before that one (Previous). A probe's verdict is:
//
//   - serving: the served leaf is Expected.
//   - stale: the served leaf is one of Previous: the edge has not yet
//     turned to the new certificate (CDN nodes take time).
//   - other: the served leaf is neither: a certificate certdrop does not
//     know on this target (someone replaced it, or the edge answers with a
//     default certificate for a name it does not host; Served.Covers says
//     whether the certificate names the probed name at all).
//   - unreachable: no certificate was read: the name did not resolve, the
//     connection was refused or timed out, the server aborted the handshake
//     or sent something that is not TLS. Result.Reason says which.
//   - unprobed: the context ended before the probe started or while it
//     ran. It is not "unreachable": the edge was not given its time.
//
// Previous is precise only as far as the caller fills it: after a deploy,
// it holds the certificate the API reported on the target before the Set
// (whoever set it) and the certificates certdrop set there earlier; on the
// daily probe, the certificates certdrop set there earlier. A fingerprint
// in both Expected and Previous counts as serving. A request marked Fresh
// is a name that served no certificate before (HTTPS just switched on):
// WaitStale waits for its unreachable edge as for a stale one.
//
// # Names
//
// A Request's Name is the SNI and the name the served certificate is
// checked against. It must be a DNS host name; a wildcard ("*.example.com")
// is refused with ErrWildcard: an edge cannot be asked for a wildcard, so
// the caller probes a concrete name the manifest gives (probeName) or skips
// the target. The probe dials Options.Dial when set (CERTDROP_PROBE_DIAL:
// every probe dials that address, SNI still the name), else Request.Addr
// when set, else Name on port 443.
//
// # Bounded cost
//
//   - At most Options.Workers probes run at once (default 32, at most 256).
//   - Probes start at most Options.Rate per second (default 50).
//   - One probe (resolve, connect, handshake up to the Certificate message)
//     lasts at most Options.HandshakeTimeout (default 5 s, at most 60 s).
//   - A call takes at most about len(requests)/Rate + HandshakeTimeout,
//     and never outlives its context: when the context ends, probes in
//     flight are cut and the remaining requests are answered unprobed.
//   - WaitStale re-probes stale names for at most Options.Wait (default
//     3 min, at most 30 min) or until its context ends, whichever is first.
//   - At most MaxRequests requests per call (ErrTooMany beyond).
//   - The probe reads at most what crypto/tls reads of a handshake; it
//     keeps only the leaf.
//
// # How a run calls it
//
// After the fan-out has set certificates, the run builds one Request per
// deployed name (Expected = the bundle's fingerprint, Previous = the
// fingerprint Describe reported before the Set plus the ones its records
// hold, Addr from the manifest when given) and calls
//
//	p, err := probe.New(probe.Options{Dial: os.Getenv("CERTDROP_PROBE_DIAL")})
//	res, err := p.Probe(ctx, reqs)            // ctx bounded by the run's deadline
//	res, err = p.WaitStale(ctx, reqs, res)    // optional: let stale turn
//
// in its own goroutine or after the fan-out, so the fan-out never waits
// for it. The daily timer calls Probe alone for every target and alerts
// on other (drift) and on Served.NotAfter (what users see expiring).
package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/certdrop/certdrop/shared/bundle"
)

// Verdict is what a probe found the edge serving.
type Verdict string

// The verdicts; the package doc defines each.
const (
	Serving     Verdict = "serving"
	Stale       Verdict = "stale"
	Other       Verdict = "other"
	Unreachable Verdict = "unreachable"
	Unprobed    Verdict = "unprobed"
)

// Defaults and limits of Options.
const (
	DefaultRate             = 50
	DefaultWorkers          = 32
	MaxWorkers              = 256
	DefaultHandshakeTimeout = 5 * time.Second
	MaxHandshakeTimeout     = 60 * time.Second
	DefaultWait             = 3 * time.Minute
	MaxWait                 = 30 * time.Minute
	DefaultBackoff          = 2 * time.Second
	DefaultMaxBackoff       = 30 * time.Second
	DefaultPort             = "443"
	MaxRequests             = 100_000
	// MaxSANs is how many of the served certificate's DNS names a
	// Result keeps.
	MaxSANs = 20
)

// Errors callers branch on.
var (
	// ErrWildcard: a request names a wildcard; probe a concrete name.
	ErrWildcard = errors.New("probe: a wildcard name cannot be probed")
	// ErrInvalidRequest: a request's name, fingerprint or address is malformed.
	ErrInvalidRequest = errors.New("probe: invalid request")
	// ErrTooMany: more than MaxRequests requests in one call.
	ErrTooMany = errors.New("probe: too many requests")
	// ErrInvalidOptions: Options out of range.
	ErrInvalidOptions = errors.New("probe: invalid options")
	// ErrNotProbed: the context ended before every request was probed;
	// the results say which were (the others are Unprobed).
	ErrNotProbed = errors.New("probe: context ended before every name was probed")
	// ErrNoTurn is why a request was not probed when the context has not
	// ended: at the pace, its turn would come after the context's deadline.
	ErrNoTurn = errors.New("its turn at the probes' pace comes after the deadline")
)

// Request is one name to probe.
type Request struct {
	// Name is the SNI and the name the certificate is checked against.
	Name string `json:"name"`
	// Expected is the SHA-256 fingerprint (hex, as bundle.Fingerprint) of
	// the leaf the target should serve. Empty: nothing can be serving.
	Expected string `json:"expected,omitempty"`
	// Previous are fingerprints of leaves the target carried before
	// Expected (see the package doc).
	Previous []string `json:"previous,omitempty"`
	// Fresh marks a name that served no certificate before Expected
	// was set (HTTPS was off): until its edge turns it is unreachable,
	// and WaitStale waits for it as for a stale one.
	Fresh bool `json:"fresh,omitempty"`
	// Addr is the "host:port" to dial instead of Name:443; Options.Dial
	// overrides it.
	Addr string `json:"addr,omitempty"`
}

// Served describes the leaf an edge presented.
type Served struct {
	Fingerprint string    `json:"fingerprint"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	NotBefore   time.Time `json:"notBefore"`
	NotAfter    time.Time `json:"notAfter"`
	// DaysLeft is whole days from the probe to NotAfter; negative once
	// expired.
	DaysLeft int `json:"daysLeft"`
	// DNSNames are the certificate's first MaxSANs DNS names.
	DNSNames []string `json:"dnsNames,omitempty"`
	// Covers says whether the certificate names the probed name.
	Covers bool `json:"covers"`
}

// Result is the last probe of one Request.
type Result struct {
	Name    string  `json:"name"`
	Addr    string  `json:"addr"`
	Verdict Verdict `json:"verdict"`
	// Served is nil unless a certificate was read.
	Served *Served `json:"served,omitempty"`
	// Reason says why the name is unreachable or unprobed.
	Reason string `json:"reason,omitempty"`
	// At is when the last probe started; Elapsed how long it took.
	At      time.Time     `json:"at"`
	Elapsed time.Duration `json:"elapsedNs"`
	// Probes counts the probes made for this request (WaitStale adds).
	Probes int `json:"probes"`
}

// Options configure a Prober. Zero fields take the defaults.
type Options struct {
	// Rate is how many probes start per second at most.
	Rate float64
	// Workers is how many probes run at once at most.
	Workers int
	// HandshakeTimeout bounds one probe: resolve, connect and handshake.
	HandshakeTimeout time.Duration
	// Dial, when set ("host:port"), is the address every probe dials;
	// the SNI is still the request's name. The caller reads it from
	// CERTDROP_PROBE_DIAL.
	Dial string
	// Wait bounds WaitStale.
	Wait time.Duration
	// Backoff is WaitStale's first pause; it doubles up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Now is the clock (DaysLeft, Result.At); time.Now when nil.
	Now func() time.Time
	// Logger receives one debug line per probe; discarded when nil.
	Logger *slog.Logger
}

// Prober probes names. Its pacing is shared by all its calls; it is safe
// for concurrent use.
type Prober struct {
	opt     Options
	limiter *rate.Limiter
	// dial opens the TCP connection; tests wrap it.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New checks opts, applies the defaults and returns a Prober.
func New(opts Options) (*Prober, error) {
	switch {
	case opts.Rate < 0, opts.Workers < 0, opts.HandshakeTimeout < 0, opts.Wait < 0,
		opts.Backoff < 0, opts.MaxBackoff < 0:
		return nil, fmt.Errorf("%w: negative value", ErrInvalidOptions)
	case opts.Workers > MaxWorkers:
		return nil, fmt.Errorf("%w: workers %d above %d", ErrInvalidOptions, opts.Workers, MaxWorkers)
	case opts.HandshakeTimeout > MaxHandshakeTimeout:
		return nil, fmt.Errorf("%w: handshake timeout %s above %s", ErrInvalidOptions, opts.HandshakeTimeout, MaxHandshakeTimeout)
	case opts.Wait > MaxWait:
		return nil, fmt.Errorf("%w: wait %s above %s", ErrInvalidOptions, opts.Wait, MaxWait)
	}
	if opts.Dial != "" {
		if err := checkAddr(opts.Dial); err != nil {
			return nil, fmt.Errorf("%w: dial address: %v", ErrInvalidOptions, err)
		}
	}
	if opts.Rate == 0 {
		opts.Rate = DefaultRate
	}
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.HandshakeTimeout == 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.Wait == 0 {
		opts.Wait = DefaultWait
	}
	if opts.Backoff == 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.MaxBackoff < opts.Backoff {
		opts.MaxBackoff = opts.Backoff
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var d net.Dialer
	return &Prober{opt: opts, limiter: rate.NewLimiter(rate.Limit(opts.Rate), 1), dial: d.DialContext}, nil
}

// Validate checks requests as Probe does, without probing.
func Validate(reqs []Request) error {
	if len(reqs) > MaxRequests {
		return fmt.Errorf("%w: %d requests, at most %d", ErrTooMany, len(reqs), MaxRequests)
	}
	for i, r := range reqs {
		if err := checkRequest(r); err != nil {
			return fmt.Errorf("request %d (%q): %w", i, truncate(r.Name, 80), err)
		}
	}
	return nil
}

// Probe probes every request, paced and concurrent, and returns one
// Result per request in request order. It refuses the whole call when a
// request is invalid (ErrWildcard, ErrInvalidRequest, ErrTooMany). When
// ctx ends first, it returns every result with the requests it did not
// probe Unprobed, and an error wrapping ErrNotProbed and ctx's error.
func (p *Prober) Probe(ctx context.Context, reqs []Request) ([]Result, error) {
	if err := Validate(reqs); err != nil {
		return nil, err
	}
	out := make([]Result, len(reqs))
	idx := make([]int, len(reqs))
	for i := range idx {
		idx[i] = i
	}
	p.run(ctx, reqs, idx, out)
	for _, r := range out {
		if r.Verdict == Unprobed {
			return out, fmt.Errorf("%w: %w", ErrNotProbed, notProbed(ctx))
		}
	}
	return out, nil
}

// notProbed is why a request was not probed: ctx's cause when it has
// ended, else ErrNoTurn (the pacer refuses a wait that would outlast the
// deadline before the deadline comes).
func notProbed(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return ErrNoTurn
}

// run probes reqs[i] for i in idx into out[i]. A request it could not
// start before ctx ended and that holds no earlier result is Unprobed.
func (p *Prober) run(ctx context.Context, reqs []Request, idx []int, out []Result) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(p.opt.Workers, len(idx)) {
		wg.Go(func() {
			for i := range jobs {
				out[i] = p.one(ctx, reqs[i], out[i].Probes)
			}
		})
	}
feed:
	for _, i := range idx {
		if p.limiter.Wait(ctx) != nil {
			break
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	for _, i := range idx {
		if out[i].At.IsZero() {
			out[i] = Result{Name: reqs[i].Name, Addr: p.addr(reqs[i]), Verdict: Unprobed,
				Reason: "not probed: " + notProbed(ctx).Error()}
		}
	}
}

// addr is where a request's probe dials.
func (p *Prober) addr(r Request) string {
	switch {
	case p.opt.Dial != "":
		return p.opt.Dial
	case r.Addr != "":
		return r.Addr
	}
	return net.JoinHostPort(r.Name, DefaultPort)
}

// errCaptured ends the handshake once the server's leaf is read.
var errCaptured = errors.New("probe: certificate captured")

// one probes one request.
func (p *Prober) one(ctx context.Context, r Request, probes int) Result {
	start := p.opt.Now()
	res := Result{Name: r.Name, Addr: p.addr(r), At: start, Probes: probes + 1}
	t0 := time.Now()
	leaf, err := p.fetch(ctx, r.Name, res.Addr)
	res.Elapsed = time.Since(t0)
	if err != nil {
		res.Verdict, res.Reason = Unreachable, err.Error()
		if ctx.Err() != nil {
			// The caller's context ended, not the probe's own timeout:
			// the edge did not answer in time it was given, which says
			// nothing about the edge.
			res.Verdict = Unprobed
			res.Reason = "cut: " + context.Cause(ctx).Error() + ": " + res.Reason
		}
		p.opt.Logger.Debug("probe", "name", r.Name, "addr", res.Addr, "verdict", res.Verdict, "reason", res.Reason)
		return res
	}
	res.Served = describe(leaf, r.Name, start)
	res.Verdict = classify(r, res.Served.Fingerprint)
	p.opt.Logger.Debug("probe", "name", r.Name, "addr", res.Addr, "verdict", res.Verdict,
		"fingerprint", res.Served.Fingerprint)
	return res
}

// fetch dials addr, sends a ClientHello for name and returns the leaf of
// the server's Certificate message, closing before the handshake ends.
func (p *Prober) fetch(ctx context.Context, name, addr string) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opt.HandshakeTimeout)
	defer cancel()
	raw, err := p.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", timeoutText(err, p.opt.HandshakeTimeout))
	}
	defer raw.Close()
	wire := &helloOnly{Conn: raw}
	var leaf *x509.Certificate
	var parseErr error
	cfg := &tls.Config{
		ServerName: name,
		// The chain is not verified: the probe reports what is served.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
			if len(rawCerts) == 0 {
				return nil
			}
			// Nothing more goes out: crypto/tls would now send an alert.
			wire.mute()
			leaf, parseErr = x509.ParseCertificate(rawCerts[0])
			return errCaptured
		},
		MinVersion: tls.VersionTLS10,
	}
	conn := tls.Client(wire, cfg)
	err = conn.HandshakeContext(ctx)
	// Close the socket without close_notify: the handshake never completes.
	_ = raw.Close()
	switch {
	case errors.Is(err, errCaptured) && parseErr != nil:
		return nil, fmt.Errorf("handshake: the served certificate does not parse: %w", parseErr)
	case errors.Is(err, errCaptured):
		return leaf, nil
	case err != nil:
		return nil, fmt.Errorf("handshake: %w", timeoutText(err, p.opt.HandshakeTimeout))
	}
	return nil, errors.New("handshake: the server sent no certificate")
}

// timeoutText names a timeout plainly.
func timeoutText(err error, d time.Duration) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("timed out after %s: %w", d, err)
	}
	return err
}

// classify gives the verdict for the served fingerprint fp.
func classify(r Request, fp string) Verdict {
	if r.Expected != "" && strings.EqualFold(fp, r.Expected) {
		return Serving
	}
	for _, o := range r.Previous {
		if strings.EqualFold(fp, o) {
			return Stale
		}
	}
	return Other
}

func describe(c *x509.Certificate, name string, now time.Time) *Served {
	s := &Served{
		Fingerprint: bundle.Fingerprint(c),
		Subject:     c.Subject.String(),
		Issuer:      c.Issuer.String(),
		NotBefore:   c.NotBefore.UTC(),
		NotAfter:    c.NotAfter.UTC(),
		DaysLeft:    DaysLeft(c.NotAfter, now),
		Covers:      c.VerifyHostname(name) == nil,
	}
	if len(c.DNSNames) > 0 {
		s.DNSNames = append([]string(nil), c.DNSNames[:min(len(c.DNSNames), MaxSANs)]...)
	}
	return s
}

// DaysLeft is the whole days from now to notAfter, rounded down; negative
// once expired.
func DaysLeft(notAfter, now time.Time) int {
	d := notAfter.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

func checkRequest(r Request) error {
	if strings.HasPrefix(r.Name, "*.") {
		return ErrWildcard
	}
	if err := checkHostname(r.Name); err != nil {
		return fmt.Errorf("%w: name: %v", ErrInvalidRequest, err)
	}
	if r.Expected != "" && !isFingerprint(r.Expected) {
		return fmt.Errorf("%w: expected is not a SHA-256 hex fingerprint", ErrInvalidRequest)
	}
	for _, o := range r.Previous {
		if !isFingerprint(o) {
			return fmt.Errorf("%w: previous %q is not a SHA-256 hex fingerprint", ErrInvalidRequest, truncate(o, 80))
		}
	}
	if r.Addr != "" {
		if err := checkAddr(r.Addr); err != nil {
			return fmt.Errorf("%w: addr: %v", ErrInvalidRequest, err)
		}
	}
	return nil
}

// checkHostname accepts a DNS host name: labels of letters, digits,
// hyphens and underscores, 1-63 characters, 253 in all; not an IP address
// (TLS sends no SNI for an address).
func checkHostname(n string) error {
	n = strings.TrimSuffix(n, ".")
	if n == "" || len(n) > 253 {
		return errors.New("empty or longer than 253 characters")
	}
	if net.ParseIP(n) != nil {
		return errors.New("an IP address is not a name TLS can send")
	}
	for l := range strings.SplitSeq(n, ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("label %q is empty or longer than 63 characters", truncate(l, 80))
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%q holds a character a host name cannot", truncate(n, 80))
			}
		}
	}
	return nil
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return err
	}
	if host == "" || port == "" {
		return fmt.Errorf("%q: host and port are required", truncate(a, 80))
	}
	return nil
}

func isFingerprint(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
