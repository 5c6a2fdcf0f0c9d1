package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
)

// bundleOptions are the bundle options of this run: the manifest's
// defaults, the trusted roots and the clock.
func (s *session) bundleOptions() bundle.Options {
	opts := s.manifest.Defaults.BundleOptions()
	opts.Now, opts.Roots = s.r.Now, s.roots
	return opts
}

// split reads a located folder's parts as bundles, once: one folder may
// hold one bundle (certbot, acme.sh, a combined file) or several (lego's
// certificates/). A folder that cannot be read as bundles at all (over
// the size or count limits) is refused: nil and the refusal.
func (s *session) split(ctx context.Context, loc *located) (*bundle.Folder, Result) {
	f, err := bundle.Split(ctx, loc.Sources, s.bundleOptions())
	if err != nil {
		return nil, s.refuse(loc, err, false)
	}
	for _, w := range f.Warnings {
		s.log.Warn("bundle warning", "unit", shortKey(loc.Unit), "warning", w)
	}
	if len(f.Unused) > 0 {
		s.log.Info("files that form no bundle", "unit", shortKey(loc.Unit), "files", shortKeys(f.Unused))
	}
	return f, Result{}
}

// deployUnit deploys the bundles of a located folder: all of them, or,
// when only is set (an OSS event's objects, a manual re-run of one
// object), those the objects helped form. Every part that formed no
// bundle because it is broken or incomplete is invalid or waiting; parts
// that are merely unused (a CA certificate no bundle needs yet) are not.
// Objects of only that form nothing and are blamed for nothing (a CA
// certificate no bundle uses yet) are ignored. Its error is the run's
// failure (no API client); the other bundles are still judged.
func (s *session) deployUnit(ctx context.Context, loc *located, only []string) (Result, error) {
	f, res := s.split(ctx, loc)
	if f == nil {
		return res, nil
	}
	bundles, rejected := f.Bundles, f.Rejected
	if only != nil {
		bundles, rejected = nil, nil
		for _, k := range only {
			bs, rs := f.Of(k)
			if len(bs)+len(rs) == 0 {
				res.Ignored = append(res.Ignored, Skipped{Unit: shortKey(k),
					Reason: "forms no bundle: a CA certificate no bundle here uses, or a file without certificate or key"})
			}
			for _, b := range bs {
				if !slices.Contains(bundles, b) {
					bundles = append(bundles, b)
				}
			}
			for _, r := range rs {
				if !slices.Contains(rejected, r) {
					rejected = append(rejected, r)
				}
			}
		}
	}
	for _, e := range rejected {
		res.add(s.refuse(loc.part(e.Source), e, bundle.IsIncomplete(e)))
	}
	var failed error
	for _, b := range bundles {
		objectKey := b.Sources[0]
		for _, k := range only {
			if slices.Contains(b.Sources, k) {
				objectKey = k
				break
			}
		}
		r, err := s.deploy(ctx, loc.of(b), b, objectKey)
		res.add(r)
		failed = firstErr(failed, err)
	}
	return res, failed
}

// deploy validates, plans, fans out and reports one bundle of a folder,
// unless a rollback's pin holds it back; a bundle issued after the pin
// lifts it once deployed. Its error is the run's failure (no API client).
func (s *session) deploy(ctx context.Context, loc *located, b *bundle.Bundle, objectKey string) (Result, error) {
	p, res := s.plan(loc, b, objectKey)
	if p == nil {
		return res, nil
	}
	hold, lifts, notes := s.pins.held(ctx, p, loc.Unit, loc.Keys)
	res.add(notes)
	if hold {
		return res, nil
	}
	client, err := s.apiClient(ctx)
	if err != nil {
		return res, err
	}
	s.log.Info("deploying", "unit", shortKey(loc.Unit), "files", shortKeys(loc.Keys), "certName", p.CertName, "targets", len(p.Calls),
		"notCovered", len(p.NotCovered), "dryRun", s.opts.DryRun, "lowerBound", p.LowerBound().String())
	rep := Run(ctx, client, p, s.manifest, shortKeys(loc.Keys), s.opts)
	rep.Warnings = b.Warnings
	res.Reports = append(res.Reports, rep)
	s.log.Info("run finished", "unit", shortKey(loc.Unit), "summary", report.SummaryLine(rep))
	s.probeDeployed(ctx, p, rep)
	res.add(s.pins.lift(ctx, lifts, rep, s.opts.DryRun))
	return res, nil
}

// plan validates a parsed bundle under the manifest's defaults and plans
// its calls; a refusal (waiting for a missing intermediate, or invalid)
// is a nil plan and the refusal.
func (s *session) plan(loc *located, b *bundle.Bundle, objectKey string) (*plan.Plan, Result) {
	if err := b.Validate(s.bundleOptions()); err != nil {
		return nil, s.refuse(loc, err, bundle.IsIncomplete(err))
	}
	for _, w := range b.Warnings {
		s.log.Warn("bundle warning", "unit", shortKey(loc.Unit), "warning", w)
	}
	p, err := plan.Build(b, s.manifest, objectKey, products())
	if err != nil {
		return nil, s.refuse(loc, err, false)
	}
	return p, Result{}
}

// refuse says a bundle was refused: waiting for its other half
// (incomplete: a key or a leaf alone, a pair of files that do not match
// yet, a missing intermediate), or invalid. Only what is incomplete waits,
// and not longer than Config.WaitLimit after its newest part was written;
// a single object holding a certificate and a key that does not match it
// is complete and invalid (bundle.Split classifies it so).
func (s *session) refuse(loc *located, err error, incomplete bool) Result {
	sk := Skipped{Unit: shortKey(loc.Unit), Keys: shortKeys(loc.Keys)}
	if !incomplete {
		s.log.Error("bundle invalid", "unit", sk.Unit, "error", err.Error())
		sk.Reason, sk.Error = "invalid bundle", problem(err)
		return Result{Invalid: []Skipped{sk}}
	}
	why := err.Error()
	if !loc.Modified.IsZero() {
		since := loc.Modified.UTC()
		sk.Since = &since
	}
	if waited := s.r.now().Sub(loc.Modified); !loc.Modified.IsZero() && waited > s.r.Config.WaitLimit {
		s.log.Error("bundle waited too long", "unit", sk.Unit, "since", loc.Modified, "reason", why)
		sk.Reason = "incomplete for too long"
		sk.Error = &report.Error{Code: "WaitTimeout",
			Message: clip(fmt.Sprintf("the bundle is still incomplete %s after its last part was written (%s): %s",
				waited.Round(time.Second), loc.Modified.UTC().Format(time.RFC3339), why)),
			Hint: "upload the missing file, or the key generated with this certificate (CERTDROP_WAIT_LIMIT sets how long a bundle may wait)"}
		return Result{Invalid: []Skipped{sk}}
	}
	sk.Reason = "incomplete: " + clip(why) + "; the event of the other file completes it"
	s.log.Info("bundle waiting", "unit", sk.Unit, "reason", sk.Reason)
	return Result{Waiting: []Skipped{sk}}
}

// problem renders an error for the outcome, keeping a bundle error's hint.
func problem(err error) *report.Error {
	var be *bundle.Error
	if errors.As(err, &be) {
		msg := *be
		msg.Hint = ""
		return &report.Error{Code: "InvalidBundle", Message: clip(msg.Error()), Hint: be.Hint}
	}
	return &report.Error{Code: "InvalidBundle", Message: clip(err.Error())}
}

// MaxEchoedKey is the longest object key echoed whole in responses and
// reports; a longer one is cut (OSS keys run to 1023 bytes).
const MaxEchoedKey = 256

// shortKey cuts a long key for echoing, saying how long it was.
func shortKey(k string) string { return cut(k, MaxEchoedKey) }

// MaxEchoedMessage is the longest error message put whole in an outcome:
// messages quote keys and event fields, which an event can make long.
const MaxEchoedMessage = 2048

// clip cuts a long message for echoing, saying how long it was.
func clip(msg string) string { return cut(msg, MaxEchoedMessage) }

// cut keeps the first n bytes of s (on a rune boundary) and says how long
// s was; s is returned whole when it is not longer than n.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	at := n
	for at > 0 && !utf8.RuneStart(s[at]) {
		at--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:at], len(s))
}

func shortKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = shortKey(k)
	}
	return out
}
