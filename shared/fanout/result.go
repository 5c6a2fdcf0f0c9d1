package fanout

import (
	"time"

	"github.com/certdrop/certdrop/shared/plan"
)

// State is what happened to one target. The names are part of the report
// format: people script against them.
type State string

// The states a target ends in.
const (
	// Deployed: a Set call succeeded (and, when verifying, Describe
	// confirmed the new certificate).
	Deployed State = "deployed"
	// Unchanged: the domain already carried this certificate; nothing was set.
	Unchanged State = "unchanged"
	// SkippedNewer: the domain carries a certificate issued later than
	// this one (or, when Describe gives no issue date, expiring later);
	// certdrop does not replace it unless forced or the manifest says
	// replace: always. Result.Note says which certificate and why.
	SkippedNewer State = "skipped_newer"
	// NotCovered: the target is bound to the bundle but the certificate
	// does not cover its domain.
	NotCovered State = "not_covered"
	// Failed: the Set call failed (permanently, or after the last retry).
	Failed State = "failed"
	// NotStarted: the run stopped (auth failure, deadline, failed canary)
	// before any Set call for this target.
	NotStarted State = "not_started"
	// Planned: a dry run would have set the certificate here.
	Planned State = "planned"
	// Skipped: a rollback left the target as it is, because it carries
	// no certificate later than the one rolled back to. Result.Note says
	// what it carries.
	Skipped State = "skipped"
)

// OK reports whether the state counts as success for exit codes and
// Function Compute's error signalling.
func (s State) OK() bool {
	switch s {
	case Deployed, Unchanged, SkippedNewer, Planned, Skipped:
		return true
	}
	return false
}

// Result is the outcome of one target.
type Result struct {
	Call  plan.Call
	State State
	// Attempts counts the Set calls sent (0 when none was).
	Attempts int
	// Throttled counts the Set calls answered with throttling: of
	// Attempts, how many the service did not process.
	Throttled int
	// Describes counts the Describe calls sent (before the Set, and to
	// verify it), DescribeThrottled those answered with throttling.
	Describes, DescribeThrottled int
	// RequestIDs are the RequestIds of every call made for the target, in order.
	RequestIDs []string
	// Err is why the target failed or was not started; nil otherwise.
	Err error
	// Before is what Describe reported before any Set; nil when Describe
	// was not called or failed.
	Before *Installed
	// Note says, for a target that did not fail, what a person should know
	// about how it ended: why it was skipped (which certificate the domain
	// carries, and on what basis it counts as newer), or that a staging
	// target was set without comparing or verifying. Empty otherwise.
	Note string
	// Duration is the time from the target's first call to its last answer.
	Duration time.Duration

	index int // in the plan: the order of first calls in a lane
	// queued is the time the target's calls waited in their lanes, and
	// readPace the quota of the fastest read (Describe) API it called.
	queued   time.Duration
	readPace float64
}

// NoteStaging is the Note of every staging target that was not skipped.
const NoteStaging = "staging: set every time without comparing or verifying, because Describe shows the production certificate"
