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
	"time"

	"github.com/certdrop/certdrop/internal/secureurl"
	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/store"
)

// Defaults of Options' zero values.
const (
	DefaultConcurrency        = 2
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
	// Concurrency bounds the certificates ordered at once.
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
// RunOptions.Names selects), at most Concurrency at a time, within ctx's
// deadline, and returns one Result per certificate in manifest order. An
// error is returned only when the run cannot start (an unknown name).
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
	sem := make(chan struct{}, e.opts.Concurrency)
	var wg sync.WaitGroup
	for i, c := range selected {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				res := Result{Name: c.Name, Domains: c.Domains, Reason: ReasonNotDue, Skipped: SkipNotStarted}
				res.Error = e.newError(fmt.Errorf("the run's deadline came before this certificate was checked: %w", ctx.Err()), res)
				results[i] = res
				return
			}
			results[i] = e.one(ctx, c, ro)
		}()
	}
	wg.Wait()
	return results, nil
}

// one handles one certificate and logs what it did.
func (e *Engine) one(ctx context.Context, c manifest.Certificate, ro RunOptions) Result {
	start := time.Now()
	log := e.log.With("certificate", c.Name)
	res, err := e.check(ctx, c, ro, log)
	if err != nil {
		res.Error = e.newError(err, res)
	}
	res.DurationMs = time.Since(start).Milliseconds()
	lvl := slog.LevelInfo
	if res.Failed() {
		lvl = slog.LevelError
	}
	log.Log(ctx, lvl, "renewal", "due", res.Due, "reason", res.Reason, "renewed", res.Renewed,
		"skipped", res.Skipped, "notAfter", res.NotAfter, "error", res.Error.Error())
	return res
}

// check decides whether c is due and may be ordered now, and renews it
// when so.
func (e *Engine) check(ctx context.Context, c manifest.Certificate, ro RunOptions, log *slog.Logger) (Result, error) {
	res := Result{Name: c.Name, Domains: c.Domains}
	// The manifest's checks hold for a caller that builds a Certificate
	// itself: no variable outside the manifest's reach is read, no
	// directory at a link-local or metadata address is asked.
	if err := checkCertificate(c); err != nil {
		return res, err
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
		return res, fmt.Errorf("reading the renewal state: %w", err)
	}
	client := e.newClient(c.Directory, log)
	d, err := e.due(ctx, client, c)
	if err != nil {
		return res, err
	}
	res.Due, res.Reason, res.Detail, res.NextDue = d.due, d.reason, d.detail, d.nextDue
	if d.current != nil {
		res.NotAfter = d.current.NotAfter
	}
	if ro.Force && !d.due {
		res.Due, res.Reason = true, ReasonForced
	}
	if !res.Due {
		return res, nil
	}
	if err := e.held(ctx, &res, state, ro); res.Skipped != "" {
		return res, err
	}
	return e.renew(ctx, client, c, d, state, res, log)
}

// held sets res.Skipped when a due certificate may not be ordered in this
// run: the back-off, the daily limit (both unless forced), a dry run, or
// too little time before the deadline (an error: the run was cut short).
func (e *Engine) held(ctx context.Context, res *Result, state State, ro RunOptions) error {
	now := e.opts.Now()
	switch {
	case !ro.Force && state.Failures > 0 && now.Before(state.NextAttempt):
		res.Skipped, res.NextAttempt = SkipBackoff, state.NextAttempt
		res.Detail = strings.TrimPrefix(res.Detail+fmt.Sprintf("; %d failed attempt(s), the last: %s", state.Failures, state.LastError), "; ")
	case !ro.Force && !state.LastOrder.IsZero() && now.Before(state.LastOrder.Add(OrderInterval)):
		res.Skipped, res.NextAttempt = SkipDailyLimit, state.LastOrder.Add(OrderInterval)
	case ro.DryRun:
		res.Skipped = SkipDryRun
	default:
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < e.opts.MinOrderTime {
			res.Skipped = SkipNotStarted
			return fmt.Errorf("only %s left before the deadline: not starting an order (the next run does it)", time.Until(dl).Round(time.Second))
		}
	}
	return nil
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
