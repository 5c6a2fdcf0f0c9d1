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

// bundleOptions are the bundle options of this invocation: the
// manifest's defaults, the trusted roots and the clock.
func (inv *invocation) bundleOptions() bundle.Options {
	opts := inv.manifest.Defaults.BundleOptions()
	opts.Now, opts.Roots = inv.r.Now, inv.roots
	return opts
}

// split reads a located folder's parts as bundles, once: one folder may
// hold one bundle (certbot, acme.sh, a combined file) or several (lego's
// certificates/). A folder that cannot be read as bundles at all (over
// the size or count limits) is recorded as invalid.
func (inv *invocation) split(ctx context.Context, loc *located) (*bundle.Folder, bool) {
	f, err := bundle.Split(ctx, loc.Sources, inv.bundleOptions())
	if err != nil {
		inv.refuse(loc, err, false)
		return nil, false
	}
	for _, w := range f.Warnings {
		inv.log.Warn("bundle warning", "unit", shortKey(loc.Unit), "warning", w)
	}
	if len(f.Unused) > 0 {
		inv.log.Info("files that form no bundle", "unit", shortKey(loc.Unit), "files", shortKeys(f.Unused))
	}
	return f, true
}

// deployUnit deploys the bundles of a located folder: all of them, or,
// when only is set (an OSS event's objects, a manual re-run of one
// object), those the objects helped form. Every part that formed no bundle because
// it is broken or incomplete is recorded as invalid or waiting; parts that
// are merely unused (a CA certificate no bundle needs yet) are not.
// Objects of only that form nothing and are blamed for nothing (a CA
// certificate no bundle uses yet) are noted as ignored.
func (inv *invocation) deployUnit(ctx context.Context, loc *located, only []string, dryRun, force bool) {
	f, ok := inv.split(ctx, loc)
	if !ok {
		return
	}
	bundles, rejected := f.Bundles, f.Rejected
	if only != nil {
		bundles, rejected = nil, nil
		for _, k := range only {
			bs, rs := f.Of(k)
			if len(bs)+len(rs) == 0 {
				inv.out.Ignored = append(inv.out.Ignored, Skipped{Unit: shortKey(k),
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
		inv.refuse(loc.part(e.Source), e, bundle.IsIncomplete(e))
	}
	for _, b := range bundles {
		objectKey := b.Sources[0]
		for _, k := range only {
			if slices.Contains(b.Sources, k) {
				objectKey = k
				break
			}
		}
		inv.deploy(ctx, loc.of(b), b, objectKey, dryRun, force)
	}
}

// deploy validates, plans, fans out and reports one bundle of a folder.
func (inv *invocation) deploy(ctx context.Context, loc *located, b *bundle.Bundle, objectKey string, dryRun, force bool) {
	p, err := inv.plan(loc, b, objectKey)
	if err != nil {
		return
	}
	hold, lifts := inv.held(ctx, p, loc.Unit, loc.Keys) // pins.go: a rollback in force
	if hold {
		return
	}
	client, ok := inv.apiClient(ctx)
	if !ok {
		return
	}
	inv.log.Info("deploying", "unit", shortKey(loc.Unit), "files", shortKeys(loc.Keys), "certName", p.CertName, "targets", len(p.Calls),
		"notCovered", len(p.NotCovered), "dryRun", dryRun, "lowerBound", p.LowerBound().String())
	rep := Run(ctx, client, p, inv.manifest, shortKeys(loc.Keys), inv.runOptions(dryRun, force))
	rep.Warnings = b.Warnings
	inv.out.Reports = append(inv.out.Reports, rep)
	inv.log.Info("run finished", "unit", shortKey(loc.Unit), "summary", report.SummaryLine(rep))
	inv.lift(ctx, lifts, rep, dryRun)
}

// plan validates a parsed bundle under the manifest's defaults and plans
// its calls; a refusal (waiting for a missing intermediate, or invalid) is
// recorded and returned.
func (inv *invocation) plan(loc *located, b *bundle.Bundle, objectKey string) (*plan.Plan, error) {
	if err := b.Validate(inv.bundleOptions()); err != nil {
		inv.refuse(loc, err, bundle.IsIncomplete(err))
		return nil, err
	}
	for _, w := range b.Warnings {
		inv.log.Warn("bundle warning", "unit", shortKey(loc.Unit), "warning", w)
	}
	p, err := plan.Build(b, inv.manifest, objectKey, products())
	if err != nil {
		inv.refuse(loc, err, false)
		return nil, err
	}
	return p, nil
}

// runOptions are the options of every deployment of this invocation.
func (inv *invocation) runOptions(dryRun, force bool) Options {
	return Options{
		Trigger: inv.out.Trigger, RequestID: inv.req.RequestID, DryRun: dryRun, Force: force,
		StopAt: inv.stopAt, Quotas: inv.r.Config.Quotas, Log: inv.log, Fanout: inv.r.Fanout,
	}
}

// refuse records a bundle that was refused: waiting for its other half
// (incomplete: a key or a leaf alone, a pair of files that do not match
// yet, a missing intermediate), or invalid. Only what is incomplete waits,
// and not longer than Config.WaitLimit after its newest part was written;
// a single object holding a certificate and a key that does not match it
// is complete and invalid (bundle.Split classifies it so).
func (inv *invocation) refuse(loc *located, err error, incomplete bool) {
	s := Skipped{Unit: shortKey(loc.Unit), Keys: shortKeys(loc.Keys)}
	if !incomplete {
		inv.log.Error("bundle invalid", "unit", s.Unit, "error", err.Error())
		s.Reason, s.Error = "invalid bundle", problem(err)
		inv.out.Invalid = append(inv.out.Invalid, s)
		return
	}
	why := err.Error()
	if !loc.Modified.IsZero() {
		since := loc.Modified.UTC()
		s.Since = &since
	}
	if waited := inv.r.now().Sub(loc.Modified); !loc.Modified.IsZero() && waited > inv.r.Config.WaitLimit {
		inv.log.Error("bundle waited too long", "unit", s.Unit, "since", loc.Modified, "reason", why)
		s.Reason = "incomplete for too long"
		s.Error = &report.Error{Code: "WaitTimeout",
			Message: clip(fmt.Sprintf("the bundle is still incomplete %s after its last part was written (%s): %s",
				waited.Round(time.Second), loc.Modified.UTC().Format(time.RFC3339), why)),
			Hint: "upload the missing file, or the key generated with this certificate (CERTDROP_WAIT_LIMIT sets how long a bundle may wait)"}
		inv.out.Invalid = append(inv.out.Invalid, s)
		return
	}
	s.Reason = "incomplete: " + clip(why) + "; the event of the other file completes it"
	inv.log.Info("bundle waiting", "unit", s.Unit, "reason", s.Reason)
	inv.out.Waiting = append(inv.out.Waiting, s)
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
