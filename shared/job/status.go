package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/status"
	"github.com/certdrop/certdrop/shared/store"
)

// The status page's objects under CERTDROP_STATUS_PREFIX.
const (
	StatusPage = "index.html"
	StatusData = "status.json"
)

// StatusKeys returns the object keys of the status page and its data for
// a configuration: CERTDROP_STATUS_PREFIX's index.html and status.json.
func (c *Config) StatusKeys() (page, data string) {
	p := cmp.Or(c.StatusPrefix, config.DefaultStatusPrefix)
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p + StatusPage, p + StatusData
}

// writeStatus writes the status page and status.json after a run, within
// sched.statusEnd: the previous status.json merged with what this run
// knows (statusUpdate), never by reading reports. A previous status that
// cannot be read leaves it as it is (a page rebuilt without it would lose
// every target this run did not see); a damaged one is replaced. Either
// way, and when the page cannot be written, out.StatusError says so; it
// never fails the invocation.
func (r *Runner) writeStatus(ctx context.Context, creds *credchain.Credentials, u status.Update, opts status.Options, now time.Time) error {
	pageKey, dataKey := r.Config.StatusKeys()
	st, err := r.OpenStore(ctx, r.Config.Bucket, creds)
	if err != nil {
		return err
	}
	if rs, ok := st.(store.Resizer); ok {
		st = rs.WithMaxSize(status.MaxDecodeSize)
	}
	var prev *status.Status
	var damaged error
	obj, err := st.Get(ctx, dataKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("reading the previous %s: %w", dataKey, err)
	default:
		if prev, err = status.Decode(obj.Data); err != nil {
			damaged = err
			prev = nil
		}
	}
	next := status.Merge(prev, u, now, opts)
	data, err := next.JSON()
	if err != nil {
		return err
	}
	page, err := status.HTML(next, status.HTMLOptions{PageKey: pageKey})
	if err != nil {
		return err
	}
	if err := st.Put(ctx, dataKey, data, "application/json"); err != nil {
		return fmt.Errorf("writing %s: %w", dataKey, err)
	}
	if err := st.Put(ctx, pageKey, page, "text/html; charset=utf-8"); err != nil {
		return fmt.Errorf("writing %s: %w", pageKey, err)
	}
	if damaged != nil {
		return fmt.Errorf("the previous %s could not be read and was replaced: %w", dataKey, damaged)
	}
	return nil
}

// statusError is the outcome's error for a status page not written.
func statusError(err error) *report.Error {
	return &report.Error{Code: "StatusNotWritten", Message: clip(err.Error()), Transient: transient(err),
		Hint: storeHint(err, "oss:GetObject and oss:PutObject under CERTDROP_STATUS_PREFIX") + statusHint(err)}
}

func statusHint(err error) string {
	if errors.Is(err, status.ErrDamaged) {
		return "the page now starts from this run's targets; the next runs fill it in"
	}
	return ""
}

// statusUpdate is what a run adds to the status: the run itself and its
// report, every target its reports name with the certificate it carries
// after the run, its outcome and probe, what the timer inspected and
// probed, the manifest's targets when it was read, and the renewals.
func statusUpdate(out *Outcome, now time.Time) (status.Update, status.Options) {
	var u status.Update
	var opts status.Options
	run := &status.Run{ID: out.RequestID, Trigger: out.Trigger, StartedAt: out.started.UTC(), FinishedAt: now.UTC(),
		Outcome: "ok", Summary: runSummary(out)}
	if out.Failed() {
		run.Outcome = "failed"
	}
	if _, key, ok := strings.Cut(strings.TrimPrefix(out.ReportKey, "oss://"), "/"); ok {
		run.ReportKey = key
	}
	if run.StartedAt.IsZero() {
		run.StartedAt = now.UTC()
	}
	u.Run = run
	for _, rep := range out.Reports {
		if rep.DryRun {
			continue
		}
		for _, t := range rep.Targets {
			u.Targets = append(u.Targets, observation(rep, t))
		}
	}
	if rs := out.run; rs != nil {
		rs.mu.Lock()
		u.Targets = append(u.Targets, rs.seen...)
		m := rs.manifest
		rs.mu.Unlock()
		if m != nil {
			u.Manifest = manifestRefs(m)
			opts.ExpiringDays = m.Defaults.WarnDays
		}
	}
	for _, rn := range out.Renewals {
		sr := status.Renewal{Name: rn.Name, Names: rn.Domains, NotAfter: rn.NotAfter, NextDue: rn.NextDue, NextAttempt: rn.NextAttempt}
		switch {
		case rn.Error != nil:
			sr.LastError = rn.Error.Code + ": " + rn.Error.Message
		case rn.stalled():
			sr.LastError = "backing off after failures: " + rn.Detail
		}
		if rn.Renewed {
			sr.LastSuccess = now.UTC()
		}
		u.Renewals = append(u.Renewals, sr)
	}
	return u, opts
}

// observation is what a report says of one target.
func observation(rep *report.Report, t report.Target) status.Observation {
	ob := status.Observation{Account: t.Account, Product: string(t.Product), Address: t.Domain, Bucket: t.Bucket, Outcome: string(t.State),
		Probe: statusProbe(t.Probe)}
	if t.Error != nil {
		ob.Error = t.Error.Code + ": " + t.Error.Message
	}
	switch {
	case t.State == fanout.Deployed || t.State == fanout.Unchanged:
		ob.Cert = &status.Cert{Name: cmp.Or(rep.Bundle.Subject, rep.Bundle.CertName), Issuer: rep.Bundle.Issuer,
			NotAfter: rep.Bundle.NotAfter, Fingerprint: rep.Bundle.Fingerprint}
	case t.Previous != nil && t.Previous.CertName != "":
		ob.Cert = &status.Cert{Name: t.Previous.CertName, Fingerprint: t.Previous.Fingerprint}
		if t.Previous.NotAfter != nil {
			ob.Cert.NotAfter = *t.Previous.NotAfter
		}
	}
	return ob
}

// manifestRefs are the manifest's targets as the status names them.
func manifestRefs(m *manifest.Manifest) []status.Ref {
	refs := make([]status.Ref, 0, len(m.Targets))
	for _, t := range m.Targets {
		c, err := plan.TargetCall(products(), t)
		if err != nil {
			continue
		}
		ref := status.Ref{Account: t.Account, Product: string(t.Product), Address: c.DomainName, Bucket: t.Field("bucket")}
		if name, ok := t.ProbeAt(); ok && name != strings.ToLower(c.DomainName) {
			ref.Names = []string{name}
		}
		refs = append(refs, ref)
	}
	return refs
}

// runSummary counts an outcome's targets by state: "3 deployed, 1 failed".
func runSummary(out *Outcome) string {
	n := map[fanout.State]int{}
	var order []fanout.State
	for _, rep := range out.Reports {
		for _, t := range rep.Targets {
			if n[t.State] == 0 {
				order = append(order, t.State)
			}
			n[t.State]++
		}
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
	}
	if k := len(out.Renewals); k > 0 {
		parts = append(parts, fmt.Sprintf("%d renewal(s)", k))
	}
	if k := len(out.Invalid); k > 0 {
		parts = append(parts, fmt.Sprintf("%d invalid bundle(s)", k))
	}
	if k := len(out.Edges); k > 0 {
		parts = append(parts, fmt.Sprintf("%d edge problem(s)", k))
	}
	if out.Error != nil {
		parts = append(parts, out.Error.Code)
	}
	if len(parts) == 0 {
		return "nothing to do"
	}
	return strings.Join(parts, ", ")
}
