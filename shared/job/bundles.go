package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/bundle"
	"github.com/certdrop/certdrop/shared/report"
)

// deploy validates, plans, fans out and reports one located bundle.
func (inv *invocation) deploy(ctx context.Context, loc *located, objectKey string, dryRun, force bool) *report.Report {
	d := &Deployment{Sources: loc.Sources, Keys: loc.Keys, ObjectKey: objectKey, Manifest: inv.manifest,
		Roots: inv.roots, Now: inv.r.Now}
	p, warnings, err := d.Prepare()
	if err != nil {
		inv.refuse(loc, err)
		return nil
	}
	for _, w := range warnings {
		inv.log.Warn("bundle warning", "unit", loc.Unit, "warning", w)
	}
	client, ok := inv.apiClient(ctx)
	if !ok {
		return nil
	}
	inv.log.Info("deploying", "unit", loc.Unit, "certName", p.CertName, "targets", len(p.Calls), "notCovered", len(p.NotCovered),
		"dryRun", dryRun, "lowerBound", p.LowerBound().String())
	rep := Run(ctx, client, p, inv.manifest, shortKeys(loc.Keys), inv.runOptions(dryRun, force))
	rep.Warnings = warnings
	inv.out.Reports = append(inv.out.Reports, rep)
	inv.log.Info("run finished", "unit", loc.Unit, "summary", report.SummaryLine(rep))
	return rep
}

// runOptions are the options of every deployment of this invocation.
func (inv *invocation) runOptions(dryRun, force bool) Options {
	return Options{
		Trigger: inv.out.Trigger, RequestID: inv.req.RequestID, DryRun: dryRun, Force: force,
		StopAt: inv.stopAt, Quotas: inv.r.Config.Quotas, Log: inv.log, Fanout: inv.r.Fanout,
	}
}

// refuse records a bundle Prepare refused: waiting for its other half, or
// invalid. Only half a pair waits, and not longer than Config.WaitLimit
// after its newest part was written; a single object holding a
// certificate and a key that does not match it is complete and invalid.
func (inv *invocation) refuse(loc *located, err error) {
	s := Skipped{Unit: shortKey(loc.Unit), Keys: shortKeys(loc.Keys)}
	if !errors.Is(err, ErrWaiting) || selfMismatched(loc, err) {
		inv.log.Error("bundle invalid", "unit", s.Unit, "error", err.Error())
		s.Reason, s.Error = "invalid bundle", problem(err)
		inv.out.Invalid = append(inv.out.Invalid, s)
		return
	}
	why := strings.TrimPrefix(err.Error(), ErrWaiting.Error()+"\n")
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
	s.Reason = "incomplete: " + why + "; the event of the other file completes it"
	inv.log.Info("bundle waiting", "unit", s.Unit, "reason", s.Reason)
	inv.out.Waiting = append(inv.out.Waiting, s)
}

// selfMismatched reports whether a key that matches no certificate came
// from an object that holds certificates itself (a combined file with a
// foreign key, or a bundle of one object): no other upload can complete
// that, so it does not wait.
func selfMismatched(loc *located, err error) bool {
	if !errors.Is(err, bundle.ErrKeyMismatch) {
		return false
	}
	if len(loc.Sources) == 1 {
		return true
	}
	var be *bundle.Error
	if !errors.As(err, &be) {
		return false
	}
	for _, s := range loc.Sources {
		if s.Name == be.Source {
			return bytes.Contains(s.Data, []byte("-----BEGIN CERTIFICATE-----"))
		}
	}
	return false
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
func shortKey(k string) string {
	if len(k) <= MaxEchoedKey {
		return k
	}
	cut := MaxEchoedKey
	for cut > 0 && !utf8RuneStart(k[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", k[:cut], len(k))
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// MaxEchoedMessage is the longest error message put whole in an outcome:
// messages quote keys and event fields, which an event can make long.
const MaxEchoedMessage = 2048

// clip cuts a long message for echoing, saying how long it was.
func clip(msg string) string {
	if len(msg) <= MaxEchoedMessage {
		return msg
	}
	cut := MaxEchoedMessage
	for cut > 0 && !utf8RuneStart(msg[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", msg[:cut], len(msg))
}

func shortKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = shortKey(k)
	}
	return out
}
