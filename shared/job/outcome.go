package job

import (
	"time"

	"github.com/certdrop/certdrop/shared/hub"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/report"
)

// Outcome is the answer to one invocation: the report of every bundle it
// deployed, and every bundle it could not. It is the invocation's response
// body and the document written under the report prefix.
type Outcome struct {
	RequestID string `json:"requestId"`
	Trigger   string `json:"trigger"`
	// Status sums the outcome up: "busy" (waited for another invocation
	// until its stop point: retried, nothing started), "failed" (Failed), else "expiring" (a
	// target's certificate, or the one its edge serves, runs out soon with
	// nothing newer), else "drift" (an edge serves a certificate certdrop
	// did not set), else
	// "waiting" (a bundle waits for its other half), else "pinned" (a
	// bundle was held back by a rollback's pin, or a pin could not be
	// read), else "ok".
	Status string `json:"status,omitempty"`
	// Bucket is CERTDROP_BUCKET, the bucket the function works on; the
	// outcome is written there. Never taken from the event.
	Bucket string `json:"bucket,omitempty"`
	// Result is what the event's handler did: renewals, reports, bundles
	// waiting, refused or ignored, expiring targets, pins, the prune.
	Result
	// Error says why the run could not start (bad event, configuration,
	// manifest, credentials); nothing was called.
	Error *report.Error `json:"error,omitempty"`
	// ReportKey is where this document was written in the bucket.
	ReportKey string `json:"reportKey,omitempty"`
	// ReportError says why the document could not be written (in the
	// response and the webhook only, naturally). It fails the invocation.
	ReportError *report.Error `json:"reportError,omitempty"`
	// AlertError says how many webhook messages could not be delivered
	// (no answer, an answer other than 2xx after a second try, or the
	// deadline near), and the last cause. The report is written again to
	// carry it. It does not fail the invocation: a retry would deploy
	// nothing new and post again to the same endpoint.
	AlertError *report.Error `json:"alertError,omitempty"`
	// StatusError says why the status page (CERTDROP_STATUS_PREFIX) could
	// not be written, or was written without the previous status. It does
	// not fail the invocation: the report holds everything.
	StatusError *report.Error `json:"statusError,omitempty"`

	// run is what the run learned beside its result, for the status page.
	run *runState
	// started is when the invocation started.
	started time.Time
}

// Result is what a handler did about its event (Runner.HandleOSS and the
// other handlers return it): the outcome holds it beside what the
// invocation as a whole did (its request, error, report and alerts).
type Result struct {
	// Renewals holds, for a timer run or a manual renewal, what was done
	// about each certificate of the manifest's certificates section:
	// renewed (why, the new expiry), not due, skipped (why) or failed. The
	// timer renews before it reconciles.
	Renewals []Renewal `json:"renewals,omitempty"`
	// Reports holds one report per bundle deployed (or dry-run).
	Reports []*report.Report `json:"reports"`
	// Waiting are bundles not complete yet (half a pair, or a key that
	// does not match while the other file may still be uploading); their
	// other file's event completes them. Waiting is not a failure until
	// Config.WaitLimit has passed since the newest part was written: the
	// bundle is then Invalid (WaitTimeout).
	Waiting []Skipped `json:"waiting,omitempty"`
	// Invalid are bundles refused before any call: expired, malformed,
	// untrusted, a missing intermediate, a key that matches no
	// certificate, waiting too long; and objects that could not be read.
	// They fail the invocation.
	Invalid []Skipped `json:"invalid,omitempty"`
	// Ignored are objects of the event that are not bundle parts.
	Ignored []Skipped `json:"ignored,omitempty"`
	// Expiring lists, after a reconcile, targets whose certificate expires
	// within warnDays with no newer bundle in the bucket.
	Expiring []Expiring `json:"expiring,omitempty"`
	// Pins says what rollback pins did: written by a rollback, holding a
	// bundle issued before it back ("pinned"), lifted by a bundle issued
	// after it, released, or a problem (unreadable, malformed, not
	// written or not deleted).
	Pins []PinNote `json:"pins,omitempty"`
	// Edges are the problems the TLS probes found: an edge serving a
	// certificate certdrop did not set (drift), after a deployment or on
	// the daily probe, and a served certificate expiring (what users see)
	// that is not the one the target's API reports.
	Edges []EdgeProblem `json:"edges,omitempty"`
	// Prune is, after a timer run whose manifest says defaults.prune,
	// which of certdrop's certificates in CAS were deleted and which kept,
	// and why.
	Prune *hub.PruneResult `json:"prune,omitempty"`
}

// add appends what o did to what r holds.
func (r *Result) add(o Result) {
	r.Renewals = append(r.Renewals, o.Renewals...)
	r.Reports = append(r.Reports, o.Reports...)
	r.Waiting = append(r.Waiting, o.Waiting...)
	r.Invalid = append(r.Invalid, o.Invalid...)
	r.Ignored = append(r.Ignored, o.Ignored...)
	r.Expiring = append(r.Expiring, o.Expiring...)
	r.Pins = append(r.Pins, o.Pins...)
	r.Edges = append(r.Edges, o.Edges...)
	if o.Prune != nil {
		r.Prune = o.Prune
	}
}

// Skipped is a bundle or object that was not deployed, and why.
type Skipped struct {
	// Unit is the bundle's folder or object key.
	Unit   string        `json:"unit"`
	Keys   []string      `json:"keys,omitempty"`
	Reason string        `json:"reason"`
	Error  *report.Error `json:"error,omitempty"`
	// Since is, for a waiting bundle, when its newest part was written.
	Since *time.Time `json:"since,omitempty"`
}

// Expiring is a target whose certificate runs out soon with nothing newer
// to deploy.
type Expiring struct {
	Product  string `json:"product"`
	Domain   string `json:"domain"`
	State    string `json:"state"` // always "expiring"
	CertName string `json:"certName,omitempty"`
	NotAfter string `json:"notAfter"`
	DaysLeft int    `json:"daysLeft"`
	// Pinned, when the certificate is one a rollback pinned, names the
	// pin: newer bundles for its names may be held back by it.
	Pinned string `json:"pinned,omitempty"`
}

// Busy reports whether the invocation started nothing because it waited
// for another invocation until its stop point (CodeBusy).
func (o *Outcome) Busy() bool { return o.Error != nil && o.Error.Code == CodeBusy }

// Failed reports whether anything failed: the run could not start, a
// bundle was invalid, a target failed or was not started, or a renewal
// failed or left a DNS record behind. A Busy invocation did not fail: it
// has not run yet.
func (o *Outcome) Failed() bool {
	if (o.Error != nil && !o.Busy()) || o.ReportError != nil || len(o.Invalid) > 0 {
		return true
	}
	for _, r := range o.Renewals {
		if r.Failed() {
			return true
		}
	}
	for _, r := range o.Reports {
		if !r.Summary.OK() {
			return true
		}
	}
	for _, p := range o.Pins {
		if p.Failed() {
			return true
		}
	}
	return o.Prune != nil && !o.Prune.OK()
}

// Retry reports whether the invocation must be answered as failed so that
// Function Compute retries it: only when something failed for a reason a
// retry can get past (a store or API that could not be reached, throttling
// to the end, the deadline). A permanent failure (an invalid bundle or
// manifest, a refused event, a missing permission) is answered as a
// success: a retry would fail the same way, and the failure is already in
// the report and the webhook.
//
// A failed renewal never asks for a retry, transient or not: the renewal
// engine keeps its own back-off state in the bucket (and the CA's
// Retry-After), so a retry minutes later would be held back and only
// repeat the alert; the next timer run, or a forced manual renewal, tries
// again when the back-off allows.
func (o *Outcome) Retry() bool {
	if o.ReportError != nil && o.ReportError.Transient {
		return true
	}
	if o.Error != nil {
		return o.Error.Transient
	}
	for _, s := range o.Invalid {
		if s.Error != nil && s.Error.Transient {
			return true
		}
	}
	for _, r := range o.Reports {
		for _, t := range r.Targets {
			if t.State == fanout.NotStarted || (t.State == fanout.Failed && t.Error != nil && t.Error.Transient) {
				return true
			}
		}
	}
	for _, p := range o.Pins {
		// A retry rolls back (or deploys) again, finds every target
		// unchanged, and writes (or deletes) the pin.
		if p.Failed() && p.Error.Transient {
			return true
		}
	}
	return false
}

// Worth reports whether the invocation did more than ignore objects, and
// so writes its outcome under the report prefix.
func (o *Outcome) Worth() bool {
	return o.Trigger == report.TriggerTimer || o.Error != nil || len(o.Reports) > 0 || len(o.Invalid) > 0 || len(o.Renewals) > 0 ||
		len(o.Waiting) > 0 || len(o.Expiring) > 0 || len(o.Pins) > 0
}

// edge reports whether a probe found the problem on an edge.
func (o *Outcome) edge(problem string) bool {
	for _, e := range o.Edges {
		if e.Problem == problem {
			return true
		}
	}
	return false
}

// status computes Status.
func (o *Outcome) status() string {
	switch {
	case o.Busy() && !o.Failed():
		return "busy"
	case o.Failed():
		return "failed"
	case len(o.Expiring) > 0 || o.edge(EdgeExpiring):
		return "expiring"
	case o.edge(EdgeDrift):
		return "drift"
	case len(o.Waiting) > 0:
		return "waiting"
	}
	for _, p := range o.Pins {
		if p.State == PinHeld || p.State == PinProblem {
			return "pinned"
		}
	}
	return "ok"
}
