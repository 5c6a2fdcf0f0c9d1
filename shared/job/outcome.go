package job

import (
	"github.com/certdrop/certdrop/shared/report"
)

// Outcome is the answer to one invocation: the report of every bundle it
// deployed, and every bundle it could not. It is the invocation's response
// body and the document written under the report prefix.
type Outcome struct {
	RequestID string `json:"requestId"`
	Trigger   string `json:"trigger"`
	// Bucket is the bucket the event concerned; reports are written there.
	Bucket string `json:"bucket,omitempty"`
	// Reports holds one report per bundle deployed (or dry-run).
	Reports []*report.Report `json:"reports"`
	// Waiting are bundles not complete yet; their other file's event
	// completes them. Waiting is not a failure.
	Waiting []Skipped `json:"waiting,omitempty"`
	// Invalid are bundles refused before any call: expired, malformed,
	// untrusted, a missing intermediate. They fail the invocation.
	Invalid []Skipped `json:"invalid,omitempty"`
	// Ignored are objects of the event that are not bundle parts.
	Ignored []Skipped `json:"ignored,omitempty"`
	// Expiring lists, after a reconcile, targets whose certificate expires
	// within warnDays with no newer bundle in the bucket.
	Expiring []Expiring `json:"expiring,omitempty"`
	// Error says why the run could not start (bad event, configuration,
	// manifest, credentials); nothing was called.
	Error *report.Error `json:"error,omitempty"`
	// ReportKey is where this document was written in the bucket.
	ReportKey string `json:"reportKey,omitempty"`
}

// Skipped is a bundle or object that was not deployed, and why.
type Skipped struct {
	// Unit is the bundle's folder or object key.
	Unit   string        `json:"unit"`
	Keys   []string      `json:"keys,omitempty"`
	Reason string        `json:"reason"`
	Error  *report.Error `json:"error,omitempty"`
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
}

// Failed reports whether the invocation must be signalled as failed to
// Function Compute: the run could not start, a bundle was invalid, or a
// target failed or was not started.
func (o *Outcome) Failed() bool {
	if o.Error != nil || len(o.Invalid) > 0 {
		return true
	}
	for _, r := range o.Reports {
		if !r.Summary.OK() {
			return true
		}
	}
	return false
}
