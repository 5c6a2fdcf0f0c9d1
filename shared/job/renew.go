package job

import (
	"cmp"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/dnsprovider/alidns"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/renew"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// Renewal is what a run did about one certificate of the
// manifest's certificates section: renewed (why, the new expiry, where
// the bundle was written), not due, due but skipped (why, and when the
// next attempt is), or failed. It holds no key material: Key is the
// bundle's object key.
type Renewal struct {
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	// Due, Reason and Detail say whether and why the certificate needed
	// renewing (Reason is one of shared/renew's Reason* values).
	Due    bool   `json:"due"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
	// NextDue is, for a certificate not due, when it becomes due.
	NextDue time.Time `json:"nextDue,omitzero"`
	// Renewed reports a new certificate written to Key
	// (<CERTDROP_TRIGGER_PREFIX><name>/bundle.pem).
	Renewed bool   `json:"renewed"`
	Key     string `json:"key,omitempty"`
	// NotAfter is the new certificate's expiry when Renewed, else the
	// current one's (zero when there is none).
	NotAfter time.Time `json:"notAfter,omitzero"`
	Serial   string    `json:"serial,omitempty"`
	// Skipped says why a due certificate was not renewed (backoff,
	// daily_limit, dry_run, not_started, rate_limited).
	Skipped string `json:"skipped,omitempty"`
	// NextAttempt is the earliest the next order is made, unless forced.
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	// LeftBehind are DNS records that could not be removed: a person must
	// delete them.
	LeftBehind []string `json:"leftBehind,omitempty"`
	// Error is the failure, redacted. Its Transient flag says whether it
	// may pass by itself; a renewal failure never makes Function Compute
	// retry the invocation (see Outcome.Retry).
	Error      *report.Error `json:"error,omitempty"`
	DurationMs int64         `json:"durationMs"`
}

// Failed reports whether the renewal needs attention: an error, or a
// record left behind.
func (r Renewal) Failed() bool { return r.Error != nil || len(r.LeftBehind) > 0 }

// stalled reports whether a due certificate is waiting out the back-off
// after failures (renew.Result.Stalled: `certdrop renew` exits 1 for
// it too).
func (r Renewal) stalled() bool {
	return renew.Result{Due: r.Due, Renewed: r.Renewed, Skipped: r.Skipped}.Stalled()
}

// renewDue is the timer's first step: it renews every certificate of the
// manifest that is due (none when the manifest has no certificates
// section), writing each to <CERTDROP_TRIGGER_PREFIX><name>/bundle.pem,
// within the run's deadline minus the safety margin. The reconcile that
// follows in the same run deploys what it wrote.
func (s *session) renewDue(ctx context.Context, st store.Store) (Result, error) {
	if len(s.manifest.Certificates) == 0 {
		return Result{}, nil
	}
	_, res, err := s.renew(ctx, st, renew.RunOptions{DryRun: s.opts.DryRun})
	return res, err
}

// HandleRenew handles the manual renewal: the named certificate is renewed
// (whether due or not when forced) and, when a new bundle was written,
// deployed in the same run, as the OSS trigger would deploy it (neither a
// dry run nor forced: the event's force and dryRun are the renewal's). A
// name the manifest does not know is refused before any call.
func (r *Runner) HandleRenew(ctx context.Context, ev *event.RenewEvent) (Result, error) {
	s := r.session(ctx, report.TriggerManual, false, false)
	st, err := s.begin(ctx)
	if err != nil {
		return Result{}, err
	}
	certs := s.manifest.Certificates
	i := slices.IndexFunc(certs, func(c manifest.Certificate) bool { return strings.EqualFold(c.Name, ev.Certificate) })
	if i < 0 {
		names := make([]string, 0, len(certs))
		for _, c := range certs {
			names = append(names, c.Name)
		}
		known := "the manifest has no certificates section"
		if len(names) > 0 {
			known = "the manifest's certificates are " + strings.Join(names, ", ")
		}
		return Result{}, fail("UnknownCertificate", fmt.Sprintf("no certificate named %q in the manifest; %s", shortKey(ev.Certificate), known),
			`name one of the manifest's certificates ({"mode":"renew","certificate":"<name>"}), or add it to the certificates section`)
	}
	done, res, failed := s.renew(ctx, st, renew.RunOptions{Names: []string{certs[i].Name}, Force: ev.Force, DryRun: ev.DryRun})
	for _, rr := range done {
		if !rr.Renewed || rr.Key == "" {
			continue
		}
		dep, err := s.deployKey(ctx, st, rr.Key, rr.Key)
		res.add(dep)
		failed = firstErr(failed, err)
	}
	return res, failed
}

// renew runs the renewal engine on the run's bucket: the engine's
// results, and a Renewal per certificate. A renewal that cannot be set up
// (the ACME roots unreadable, a state prefix under the watched prefix)
// is failed for every certificate it concerns; the reconcile goes on.
// Its error is the run's failure (a name the manifest does not know).
func (s *session) renew(ctx context.Context, st store.Store, ro renew.RunOptions) ([]renew.Result, Result, error) {
	var res Result
	certs := s.manifest.Certificates
	eng, err := s.engine(ctx, st)
	if err != nil {
		for _, c := range certs {
			if len(ro.Names) > 0 && !slices.Contains(ro.Names, c.Name) {
				continue
			}
			res.Renewals = append(res.Renewals, Renewal{Name: c.Name, Domains: c.Domains, Reason: renew.ReasonNotDue,
				Error: &report.Error{Code: "RenewalSetup", Message: clip(err.Error()), Hint: renewHint(err), Transient: transient(err)}})
		}
		s.log.Error("renewal cannot start", "error", err.Error())
		return nil, res, nil
	}
	if !s.stopAt.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, s.renewStop())
		defer cancel()
	}
	done, err := eng.Run(ctx, certs, ro)
	if err != nil { // an unknown name: HandleRenew checked it
		return nil, res, fail("UnknownCertificate", err.Error(), "")
	}
	for _, r := range done {
		res.Renewals = append(res.Renewals, renewal(r))
		if r.Renewed && r.Serial != "" && !ro.DryRun {
			if s.pins.renewed == nil {
				s.pins.renewed = map[string]bool{}
			}
			s.pins.renewed[strings.ToLower(r.Serial)] = true
		}
	}
	return done, res, nil
}

// renewStop is when the renewal stops: the stop point, or earlier so that
// what it does after its stop on a context of its own (removing the
// challenge records, writing the issued bundle and its state, each within
// the cleanup timeout) ends before the calls' end.
func (s *session) renewStop() time.Time {
	return minTime(s.stopAt, s.sched.callsEnd.Add(-3*s.renewCleanup))
}

// minTime is the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// engine builds the renewal engine for this run (NewRenewEngine): the
// bucket's store, CERTDROP_TRIGGER_PREFIX, the DNS providers (alidns
// signing with the request's credentials, like the fan-out's client), the
// resolvers and ACME roots of the configuration.
func (s *session) engine(ctx context.Context, st store.Store) (*renew.Engine, error) {
	cfg := s.r.Config
	var opts renew.Options
	if s.r.Renew != nil {
		opts = *s.r.Renew
	}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	opts.Store, opts.Prefix, opts.Getenv, opts.Logger = st, cfg.TriggerPrefix, getenv, s.log
	if cfg.RenewConcurrency > 0 {
		opts.Concurrency = cfg.RenewConcurrency
	}
	if opts.Now == nil {
		opts.Now = s.r.Now
	}
	// The records of an order cut by the deadline are removed, and the
	// issued bundle and the renewal's state written, after it, each
	// within CleanupTimeout: renewStop leaves them that time before the
	// calls' end.
	if opts.CleanupTimeout == 0 && !s.sched.callsEnd.IsZero() {
		opts.CleanupTimeout = min(renew.DefaultCleanupTimeout, max(time.Until(s.sched.callsEnd)/8, time.Second))
	}
	s.renewCleanup = cmp.Or(opts.CleanupTimeout, renew.DefaultCleanupTimeout)
	return NewRenewEngine(ctx, RenewSetup{Options: opts, Resolvers: cfg.Resolvers, TrustRoots: cfg.ACMETrustRoots, Load: s.load,
		DNS: func(ctx context.Context) (alidns.Caller, error) {
			c, err := s.r.NewClient(ctx, s.req.Credentials)
			if err != nil {
				return nil, err
			}
			ac, ok := c.(alidns.Caller)
			if !ok {
				return nil, fmt.Errorf("the API client (%T) cannot call Alibaba Cloud DNS", c)
			}
			return ac, nil
		}})
}

// RenewSetup is what a renewal engine is built from, in the function and
// on the command line alike.
type RenewSetup struct {
	// Options is the base: the store, prefix, getenv, logger, clock and
	// cleanup timeout as the caller sets them.
	Options renew.Options
	// Resolvers (CERTDROP_DNS_RESOLVERS), when set, replace Options'.
	Resolvers []string
	// TrustRoots is CERTDROP_ACME_TRUST_ROOTS, oss:// or a path, read
	// with Load: roots trusted for the ACME server's TLS certificate, added
	// to Options'.
	TrustRoots string
	Load       func(ctx context.Context, location string) ([]byte, error)
	// DNS builds the API client the alidns DNS provider signs with; it is
	// called once, when the provider first needs it.
	DNS func(ctx context.Context) (alidns.Caller, error)
}

// NewRenewEngine builds the renewal engine: the function's renewals and
// `certdrop renew` run the engine it builds.
func NewRenewEngine(ctx context.Context, rs RenewSetup) (*renew.Engine, error) {
	opts := rs.Options
	if len(rs.Resolvers) > 0 {
		opts.Resolvers = rs.Resolvers
	}
	if loc := rs.TrustRoots; loc != "" {
		data, err := rs.Load(ctx, loc)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", renew.EnvTrustRoots, loc, err)
		}
		roots, err := bundle.ParseRoots(loc, data)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", renew.EnvTrustRoots, loc, err)
		}
		opts.Roots = append(append([]*x509.Certificate(nil), opts.Roots...), roots...)
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var mu sync.Mutex
	var caller alidns.Caller
	opts.Providers = renew.NewProviders(getenv, func(ctx context.Context) (alidns.Caller, error) {
		mu.Lock()
		defer mu.Unlock()
		if caller != nil {
			return caller, nil
		}
		ac, err := rs.DNS(ctx)
		if err != nil {
			return nil, err
		}
		caller = ac
		return ac, nil
	})
	return renew.New(opts)
}

// renewal turns an engine result into the outcome's form.
func renewal(r renew.Result) Renewal {
	out := Renewal{Name: r.Name, Domains: r.Domains, Due: r.Due, Reason: r.Reason, Detail: clip(r.Detail), NextDue: r.NextDue, Renewed: r.Renewed,
		Key: r.Key, NotAfter: r.NotAfter, Serial: r.Serial, Skipped: r.Skipped, NextAttempt: r.NextAttempt,
		LeftBehind: r.LeftBehind, DurationMs: r.DurationMs}
	if e := r.Error; e != nil {
		out.Error = &report.Error{Code: e.Code, Message: clip(e.Message), Hint: e.Hint, Transient: e.Transient}
	}
	return out
}

// renewHint says what to do about a renewal that could not be set up.
func renewHint(err error) string {
	if h := storeHint(err, "oss:GetObject on CERTDROP_ACME_TRUST_ROOTS"); h != "" {
		return h
	}
	return "check CERTDROP_ACME_TRUST_ROOTS and CERTDROP_TRIGGER_PREFIX (the state under certdrop/acme/ may not lie under it)"
}

// renewalNotice adds an outcome's renewals to a webhook notice: what
// failed, records left behind and certificates held back by the back-off
// are alerts; what was renewed is listed.
func renewalNotice(out *Outcome, n *report.Notice) (what []string) {
	failed, left, stalled := 0, 0, 0
	for _, r := range out.Renewals {
		switch {
		case r.Error != nil:
			failed++
			l := fmt.Sprintf("renewal of %s failed (%s): %s: %s%s", r.Name, r.Reason, r.Error.Code, r.Error.Message, hintOf(r.Error))
			n.Lines = append(n.Lines, l)
		case r.stalled():
			stalled++
			n.Lines = append(n.Lines, fmt.Sprintf("%s is due (%s) and not renewed: backing off after failures until %s (%s)",
				r.Name, r.Reason, r.NextAttempt.UTC().Format(time.RFC3339), r.Detail))
		case r.Renewed:
			n.Lines = append(n.Lines, fmt.Sprintf("renewed %s (%s), expires %s, written to %s", r.Name, r.Reason,
				r.NotAfter.UTC().Format(time.RFC3339), r.Key))
		}
		for _, rec := range r.LeftBehind {
			left++
			n.Lines = append(n.Lines, fmt.Sprintf("DNS record %s (for %s) could not be removed: delete it by hand", rec, r.Name))
		}
	}
	if failed > 0 {
		what = append(what, fmt.Sprintf("%d renewal(s) failed", failed))
	}
	if left > 0 {
		what = append(what, fmt.Sprintf("%d DNS record(s) left behind", left))
	}
	if stalled > 0 {
		what = append(what, fmt.Sprintf("%d certificate(s) due and backing off", stalled))
	}
	return what
}

// writeRenewals prints an outcome's renewals for a person, one line per
// certificate.
func writeRenewals(w io.Writer, o *Outcome) {
	if len(o.Renewals) == 0 {
		return
	}
	fmt.Fprintln(w, "\nrenewals:")
	for _, r := range o.Renewals {
		line := renew.Result{Reason: r.Reason, Detail: r.Detail, Renewed: r.Renewed, Key: r.Key, NotAfter: r.NotAfter,
			Skipped: r.Skipped, NextAttempt: r.NextAttempt}
		if r.Error != nil {
			line.Error = &renew.Error{Code: r.Error.Code, Message: r.Error.Message}
		}
		fmt.Fprintf(w, "  %s: %s\n", r.Name, line.Line())
		if r.Error != nil && r.Error.Hint != "" {
			fmt.Fprintf(w, "    what to do: %s\n", r.Error.Hint)
		}
		for _, l := range r.LeftBehind {
			fmt.Fprintf(w, "    DNS record %s could not be removed: delete it by hand\n", l)
		}
	}
}
