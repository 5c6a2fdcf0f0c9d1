// Package renew obtains and renews the manifest's certificates through
// ACME (RFC 8555, with github.com/mholt/acmez/v3) and DNS-01 challenges
// written by libdns providers, and writes each as one combined object,
// <prefix><name>/bundle.pem (leaf, chain, key), where the OSS trigger
// deploys it like any other bundle.
//
// A certificate is renewed when it is due: no valid bundle in the bucket,
// the manifest's names differ from the certificate's, the CA's renewal
// window (ACME Renewal Information, RFC 9773) has opened, or renewBefore
// (default: a third of the lifetime when the CA offers no ARI) is reached.
// The account key and each certificate's state (last attempt, failures,
// next allowed attempt) are kept in the bucket under certdrop/acme/. At
// most one order per certificate per day, back-off after failures and the
// CA's Retry-After are honoured unless forced. Keys never reach a log,
// result or error.
//
// Certificates are checked, then ordered, Concurrency at a time
// (DefaultConcurrency, 50; CERTDROP_RENEW_CONCURRENCY, 1 to 100), the most
// urgent first. Each order waits for its own records and nothing is held
// across that wait (no lock, no shared checker), so the waits for DNS
// propagation overlap: a hundred certificates whose records take T to
// appear take about 2 × T, not 50 × T. The bound respects what the CAs
// document. Let's Encrypt (https://letsencrypt.org/docs/rate-limits/):
// 300 new orders per account per 3 hours (refilling one per 36 s): a run
// orders each certificate at most once and a manifest holds at most 100,
// so a run takes at most a third of it whatever the concurrency; 50
// certificates per registered domain per 7 days and 5 duplicate
// certificates (the same names) per 7 days, counts that the daily limit
// keeps (one order per certificate per day unless forced; renewals are
// exempt from the first); 5 failed authorizations per identifier per
// account per hour, which one order per run and the back-off (1 h, 4 h, a
// day) keep under; 10 new accounts per IP address per 3 hours, where one
// account per CA and e-mail is registered once, under a lock. ZeroSSL and
// Google Trust Services document no such figures; any CA's rateLimited
// answer and Retry-After are honoured. The DNS side: the alidns provider
// is one per run, its writes paced at 97% of the account's 60
// AddDomainRecord and 60 DeleteDomainRecord per second, and an order
// writes four records per challenge name (the preflight's, the
// challenge's, each added and removed), so 50 orders at once need about
// 3.5 s of that quota. There is no bound per zone or registered domain:
// the write quota is the account's, the CA's per-domain limit counts
// certificates, not orders in flight, and a per-zone bound would
// serialise the propagation waits it is meant to overlap; writes to one
// zone that overlap and are answered LastOperationNotFinished are retried.
package renew

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/store"
)

// Defaults of Options' zero values.
const (
	// DefaultConcurrency is how many certificates are checked, and then
	// ordered, at once (see the package documentation for the limits it
	// respects); CERTDROP_RENEW_CONCURRENCY sets another, up to
	// MaxConcurrency.
	DefaultConcurrency        = 50
	DefaultPropagationTimeout = 2 * time.Minute
	DefaultPollInterval       = 2 * time.Second
	DefaultCleanupTimeout     = 30 * time.Second
	// DefaultMinOrderTime: an order is not started with less time than
	// this before the deadline.
	DefaultMinOrderTime = 30 * time.Second
	// BundleName is the object each certificate is written to, in its
	// folder.
	BundleName = "bundle.pem"
)

// EnvTrustRoots names a PEM file or oss:// object with roots to trust for
// the ACME server's TLS certificate (a private or test CA).
const EnvTrustRoots = config.ACMETrustRoots

// ProviderFactory builds the DNS provider of a certificate.
type ProviderFactory func(ctx context.Context, c manifest.Certificate) (Provider, error)

// Options configure an Engine.
type Options struct {
	// Store is the bucket (rooted at the bucket, not at a prefix): bundles
	// are read from and written to Prefix+<name>/bundle.pem, the account
	// and state kept under StatePrefix. Required.
	Store store.Store
	// Prefix is the watched prefix (the trigger's, "certs/"); may be empty.
	Prefix string
	// StatePrefix defaults to DefaultStatePrefix.
	StatePrefix string
	// Providers builds DNS providers; required (see NewProviders).
	Providers ProviderFactory
	// Resolvers are asked to follow CNAMEs and find authoritative servers
	// (host:port); default the system's.
	Resolvers []string
	// Roots are trusted, besides the system roots, for the ACME server's
	// TLS certificate (CERTDROP_ACME_TRUST_ROOTS).
	Roots []*x509.Certificate
	// HTTPClient, when set, is used for ACME as it is (tests).
	HTTPClient *http.Client
	// Getenv reads the EAB variables; nil reads nothing.
	Getenv func(string) string
	// Concurrency bounds the certificates checked, and then ordered, at
	// once: DefaultConcurrency when zero, at most MaxConcurrency.
	Concurrency int
	// PropagationTimeout bounds the wait for a record to be visible;
	// PollInterval is the pause between checks; CleanupTimeout bounds the
	// removal of records.
	PropagationTimeout, PollInterval, CleanupTimeout time.Duration
	// MinOrderTime: no order starts closer than this to ctx's deadline.
	MinOrderTime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger gets one line per step, never a key; nil discards.
	Logger *slog.Logger
}

// RunOptions select what one run does.
type RunOptions struct {
	// Names restricts the run to these certificates (empty: all).
	Names []string
	// Force renews whether due or not, ignoring back-off and the daily
	// limit.
	Force bool
	// DryRun reports what is due and orders nothing, writes nothing.
	DryRun bool
}

// Engine renews certificates. It is safe for concurrent use.
type Engine struct {
	opts        Options
	statePrefix string
	http        *http.Client
	dns         *resolver
	log         *slog.Logger
	getenv      func(string) string

	mu      sync.Mutex
	locks   map[string]*sync.Mutex
	secrets []string // values to scrub from every error (EAB MAC keys)
}

// New checks opts and returns an engine.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("renew: no store")
	}
	if opts.Providers == nil {
		return nil, errors.New("renew: no DNS provider factory")
	}
	if opts.Prefix != "" && !strings.HasSuffix(opts.Prefix, "/") {
		opts.Prefix += "/"
	}
	e := &Engine{opts: opts, statePrefix: opts.StatePrefix, getenv: opts.Getenv, log: opts.Logger}
	if e.statePrefix == "" {
		e.statePrefix = DefaultStatePrefix
	}
	if !strings.HasSuffix(e.statePrefix, "/") {
		e.statePrefix += "/"
	}
	if opts.Prefix != "" && strings.HasPrefix(e.statePrefix, opts.Prefix) {
		return nil, fmt.Errorf("renew: the state prefix %q lies under the watched prefix %q: the account key would trigger the function", e.statePrefix, opts.Prefix)
	}
	if e.getenv == nil {
		e.getenv = func(string) string { return "" }
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = slog.New(scrubHandler{e.log.Handler(), e})
	if e.opts.Concurrency <= 0 {
		e.opts.Concurrency = DefaultConcurrency
	}
	e.opts.Concurrency = min(e.opts.Concurrency, MaxConcurrency)
	if e.opts.PropagationTimeout <= 0 {
		e.opts.PropagationTimeout = DefaultPropagationTimeout
	}
	if e.opts.PollInterval <= 0 {
		e.opts.PollInterval = DefaultPollInterval
	}
	if e.opts.CleanupTimeout <= 0 {
		e.opts.CleanupTimeout = DefaultCleanupTimeout
	}
	if e.opts.MinOrderTime <= 0 {
		e.opts.MinOrderTime = DefaultMinOrderTime
	}
	if e.opts.Now == nil {
		e.opts.Now = time.Now
	}
	servers := opts.Resolvers
	if len(servers) == 0 {
		servers = systemResolvers()
	}
	e.dns = &resolver{servers: servers}
	e.http = opts.HTTPClient
	if e.http == nil {
		var err error
		if e.http, err = newHTTPClient(opts.Roots); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// BundleKey is where a certificate's bundle is written.
func (e *Engine) BundleKey(name string) string { return e.opts.Prefix + name + "/" + BundleName }

// Run renews the due certificates among certs (all of them, or those
// RunOptions.Names selects) within ctx's deadline, and returns one Result
// per certificate in manifest order. An error is returned only when the
// run cannot start (an unknown name).
//
// It goes in two steps, each at most Concurrency certificates at a time.
// First every certificate is checked: is it due, may it be ordered now
// (back-off, daily limit, dry run). Then the due ones are ordered, the
// most urgent first: no valid certificate in the bucket, then expired,
// then the nearest expiry (manifest order among equals). No order starts
// with less than MinOrderTime before the deadline: a certificate still
// waiting then ends Skipped SkipNotStarted, its error saying how many more
// urgent ones were ordered first, and the next run renews it.
func (e *Engine) Run(ctx context.Context, certs []manifest.Certificate, ro RunOptions) ([]Result, error) {
	selected := certs
	if len(ro.Names) > 0 {
		selected = nil
		for _, n := range ro.Names {
			i := slices.IndexFunc(certs, func(c manifest.Certificate) bool { return strings.EqualFold(c.Name, n) })
			if i < 0 {
				return nil, fmt.Errorf("no certificate named %q in the manifest", n)
			}
			selected = append(selected, certs[i])
		}
	}
	results := make([]Result, len(selected))
	jobs := make([]*job, len(selected))
	all := make([]int, len(selected))
	for i := range all {
		all[i] = i
	}
	unchecked := e.each(ctx, all, func(i int) {
		results[i], jobs[i] = e.assess(ctx, selected[i], ro)
	})
	for _, i := range unchecked {
		c := selected[i]
		res := Result{Name: c.Name, Domains: c.Domains, Reason: ReasonNotDue, Skipped: SkipNotStarted}
		results[i] = e.finish(ctx, res, fmt.Errorf("the run's deadline came before this certificate was checked: %w", ctx.Err()), 0, e.log.With("certificate", c.Name))
	}

	var due []int
	for i, j := range jobs {
		if j != nil {
			due = append(due, i)
		}
	}
	// The most urgent first; the zero time (no valid certificate) sorts
	// before every expiry.
	slices.SortStableFunc(due, func(a, b int) int { return jobs[a].expires().Compare(jobs[b].expires()) })
	var started atomic.Int64
	unordered := e.each(ctx, due, func(i int) {
		results[i] = e.orderJob(ctx, jobs[i], &started)
	})
	for _, i := range unordered {
		j := jobs[i]
		j.res.Skipped = SkipNotStarted
		results[i] = e.finish(ctx, j.res, e.deadlineError(ctx, int(started.Load())), j.took, j.log)
	}
	return results, nil
}

// job is a due certificate that may be ordered in this run, as its check
// left it.
type job struct {
	c      manifest.Certificate
	client *certClient
	d      dueInfo
	state  State
	res    Result
	log    *slog.Logger
	took   time.Duration // the check's time
}

// expires is the expiry of the certificate in the bucket; zero when
// there is no valid one.
func (j *job) expires() time.Time {
	if j.d.current == nil {
		return time.Time{}
	}
	return j.d.current.NotAfter
}

// each calls work for every index of idx, starting them in that order, at
// most Concurrency at a time, and returns the indexes not started because
// ctx ended first.
func (e *Engine) each(ctx context.Context, idx []int, work func(i int)) (notStarted []int) {
	sem := make(chan struct{}, e.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for k, i := range idx {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return idx[k:]
		}
		if ctx.Err() != nil {
			<-sem
			return idx[k:]
		}
		wg.Go(func() {
			defer func() { <-sem }()
			work(i)
		})
	}
	return nil
}

// assess checks one certificate: its result when it needs no order in
// this run (not due, held back, failed), or the job that orders it.
func (e *Engine) assess(ctx context.Context, c manifest.Certificate, ro RunOptions) (Result, *job) {
	start := time.Now()
	log := e.log.With("certificate", c.Name)
	j, res, err := e.check(ctx, c, ro, log)
	if j != nil {
		j.took = time.Since(start)
		return Result{}, j
	}
	return e.finish(ctx, res, err, time.Since(start), log), nil
}

// orderJob orders a due certificate, unless the deadline is too near
// (started counts the orders this run has started).
func (e *Engine) orderJob(ctx context.Context, j *job, started *atomic.Int64) Result {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < e.opts.MinOrderTime {
		j.res.Skipped = SkipNotStarted
		return e.finish(ctx, j.res, e.deadlineError(ctx, int(started.Load())), j.took, j.log)
	}
	started.Add(1)
	start := time.Now()
	res, err := e.renew(ctx, j.client, j.c, j.d, j.state, j.res, j.log)
	return e.finish(ctx, res, err, j.took+time.Since(start), j.log)
}

// deadlineError says why a due certificate was not ordered: the deadline,
// after started more urgent orders.
func (e *Engine) deadlineError(ctx context.Context, started int) error {
	left := "no time"
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) > 0 {
		left = "only " + time.Until(dl).Round(time.Second).String()
	}
	msg := fmt.Sprintf("%s left before the deadline: not starting an order", left)
	if started > 0 {
		msg += fmt.Sprintf("; %d more urgent certificate(s) were ordered first in this run", started)
	}
	msg += " (the next run renews it)"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", msg, err)
	}
	return errors.New(msg)
}

// finish completes one certificate's result and logs what was done.
func (e *Engine) finish(ctx context.Context, res Result, err error, took time.Duration, log *slog.Logger) Result {
	if err != nil {
		res.Error = e.newError(err, res)
	}
	res.DurationMs = took.Milliseconds()
	lvl := slog.LevelInfo
	if res.Failed() {
		lvl = slog.LevelError
	}
	log.Log(ctx, lvl, "renewal", "due", res.Due, "reason", res.Reason, "renewed", res.Renewed,
		"skipped", res.Skipped, "notAfter", res.NotAfter, "error", res.Error.Error())
	return res
}

// check decides whether c is due and may be ordered in this run: the job
// that orders it when so, else its result (and error).
func (e *Engine) check(ctx context.Context, c manifest.Certificate, ro RunOptions, log *slog.Logger) (*job, Result, error) {
	res := Result{Name: c.Name, Domains: c.Domains}
	// The manifest's checks hold for a caller that builds a Certificate
	// itself: no variable outside the manifest's reach is read, no
	// directory at a link-local or metadata address is asked.
	if err := checkCertificate(c); err != nil {
		return nil, res, err
	}
	// The secrets this certificate's variables hold are scrubbed from
	// every error (a provider's message might echo its token).
	for _, name := range secretVars(c) {
		e.addSecret(e.getenv(name))
	}
	state, err := loadState(ctx, e.opts.Store, e.statePrefix, c.Name)
	switch {
	case errors.Is(err, errDamagedState):
		log.Warn("state damaged; starting afresh", "error", err)
	case err != nil:
		// Without the state, the daily limit and the back-off cannot be
		// honoured: order nothing.
		return nil, res, fmt.Errorf("reading the renewal state: %w", err)
	}
	client := e.newClient(c.Directory, log)
	d, err := e.due(ctx, client, c)
	if err != nil {
		return nil, res, err
	}
	res.Due, res.Reason, res.Detail, res.NextDue = d.due, d.reason, d.detail, d.nextDue
	if d.current != nil {
		res.NotAfter = d.current.NotAfter
	}
	if ro.Force && !d.due {
		res.Due, res.Reason = true, ReasonForced
	}
	if !res.Due {
		return nil, res, nil
	}
	if e.held(&res, state, ro); res.Skipped != "" {
		return nil, res, nil
	}
	return &job{c: c, client: client, d: d, state: state, res: res, log: log}, res, nil
}

// held sets res.Skipped when a due certificate may not be ordered in this
// run: the back-off, the daily limit (both unless forced), or a dry run.
// The deadline is judged when its turn to be ordered comes (orderJob).
func (e *Engine) held(res *Result, state State, ro RunOptions) {
	now := e.opts.Now()
	switch {
	case !ro.Force && state.Failures > 0 && now.Before(state.NextAttempt):
		res.Skipped, res.NextAttempt = SkipBackoff, state.NextAttempt
		res.Detail = strings.TrimPrefix(res.Detail+fmt.Sprintf("; %d failed attempt(s), the last: %s", state.Failures, state.LastError), "; ")
	case !ro.Force && !state.LastOrder.IsZero() && now.Before(state.LastOrder.Add(OrderInterval)):
		res.Skipped, res.NextAttempt = SkipDailyLimit, state.LastOrder.Add(OrderInterval)
	case ro.DryRun:
		res.Skipped = SkipDryRun
	}
}

// renew orders a new certificate for c and records the attempt in its
// state, which is written whatever happened, on a context that outlives
// the deadline, so that the next run backs off.
func (e *Engine) renew(ctx context.Context, client *certClient, c manifest.Certificate, d dueInfo, state State, res Result, log *slog.Logger) (Result, error) {
	state.LastAttempt = e.opts.Now()
	out, err := e.order(ctx, client, c, d.replaces, log)
	res.LeftBehind = out.leftBehind
	// An order counts against the daily limit once the CA could validate
	// something: one whose every challenge record failed to be written
	// cost the CA nothing, and waits only for the back-off.
	counted := out.ordered && out.challenges > 0
	if counted {
		state.LastOrder = out.orderedAt
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.CleanupTimeout)
	defer cancel()
	if err != nil {
		if errors.Is(err, ErrRateLimited) {
			res.Skipped = SkipRateLimited
		}
		state.failed(e.opts.Now(), e.scrub(err.Error()), counted, out.retryAfter)
		res.NextAttempt = state.NextAttempt
		if serr := saveState(sctx, e.opts.Store, e.statePrefix, c.Name, state); serr != nil {
			err = fmt.Errorf("%w; the back-off state could not be written: %v", err, serr)
		}
		return res, err
	}
	state.succeeded(e.opts.Now(), c.Domains, out.leaf.NotAfter, out.leaf.SerialNumber.Text(16))
	res.Renewed, res.Key, res.NotAfter, res.Serial = true, out.key, out.leaf.NotAfter, out.leaf.SerialNumber.Text(16)
	res.NextAttempt = state.NextAttempt
	if serr := saveState(sctx, e.opts.Store, e.statePrefix, c.Name, state); serr != nil {
		// Renewed, but the daily limit cannot be kept without the state:
		// someone must fix the bucket's permissions.
		return res, fmt.Errorf("the certificate was issued and written, but the renewal state could not be: %w", serr)
	}
	return res, nil
}

// secretVars names the environment variables holding c's secrets.
func secretVars(c manifest.Certificate) []string {
	names := []string{c.DNS.APITokenEnv, c.DNS.KeyEnv}
	if c.EAB != nil {
		names = append(names, c.EAB.KeyIDEnv, c.EAB.MACKeyEnv)
	}
	return names
}

// ErrRefused marks a certificate the engine will not act on: it names a
// variable a manifest may not name, or its directory is at an address
// certdrop does not send requests to. Parse refuses both; this is the
// same check where the values are used.
var ErrRefused = errors.New("refused")

// checkSecretVars checks every variable c names against the manifest's
// rule (manifest.CheckSecretEnv).
func checkSecretVars(c manifest.Certificate) error {
	type named struct{ field, name string }
	fields := []named{{"dns.apiTokenEnv", c.DNS.APITokenEnv}, {"dns.keyEnv", c.DNS.KeyEnv}}
	if c.EAB != nil {
		fields = append(fields, named{"eab.keyIdEnv", c.EAB.KeyIDEnv}, named{"eab.macKeyEnv", c.EAB.MACKeyEnv})
	}
	for _, f := range fields {
		if f.name == "" {
			continue
		}
		if err := manifest.CheckSecretEnv(f.name); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrRefused, f.field, err)
		}
	}
	return nil
}

// checkCertificate checks what c names before anything is read or sent.
func checkCertificate(c manifest.Certificate) error {
	if err := checkSecretVars(c); err != nil {
		return err
	}
	u, err := url.Parse(c.Directory)
	if err != nil || u.Host == "" {
		// Not repeated: a URL that does not parse may carry anything.
		return fmt.Errorf("%w: the ACME directory is not a URL with a host", ErrRefused)
	}
	if err := secureurl.CheckHost(u.Hostname()); err != nil {
		return fmt.Errorf("%w: the ACME directory: %w", ErrRefused, err)
	}
	return nil
}

// lockFor returns the mutex of a key (one account registration at a
// time).
func (e *Engine) lockFor(key string) *sync.Mutex {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.locks == nil {
		e.locks = map[string]*sync.Mutex{}
	}
	if e.locks[key] == nil {
		e.locks[key] = &sync.Mutex{}
	}
	return e.locks[key]
}

func (e *Engine) addSecret(v string) {
	if len(v) < 4 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Contains(e.secrets, v) {
		e.secrets = append(e.secrets, v)
	}
}

// privateKeyPEM matches a private-key PEM block, or what is left of one.
var privateKeyPEM = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`)

// scrub removes known secrets and any private-key PEM from s.
func (e *Engine) scrub(s string) string {
	e.mu.Lock()
	secrets := append([]string(nil), e.secrets...)
	e.mu.Unlock()
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, bundle.Redacted)
	}
	return privateKeyPEM.ReplaceAllString(s, bundle.Redacted)
}

// putSecret writes with the store's protection for secrets when it has
// one.
func (e *Engine) putSecret(ctx context.Context, key string, data []byte, contentType string) error {
	if sp, ok := e.opts.Store.(store.SecretPutter); ok {
		return sp.PutSecret(ctx, key, data, contentType)
	}
	return e.opts.Store.Put(ctx, key, data, contentType)
}
