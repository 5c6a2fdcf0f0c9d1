package job

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/certdrop/certdrop/shared/alert"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/fcruntime"
	"github.com/certdrop/certdrop/shared/report"
)

// alertStateTimeout bounds reading, and writing, the alert state: a small
// object in the function's own region.
const alertStateTimeout = time.Second

// alerts is the alert state's part of one invocation's posting: what
// the destinations that hear of failures only are told, decided against
// the state in the bucket (package alert), and how to remember it.
type alerts struct {
	decision alert.Decision
	// save writes the state (nil: no bucket, nothing remembered).
	save func(ctx context.Context, s alert.State) error
}

// decideAlerts reads the alert state, decides what each failure-only
// destination hears of this outcome, and returns one post per
// destination with something to say. A state that cannot be read is
// said in the messages (problems already told are told again).
func (r *Runner) decideAlerts(ctx context.Context, fc *fcruntime.Invocation, out *Outcome, hooks []report.Webhook) (*alerts, []post) {
	if len(hooks) == 0 {
		return nil, nil
	}
	obs := observe(out, fc.RetryCount)
	a := &alerts{}
	prev := alert.State{Version: 1}
	if bucket := r.Config.Bucket; bucket != "" {
		rctx, cancel := context.WithTimeout(ctx, alertStateTimeout)
		st, err := r.OpenStore(rctx, bucket, credentialsOf(fc))
		if err == nil {
			prev, err = alert.Load(rctx, st)
			a.save = func(ctx context.Context, s alert.State) error { return alert.Save(ctx, st, s) }
		}
		cancel()
		if err != nil {
			fc.Log.Warn("alert state not read: problems already told are told again", "error", err.Error())
			obs.Notes = append(obs.Notes, "the alert state could not be read ("+clip(err.Error())+
				"): problems already told are told again; "+storeHint(err, "oss:GetObject and oss:PutObject on "+alert.StateKey))
		}
	}
	names := make([]string, len(hooks))
	for i, w := range hooks {
		names[i] = w.Name
	}
	a.decision = alert.Decide(prev, obs, names, r.now())
	c := alert.Context{Trigger: out.Trigger, RequestID: out.RequestID, ReportKey: out.ReportKey, Link: r.Config.StatusURL}
	var posts []post
	for _, s := range a.decision.Sends {
		for _, w := range hooks {
			if w.Name == s.Dest {
				n := s.Message(c)
				posts = append(posts, post{dest: s.Dest, send: func(ctx context.Context) (bool, error) { return w.Post(ctx, n) }})
			}
		}
	}
	return a, posts
}

// commit remembers what was told: a destination whose message was not
// delivered is told again by the next invocation. A state that cannot be
// written is returned (the next invocation repeats what this one said).
func (a *alerts) commit(ctx context.Context, undelivered []string) error {
	for _, d := range undelivered {
		a.decision.Undelivered(d)
	}
	if a.save == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, alertStateTimeout)
	defer cancel()
	return a.save(ctx, a.decision.Next)
}

// post is one message to one destination.
type post struct {
	dest string
	send func(context.Context) (bool, error)
}

// observe turns an outcome into what the alerts decide on: its problems
// (failed targets, expiring targets, refused bundles, a run that could
// not start, a report not written, failed or stalled renewals, DNS
// records left behind, pin and prune problems, what the TLS probes found
// on the edges, a status page not written), what it found well, and
// the events people hear of every time (a rollback, a pin written,
// lifted or released).
func observe(out *Outcome, retry int) alert.Observation {
	var o alert.Observation
	add := func(kind, subject, code, detail, hint string) {
		o.Problems = append(o.Problems, alert.Problem{Kind: kind, Subject: subject, Code: code, Detail: detail, Hint: hint})
	}
	well := func(kind, subject string) { o.Clear = append(o.Clear, alert.Thing(kind, subject)) }
	// A run's subject is its trigger (none for an event not understood,
	// which no later run clears: it is forgotten after alert.ForgetAfter).
	run := out.Trigger
	switch e := out.Error; {
	case e == nil:
		if run != "" {
			well(alert.KindRun, run)
		}
	case out.Busy() && retry == 0:
		// Function Compute retries it; a retry held back too is said.
	default:
		add(alert.KindRun, run, e.Code, e.Message, e.Hint)
	}
	if e := out.ReportError; e != nil {
		add(alert.KindReport, "", e.Code, e.Message, e.Hint)
	} else if out.ReportKey != "" {
		well(alert.KindReport, "")
	}
	expiring := map[string]bool{}
	for _, e := range out.Expiring {
		subject := e.Product + " " + e.Domain
		expiring[subject] = true
		hint := "no newer bundle in the bucket: upload a renewed certificate, or let the renewal obtain one"
		if e.Pinned != "" {
			hint = "pinned by a rollback (" + e.Pinned + "): release it (certdrop rollback --release " + e.CertName +
				") or upload a certificate issued after the rollback"
		}
		add(alert.KindExpiring, subject, "Expiring", fmt.Sprintf("%s expires %s (%d day(s) left)", e.CertName, e.NotAfter, e.DaysLeft), hint)
	}
	for _, rep := range out.Reports {
		if rep.Mode != "" {
			o.Notes = append(o.Notes, fmt.Sprintf("%s to %s: %s", rep.Mode, rep.Bundle.CertName, report.SummaryLine(rep)))
		}
		for _, k := range rep.Bundle.Keys {
			well(alert.KindBundle, k)
			well(alert.KindBundle, path.Dir(k)+"/")
		}
		for _, t := range rep.Targets {
			// The account leads the subject: a message lists each
			// account's targets together.
			subject := t.Name()
			if t.Bucket != "" {
				subject += " (" + t.Bucket + ")"
			}
			switch {
			case t.State == fanout.SkippedNewer:
				add(alert.KindTarget, subject, string(t.State), t.Note,
					"the domain carries a certificate newer than the bundle: upload the newer one to the bucket, or deploy this one on purpose")
			case !t.State.OK():
				code, detail, hint := string(t.State), "", ""
				if e := t.Error; e != nil {
					code, detail, hint = e.Code, e.Message, e.Hint
				}
				add(alert.KindTarget, subject, code, detail, hint)
			case t.State == fanout.Deployed || t.State == fanout.Unchanged:
				well(alert.KindTarget, subject)
				// A new certificate, or (a timer's reconcile, which
				// judges every target's expiry) one not expiring.
				if t.State == fanout.Deployed || (out.Trigger == report.TriggerTimer && !expiring[subject]) {
					well(alert.KindExpiring, subject)
				}
			}
		}
	}
	for _, s := range out.Invalid {
		code, detail, hint := "Invalid", s.Reason, ""
		if e := s.Error; e != nil {
			code, detail, hint = e.Code, s.Reason+": "+e.Message, e.Hint
		}
		add(alert.KindBundle, s.Unit, code, detail, hint)
	}
	for _, r := range out.Renewals {
		switch {
		case r.Error != nil:
			add(alert.KindRenewal, r.Name, r.Error.Code, "("+r.Reason+") "+r.Error.Message, r.Error.Hint)
		case r.stalled():
			add(alert.KindRenewal, r.Name, "BackingOff",
				fmt.Sprintf("due (%s) and not renewed: backing off after failures until %s (%s)", r.Reason, r.NextAttempt.UTC().Format(time.RFC3339), r.Detail),
				"the next timer run tries again when the back-off allows")
		default:
			well(alert.KindRenewal, r.Name)
		}
		for _, rec := range r.LeftBehind {
			add(alert.KindRecord, rec, "LeftBehind", "left by the renewal of "+r.Name, "delete it by hand")
		}
	}
	for _, p := range out.Pins {
		switch p.State {
		case PinHeld:
			add(alert.KindHeld, p.Unit, "HeldByRollback", fmt.Sprintf("%s, rolled back to %s: %s", p.BundleCertName, p.CertName, p.Message), p.Hint)
		case PinProblem:
			code := "PinProblem"
			if p.Error != nil {
				code = p.Error.Code
			}
			add(alert.KindPin, p.Key, code, p.Message, p.Hint)
		default:
			if p.State == PinLifted {
				well(alert.KindHeld, p.Unit)
			}
			l := fmt.Sprintf("rollback pin %s (%s): %s", p.State, p.CertName, p.Message)
			if p.Unit != "" {
				l = fmt.Sprintf("rollback pin %s: %s (%s): %s", p.State, p.Unit, p.BundleCertName, p.Message)
			}
			o.Notes = append(o.Notes, l)
		}
	}
	observeEdges(out, add, well)
	if p := out.Prune; p != nil {
		for _, f := range p.Failed {
			code, msg, hint := "NotDeleted", "", ""
			if f.Error != nil {
				code, msg, hint = f.Error.Code, f.Error.Message, f.Error.Hint
			}
			add(alert.KindPrune, fmt.Sprintf("%s (%s)", f.Name, f.Where()), code, "not deleted: "+msg, hint)
		}
		for _, e := range p.Problems {
			add(alert.KindPrune, "prune", e.Code, e.Message, e.Hint)
		}
	}
	return o
}
