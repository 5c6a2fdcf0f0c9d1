// Package status keeps the fleet's status: every target with the
// certificate it carries, its last outcome and its last probe verdict,
// each ACME certificate's renewal state, and the last runs. It renders it
// as one self-contained HTML page, as text for a terminal, and as JSON.
//
// # How a run calls it
//
// At the end of a run, within its deadline, the run reads the previous
// status.json (one object; a missing one is a nil *Status, a damaged one
// is reported and replaced), describes what it knows and merges:
//
//	prev, err := status.Decode(data)               // data of certdrop/status/status.json
//	st := status.Merge(prev, status.Update{
//		Run:       &status.Run{ID: ..., Outcome: ..., ReportKey: reportKey},
//		Targets:   observations,   // one per target the run deployed, checked or probed
//		Manifest:  refs,           // every target of the manifest, or nil when not read
//		Renewals:  renewals,       // the ACME states the run read or wrote
//	}, time.Now(), status.Options{})
//	js, _ := st.JSON()                             // -> certdrop/status/status.json
//	page, _ := status.HTML(st, status.HTMLOptions{}) // -> certdrop/status/index.html
//
// Merge never reads reports: the page is rebuilt from the previous status
// and the run's own knowledge, so its cost grows with the fleet, not with
// the history.
//
// # JSON
//
// status.json is the Status type: {"version":1, "generatedAt", "expiringDays",
// "targets":[...], "renewals":[...], "runs":[...]}. A target is {"product",
// "address", "bucket"?, "names", "state", "cert"?: {"name", "issuer",
// "notAfter", "daysLeft", "fingerprint"}, "outcome", "outcomeAt",
// "error"?, "runId"?, "probe"?: {"name", "verdict", "at", "reason"?,
// "served"?: cert}}. A renewal is {"name", "names", "state", "notAfter"?,
// "nextDue"?, "nextAttempt"?, "failures"?, "lastError"?, "lastSuccess"?}. A
// run is {"id", "trigger", "startedAt", "finishedAt", "outcome",
// "summary", "reportKey"}. Targets are sorted by urgency (Less), runs
// newest first. Times are RFC 3339 UTC.
//
// # Bounds
//
// At most MaxTargets targets, MaxRenewals renewals and MaxRuns runs are
// kept; a target keeps at most MaxNames names; error texts are cut to
// MaxErrorLen bytes. For 10,000 targets (one in ten failed with an API
// error, every one probed) the HTML page is about 2.3 MB, some 235 bytes a
// target, and status.json about 5.6 MB (TestPageSize measures both); the
// page renders in about 150 ms and Merge runs in about 15 ms
// (BenchmarkHTML10k, BenchmarkMerge10k, on a shared 2-core machine).
package status

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certdrop/certdrop/shared/probe"
)

// Version is the status.json format's version.
const Version = 1

// Bounds.
const (
	MaxTargets  = 50_000
	MaxRenewals = 1_000
	MaxRuns     = 30
	MaxNames    = 20
	MaxErrorLen = 300
	// DefaultExpiringDays: a certificate with fewer days left is expiring.
	DefaultExpiringDays = 21
)

// States of a target, most urgent first (see Rank).
const (
	StateFailed      = "failed"      // the last run failed on it
	StateExpiring    = "expiring"    // what it carries or serves expires within ExpiringDays (or has expired)
	StateOther       = "other"       // the edge serves a certificate certdrop did not set
	StateStale       = "stale"       // the edge still serves an earlier certificate
	StateUnreachable = "unreachable" // the probe read no certificate
	StatePending     = "pending"     // in the manifest, no outcome yet
	StateOK          = "ok"
)

var stateRank = map[string]int{
	StateFailed: 0, StateExpiring: 1, StateOther: 2, StateStale: 3,
	StateUnreachable: 4, StatePending: 5, StateOK: 6,
}

// States lists the target states, most urgent first.
func States() []string {
	return []string{StateFailed, StateExpiring, StateOther, StateStale, StateUnreachable, StatePending, StateOK}
}

// Rank is a state's urgency, 0 the most urgent; unknown states rank last.
func Rank(state string) int {
	if r, ok := stateRank[state]; ok {
		return r
	}
	return len(stateRank)
}

// Outcomes a run reports for a target that count as failed.
var failedOutcomes = map[string]bool{"failed": true, "not_started": true, "not_covered": true}

// Status is the content of status.json.
type Status struct {
	Version      int       `json:"version"`
	GeneratedAt  time.Time `json:"generatedAt"`
	ExpiringDays int       `json:"expiringDays"`
	Targets      []Target  `json:"targets"`
	Renewals     []Renewal `json:"renewals"`
	Runs         []Run     `json:"runs"`
	// Dropped counts the targets left out beyond MaxTargets.
	Dropped int `json:"dropped,omitempty"`
}

// Target is one deployment target.
type Target struct {
	// Account is the manifest's name of the account the target is in;
	// empty for the function's own.
	Account string `json:"account,omitempty"`
	Product string `json:"product"`
	// Address is the domain as its product's API names it.
	Address string `json:"address"`
	// Bucket is an oss target's bucket.
	Bucket string   `json:"bucket,omitempty"`
	Names  []string `json:"names,omitempty"`
	// State is computed by Merge from the rest.
	State     string    `json:"state"`
	Cert      *Cert     `json:"cert,omitempty"`
	Outcome   string    `json:"outcome"`
	OutcomeAt time.Time `json:"outcomeAt,omitzero"`
	Error     string    `json:"error,omitempty"`
	RunID     string    `json:"runId,omitempty"`
	Probe     *Probe    `json:"probe,omitempty"`
}

// Cert describes a certificate.
type Cert struct {
	// Name is the subject's common name, or the certificate's name.
	Name     string    `json:"name"`
	Issuer   string    `json:"issuer,omitempty"`
	NotAfter time.Time `json:"notAfter,omitzero"`
	// DaysLeft is computed by Merge at GeneratedAt.
	DaysLeft    int    `json:"daysLeft"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Probe is a target's last probe.
type Probe struct {
	// Name is the name probed (the domain, or the manifest's probeName).
	Name string `json:"name"`
	// Verdict is a probe.Verdict: serving, stale, other, unreachable,
	// unprobed.
	Verdict string    `json:"verdict"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
	Served  *Cert     `json:"served,omitempty"`
}

// Renewal is one ACME certificate's renewal state.
type Renewal struct {
	Name  string   `json:"name"`
	Names []string `json:"names,omitempty"`
	// State is "failing" (failures since the last success), "due" (the
	// next renewal is due), or "ok"; computed by Merge.
	State       string    `json:"state"`
	NotAfter    time.Time `json:"notAfter,omitzero"`
	NextDue     time.Time `json:"nextDue,omitzero"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	Failures    int       `json:"failures,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
}

// Run is one run, linked to its report.
type Run struct {
	ID         string    `json:"id"`
	Trigger    string    `json:"trigger,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Outcome is "ok" or "failed".
	Outcome string `json:"outcome"`
	// Summary is a short count, "3 deployed, 1 failed".
	Summary string `json:"summary,omitempty"`
	// ReportKey is the report's object key.
	ReportKey string `json:"reportKey,omitempty"`
}

// Observation is what a run knows of one target. Nil or empty fields add
// nothing: the previous status keeps its value.
type Observation struct {
	Account string
	Product string
	Address string
	Bucket  string
	Names   []string
	// Outcome is the run's state for the target ("deployed", "failed",
	// ...); Error its error text.
	Outcome string
	Error   string
	// Cert is the certificate the target carries after the run.
	Cert  *Cert
	Probe *Probe
}

// Ref names a target of the manifest.
type Ref struct {
	Account                  string
	Product, Address, Bucket string
	Names                    []string
}

// Update is what one run adds to the status.
type Update struct {
	Run      *Run
	Targets  []Observation
	Renewals []Renewal
	// Manifest, when not nil, is every target the manifest names: others
	// leave the status, and the ones without a status yet are pending.
	Manifest []Ref
}

// Options tune Merge.
type Options struct {
	// ExpiringDays: fewer days left is expiring; DefaultExpiringDays when 0.
	ExpiringDays int
}

type key struct{ product, bucket, address string }

func keyOf(product, bucket, address string) key {
	return key{strings.ToLower(product), strings.ToLower(bucket), strings.ToLower(address)}
}

// Merge is the status after a run: prev (nil for none) with u applied at
// now (the time of the outcomes it records, and of days left). It does
// not change prev.
func Merge(prev *Status, u Update, now time.Time, o Options) *Status {
	if o.ExpiringDays <= 0 {
		o.ExpiringDays = DefaultExpiringDays
	}
	now = now.UTC()
	st := &Status{Version: Version, GeneratedAt: now, ExpiringDays: o.ExpiringDays}
	byKey := map[key]*Target{}
	var order []key
	add := func(t Target) *Target {
		k := keyOf(t.Product, t.Bucket, t.Address)
		if cur := byKey[k]; cur != nil {
			return cur
		}
		cp := t
		byKey[k] = &cp
		order = append(order, k)
		return &cp
	}
	if prev != nil {
		for _, t := range prev.Targets {
			add(t.clone())
		}
	}
	runID := ""
	if u.Run != nil {
		runID = u.Run.ID
	}
	for _, ob := range u.Targets {
		if ob.Address == "" {
			continue
		}
		t := add(Target{Product: ob.Product, Address: ob.Address, Bucket: ob.Bucket})
		if ob.Account != "" {
			t.Account = ob.Account
		}
		if len(ob.Names) > 0 {
			t.Names = slices.Clone(ob.Names)
		}
		if ob.Outcome != "" {
			t.Outcome, t.OutcomeAt, t.Error, t.RunID = ob.Outcome, now, clip(ob.Error, MaxErrorLen), runID
		}
		if ob.Cert != nil {
			t.Cert = ob.Cert.clone()
		}
		if ob.Probe != nil {
			t.Probe = ob.Probe.clone()
			t.Probe.Reason = clip(t.Probe.Reason, MaxErrorLen)
		}
	}
	if u.Manifest != nil {
		keep := map[key]bool{}
		for _, r := range u.Manifest {
			keep[keyOf(r.Product, r.Bucket, r.Address)] = true
			t := add(Target{Account: r.Account, Product: r.Product, Address: r.Address, Bucket: r.Bucket, Outcome: StatePending})
			t.Account = r.Account
			if len(t.Names) == 0 && len(r.Names) > 0 {
				t.Names = slices.Clone(r.Names)
			}
		}
		order = slices.DeleteFunc(order, func(k key) bool { return !keep[k] })
	}
	st.Targets = make([]Target, 0, len(order))
	for _, k := range order {
		t := byKey[k]
		if len(t.Names) > MaxNames {
			t.Names = t.Names[:MaxNames]
		}
		t.Error = clip(t.Error, MaxErrorLen)
		if t.Cert != nil {
			t.Cert.DaysLeft = daysLeft(t.Cert.NotAfter, now)
		}
		if t.Probe != nil && t.Probe.Served != nil {
			t.Probe.Served.DaysLeft = daysLeft(t.Probe.Served.NotAfter, now)
		}
		t.State = stateOf(t, o.ExpiringDays)
		st.Targets = append(st.Targets, *t)
	}
	slices.SortStableFunc(st.Targets, compareTargets)
	if len(st.Targets) > MaxTargets {
		st.Dropped = len(st.Targets) - MaxTargets
		st.Targets = st.Targets[:MaxTargets]
	}

	st.Renewals = mergeRenewals(prev, u.Renewals, now)
	st.Runs = mergeRuns(prev, u.Run)
	return st
}

func (c *Cert) clone() *Cert {
	if c == nil {
		return nil
	}
	cp := *c
	return &cp
}

func (p *Probe) clone() *Probe {
	if p == nil {
		return nil
	}
	cp := *p
	cp.Served = p.Served.clone()
	return &cp
}

// clone is a deep copy of t.
func (t Target) clone() Target {
	t.Names = slices.Clone(t.Names)
	t.Cert = t.Cert.clone()
	t.Probe = t.Probe.clone()
	return t
}

// stateOf is a target's state: a failed outcome first, then expiry of
// what it carries or serves, then the probe's verdict.
func stateOf(t *Target, expiringDays int) string {
	if failedOutcomes[t.Outcome] {
		return StateFailed
	}
	if d, ok := t.DaysLeft(); ok && d < expiringDays {
		return StateExpiring
	}
	if t.Probe != nil {
		switch probe.Verdict(t.Probe.Verdict) {
		case probe.Other:
			return StateOther
		case probe.Stale:
			return StateStale
		case probe.Unreachable:
			return StateUnreachable
		}
	}
	if t.Outcome == StatePending || t.Outcome == "" {
		return StatePending
	}
	return StateOK
}

// DaysLeft is the fewest days left of the certificate the target carries
// and the one its edge serves; false when neither is known.
func (t *Target) DaysLeft() (int, bool) {
	d, ok := 0, false
	for _, c := range []*Cert{t.Cert, t.served()} {
		if c != nil && !c.NotAfter.IsZero() && (!ok || c.DaysLeft < d) {
			d, ok = c.DaysLeft, true
		}
	}
	return d, ok
}

func (t *Target) served() *Cert {
	if t.Probe == nil {
		return nil
	}
	return t.Probe.Served
}

// compareTargets orders by urgency, then by days left (fewest first),
// then product and address.
func compareTargets(a, b Target) int {
	if c := cmp.Compare(Rank(a.State), Rank(b.State)); c != 0 {
		return c
	}
	da, oka := a.DaysLeft()
	db, okb := b.DaysLeft()
	switch {
	case oka && okb && da != db:
		return cmp.Compare(da, db)
	case oka != okb:
		if oka {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(a.Product, b.Product), cmp.Compare(a.Address, b.Address), cmp.Compare(a.Bucket, b.Bucket))
}

func mergeRenewals(prev *Status, in []Renewal, now time.Time) []Renewal {
	byName := map[string]Renewal{}
	if prev != nil {
		for _, r := range prev.Renewals {
			byName[r.Name] = r
		}
	}
	for _, r := range in {
		if r.Name != "" {
			r.Names = slices.Clone(r.Names)
			byName[r.Name] = r
		}
	}
	out := make([]Renewal, 0, len(byName))
	for _, r := range byName {
		r.LastError = clip(r.LastError, MaxErrorLen)
		if len(r.Names) > MaxNames {
			r.Names = r.Names[:MaxNames]
		}
		switch {
		case r.Failures > 0 || r.LastError != "":
			r.State = "failing"
		case !r.NextDue.IsZero() && !r.NextDue.After(now):
			r.State = "due"
		default:
			r.State = "ok"
		}
		out = append(out, r)
	}
	rank := map[string]int{"failing": 0, "due": 1, "ok": 2}
	slices.SortFunc(out, func(a, b Renewal) int {
		return cmp.Or(cmp.Compare(rank[a.State], rank[b.State]), a.NotAfter.Compare(b.NotAfter), cmp.Compare(a.Name, b.Name))
	})
	if len(out) > MaxRenewals {
		out = out[:MaxRenewals]
	}
	return out
}

func mergeRuns(prev *Status, r *Run) []Run {
	var out []Run
	if r != nil && r.ID != "" {
		out = append(out, *r)
	}
	if prev != nil {
		for _, p := range prev.Runs {
			if r == nil || p.ID != r.ID {
				out = append(out, p)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Run) int { return b.StartedAt.Compare(a.StartedAt) })
	if len(out) > MaxRuns {
		out = out[:MaxRuns]
	}
	return out
}

func daysLeft(notAfter, now time.Time) int { return probe.DaysLeft(notAfter, now) }

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ErrDamaged: status.json is not a status this version reads.
var ErrDamaged = errors.New("status: damaged status.json")

// MaxDecodeSize bounds what Decode reads.
const MaxDecodeSize = 64 << 20

// Decode reads status.json. Empty data is no status (nil, nil); data that
// is not a status is ErrDamaged: the caller reports it and merges from
// nil.
func Decode(data []byte) (*Status, error) {
	if len(data) == 0 {
		return nil, nil
	}
	if len(data) > MaxDecodeSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrDamaged, len(data), MaxDecodeSize)
	}
	var st Status
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	if st.Version != Version {
		return nil, fmt.Errorf("%w: version %d, this certdrop reads %d", ErrDamaged, st.Version, Version)
	}
	if len(st.Targets) > MaxTargets {
		st.Targets = st.Targets[:MaxTargets]
	}
	if len(st.Runs) > MaxRuns {
		st.Runs = st.Runs[:MaxRuns]
	}
	if len(st.Renewals) > MaxRenewals {
		st.Renewals = st.Renewals[:MaxRenewals]
	}
	return &st, nil
}

// JSON is status.json's content.
func (s *Status) JSON() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return append(b, '\n'), nil
}

// Counts is how many targets are in each state.
func (s *Status) Counts() map[string]int {
	c := map[string]int{}
	for _, t := range s.Targets {
		c[t.State]++
	}
	return c
}
