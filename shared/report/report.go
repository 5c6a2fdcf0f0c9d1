// Package report writes the truthful account of a run: one JSON document
// saying what happened to every target, and the same for people as a table,
// with progress while the run goes on.
package report

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/plan"
)

// Triggers name what started a run.
const (
	TriggerOSS    = "oss"
	TriggerTimer  = "timer"
	TriggerManual = "manual"
	TriggerCLI    = "cli"
)

// Report is one run's document. Its JSON names are a public format: people
// script against them, so they do not change. It never holds key material.
type Report struct {
	RunID      string    `json:"runId"`
	Trigger    string    `json:"trigger"`
	RequestID  string    `json:"requestId"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	DryRun     bool      `json:"dryRun"`
	Bundle     Bundle    `json:"bundle"`
	// Warnings about the bundle (expiring soon, untrusted but allowed).
	Warnings []string `json:"warnings,omitempty"`
	Targets  []Target `json:"targets"`
	Summary  Summary  `json:"summary"`
	// Mode is "rollback" for a rollback's report; empty for a deployment.
	Mode string `json:"mode,omitempty"`
	// CAS lists, for targets with delivery: cas, the bundle's certificate
	// in each CAS region: its CertId, and whether it was found or uploaded.
	CAS []CASUpload `json:"cas,omitempty"`
}

// Bundle identifies the certificate a run deployed.
type Bundle struct {
	// Keys are the object keys (or files) the bundle came from.
	Keys        []string  `json:"keys"`
	Subject     string    `json:"subject"`
	SANs        []string  `json:"sans"`
	Issuer      string    `json:"issuer"`
	NotAfter    time.Time `json:"notAfter"`
	Fingerprint string    `json:"fingerprint"`
	CertName    string    `json:"certName"`
}

// Target is what happened to one domain of one product.
type Target struct {
	// Account is the manifest's name of the account the target is in
	// (its account field); empty for the function's own account.
	Account string           `json:"account,omitempty"`
	Product manifest.Product `json:"product"`
	Domain  string           `json:"domain"`
	// Bucket and Region name the bucket whose custom domain Domain is (an
	// oss target's), and its region; empty for targets without a bucket.
	Bucket string       `json:"bucket,omitempty"`
	Region string       `json:"region,omitempty"`
	API    string       `json:"api"`
	State  fanout.State `json:"state"`
	// Attempts counts the Set calls sent; Throttled how many of them were
	// answered with throttling.
	Attempts  int `json:"attempts"`
	Throttled int `json:"throttled"`
	// Describes counts the Describe calls sent (before the Set and to
	// verify it); DescribeThrottled how many were answered with throttling.
	Describes         int      `json:"describes"`
	DescribeThrottled int      `json:"describeThrottled"`
	RequestIDs        []string `json:"requestIds"`
	Error             *Error   `json:"error,omitempty"`
	// Note says, for a target that did not fail, what a person should
	// know: for skipped_newer, which certificate the domain carries and why
	// it counts as newer; for a staging target, that it was set without
	// comparing or verifying.
	Note       string `json:"note,omitempty"`
	DurationMs int64  `json:"durationMs"`
	// CertID is the CAS certificate a delivery: cas target was set to by
	// reference, where its API takes a CertId.
	CertID int64 `json:"certId,omitempty"`
	// Previous is what the domain carried before the run, when Describe
	// said; it explains unchanged and skipped_newer.
	Previous *Previous `json:"previous,omitempty"`
	// Probe is what the domain's edge served when probed over TLS after
	// the deployment; nil when it was not probed (not deployed, probe:
	// false, a wildcard without probeName, a dry run).
	Probe *Probe `json:"probe,omitempty"`
}

// Probe is what a TLS probe of a target's edge found: the verdict
// (serving: the certificate deployed; stale: the one it carried before;
// other: a certificate certdrop did not set; unreachable: none read;
// unprobed: the deadline came first), when, and the certificate served.
type Probe struct {
	// Name is the name probed (the SNI): the domain, or a wildcard's
	// probeName.
	Name    string    `json:"name"`
	Verdict string    `json:"verdict"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
	// Probes counts the probes made (more than one when it waited for a
	// stale edge).
	Probes int     `json:"probes"`
	Served *Served `json:"served,omitempty"`
}

// Served is the certificate an edge presented.
type Served struct {
	Fingerprint string    `json:"fingerprint"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	NotAfter    time.Time `json:"notAfter"`
	DaysLeft    int       `json:"daysLeft"`
	// Covers says whether the certificate names the probed name.
	Covers bool `json:"covers"`
}

// Name names the target as messages do: "cdn www.example.com", with its
// account first when it is not the function's own: "[media] cdn
// www.example.com".
func (t Target) Name() string {
	n := string(t.Product) + " " + t.Domain
	if t.Account != "" {
		n = "[" + t.Account + "] " + n
	}
	return n
}

// Previous is the certificate a domain carried before the run.
type Previous struct {
	CertName string `json:"certName,omitempty"`
	// Fingerprint is the SHA-256 of its leaf (hex), when Describe
	// returned the certificate.
	Fingerprint string `json:"fingerprint,omitempty"`
	// NotBefore is when it was issued, when Describe said.
	NotBefore *time.Time `json:"notBefore,omitempty"`
	NotAfter  *time.Time `json:"notAfter,omitempty"`
	HTTPS     bool       `json:"https"`
}

// Error explains a failed or not-started target.
type Error struct {
	// Code is the API's error code, or certdrop's own reason ("Deadline",
	// "AuthFailed", "CanaryFailed", "VerifyFailed").
	Code    string `json:"code"`
	Message string `json:"message"`
	// Hint says what a person can do about it.
	Hint string `json:"hint,omitempty"`
	// Transient is true when the same call may succeed later unchanged
	// (throttled, network, 5xx, the deadline): the invocation is then
	// answered as failed so that Function Compute retries it.
	Transient bool `json:"transient,omitempty"`
}

// Summary counts targets per state and sets the run's duration beside the
// shortest time the quotas allow for the Set calls it had to make.
type Summary struct {
	Total        int `json:"total"`
	Deployed     int `json:"deployed"`
	Unchanged    int `json:"unchanged"`
	SkippedNewer int `json:"skipped_newer"`
	NotCovered   int `json:"not_covered"`
	Failed       int `json:"failed"`
	NotStarted   int `json:"not_started"`
	Planned      int `json:"planned"`
	// Skipped counts the targets a rollback left as they are (they carry
	// no later certificate).
	Skipped      int   `json:"skipped,omitempty"`
	DurationMs   int64 `json:"durationMs"`
	LowerBoundMs int64 `json:"lowerBoundMs"`
}

// OK reports whether every target ended well: none failed, not_started, or
// not_covered (a target bound to this bundle by its bundle: prefix that the
// certificate does not cover will not be renewed: a failure to hear of).
func (s Summary) OK() bool { return s.Failed == 0 && s.NotStarted == 0 && s.NotCovered == 0 }

// Meta is what a report needs besides the plan and the results.
type Meta struct {
	Trigger   string
	RequestID string
	DryRun    bool
	StartedAt time.Time
	// Keys are the bundle's object keys; plan.Sources when empty.
	Keys []string
}

// New assembles the report of a run from its plan and results. Targets the
// plan found not covered are listed with state not_covered.
func New(m Meta, p *plan.Plan, results []fanout.Result, finished time.Time) *Report {
	keys := m.Keys
	if len(keys) == 0 {
		keys = p.Sources
	}
	r := &Report{
		RunID:      NewRunID(m.StartedAt),
		Trigger:    m.Trigger,
		RequestID:  m.RequestID,
		StartedAt:  m.StartedAt.UTC(),
		FinishedAt: finished.UTC(),
		DryRun:     m.DryRun,
		Bundle: Bundle{
			Keys: append([]string{}, keys...), Subject: p.Bundle.CommonName,
			SANs: append([]string{}, p.Bundle.SANs...), Issuer: p.Bundle.Issuer,
			NotAfter: p.Bundle.NotAfter, Fingerprint: p.Bundle.Fingerprint, CertName: p.CertName,
		},
		Targets: make([]Target, 0, len(results)+len(p.NotCovered)),
	}
	for _, res := range results {
		r.Targets = append(r.Targets, targetOf(res))
	}
	for _, c := range p.NotCovered {
		t := c.Target
		bucket, region := bucketOf(t)
		r.Targets = append(r.Targets, Target{
			Account: t.Account, Product: t.Product, Domain: c.DomainName, Bucket: bucket, Region: region, API: c.API.Action,
			State: fanout.NotCovered, RequestIDs: []string{},
			Error: &Error{Code: "NotCovered", Message: "the certificate does not cover " + strings.Join(t.Covered(), ", "),
				Hint: "issue a certificate that names this domain, or remove its bundle: binding"},
		})
	}
	groupByAccount(r.Targets)
	r.Summary = summarize(r.Targets)
	r.Summary.DurationMs = finished.Sub(m.StartedAt).Milliseconds()
	r.Summary.LowerBoundMs = lowerBound(results).Milliseconds()
	return r
}

func targetOf(res fanout.Result) Target {
	bucket, region := bucketOf(res.Call.Target)
	t := Target{
		Account:    res.Call.Target.Account,
		Product:    res.Call.Target.Product,
		Domain:     res.Call.DomainName,
		Bucket:     bucket,
		Region:     region,
		API:        res.Call.API.Action,
		State:      res.State,
		Attempts:   res.Attempts,
		Throttled:  res.Throttled,
		Describes:  res.Describes,
		RequestIDs: append([]string{}, res.RequestIDs...),
		Note:       res.Note,
		DurationMs: res.Duration.Milliseconds(),

		DescribeThrottled: res.DescribeThrottled,
		CertID:            certIDOf(res),
	}
	if res.Err != nil {
		t.Error = errorOf(res.Err)
	}
	if b := res.Before; b != nil {
		t.Previous = &Previous{CertName: b.CertName, Fingerprint: b.Fingerprint, HTTPS: b.HTTPS}
		if !b.NotAfter.IsZero() {
			na := b.NotAfter.UTC()
			t.Previous.NotAfter = &na
		}
		if !b.NotBefore.IsZero() {
			nb := b.NotBefore.UTC()
			t.Previous.NotBefore = &nb
		}
	}
	return t
}

// groupByAccount orders targets by account, the function's own first,
// then the others in the order their first targets appear, keeping each
// account's targets in the plan's order. Without other accounts the order
// is unchanged.
func groupByAccount(ts []Target) {
	rank := map[string]int{"": 0}
	for _, t := range ts {
		if _, ok := rank[t.Account]; !ok {
			rank[t.Account] = len(rank)
		}
	}
	if len(rank) == 1 {
		return
	}
	slices.SortStableFunc(ts, func(a, b Target) int { return rank[a.Account] - rank[b.Account] })
}

// lowerBound is the shortest time the quotas allow for the Set calls the
// run had to make: targets found unchanged or newer needed none, so a re-run
// that sets nothing has a bound of zero.
func lowerBound(results []fanout.Result) time.Duration {
	var needed []plan.Call
	for _, r := range results {
		if r.Attempts > 0 || r.State == fanout.Planned {
			needed = append(needed, r.Call)
		}
	}
	return plan.LowerBound(needed)
}

func summarize(ts []Target) Summary {
	s := Summary{Total: len(ts)}
	for _, t := range ts {
		switch t.State {
		case fanout.Deployed:
			s.Deployed++
		case fanout.Unchanged:
			s.Unchanged++
		case fanout.SkippedNewer:
			s.SkippedNewer++
		case fanout.NotCovered:
			s.NotCovered++
		case fanout.Failed:
			s.Failed++
		case fanout.NotStarted:
			s.NotStarted++
		case fanout.Planned:
			s.Planned++
		case fanout.Skipped:
			s.Skipped++
		}
	}
	return s
}

// NewRunID returns a sortable, unique run id: the start time and 8 random hex.
func NewRunID(start time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return start.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// bucketOf returns the bucket a target's domain is bound to (its bucket
// field, an OSS custom domain's) and the bucket's region; empty for a
// target without a bucket (a VOD target's region is its API's, not a
// bucket's).
func bucketOf(t manifest.Target) (bucket, region string) {
	if b := t.Field("bucket"); b != "" {
		return b, t.Region
	}
	return "", ""
}
