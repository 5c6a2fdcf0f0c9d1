package fanout

import (
	"log/slog"
	"time"
)

// Defaults for Options' zero values.
const (
	DefaultMaxAttempts  = 8
	DefaultMaxThrottled = 20
	DefaultBaseDelay    = 200 * time.Millisecond
	DefaultMaxDelay     = 10 * time.Second
	// DefaultLatencyP99 is the call latency the concurrency is sized for:
	// each API gets quota × p99 calls in flight, so that slow answers never
	// cap the rate, and no more.
	DefaultLatencyP99 = 2 * time.Second
	// describeAttempts and describeThrottled bound the Describe retries:
	// a Describe that keeps failing does not block the Set.
	describeAttempts  = 3
	describeThrottled = 6
)

// Options tune a run. The zero value deploys for real with the documented
// quotas and the default retry policy.
type Options struct {
	// DryRun makes no Set call: targets that would be set end Planned.
	DryRun bool
	// Force sets targets that already carry this or a newer certificate.
	Force bool
	// Rollback sets only targets that carry a certificate later than the
	// plan's (by issue date, else expiry; one whose dates Describe does not
	// give counts as later): the plan's certificate is an earlier one being
	// restored. Targets carrying it end Unchanged, the others Skipped.
	Rollback bool
	// Canary deploys this many targets first, confirms each by Describe,
	// and stops the run if any did not end well.
	Canary int
	// Verify confirms every target by Describe after its Set.
	Verify bool
	// StopAt: no call starts after this time; calls in flight finish and
	// untouched targets end NotStarted. Zero means no limit but ctx.
	StopAt time.Time
	// MaxAttempts bounds the Set calls per target that fail transiently
	// (5xx, busy, network); 0 means 8.
	MaxAttempts int
	// MaxThrottled bounds the Set calls per target answered with
	// throttling, which the service did not process; 0 means 20, or
	// MaxAttempts when that is larger.
	MaxThrottled int
	// BaseDelay and MaxDelay shape the exponential backoff with full
	// jitter between attempts; 0 means 200 ms and 10 s.
	BaseDelay, MaxDelay time.Duration
	// Quotas override the documented calls per second, by API action.
	Quotas map[string]float64
	// LatencyP99 sizes the calls in flight per API; 0 means 2 s.
	LatencyP99 time.Duration
	// Logger receives one line per target outcome and per retry; nil
	// discards them.
	Logger *slog.Logger
	// Progress, when set, is called after each target ends. It must be
	// quick and safe for concurrent use.
	Progress func(Progress)
}

// Progress is a snapshot of a run for progress displays.
type Progress struct {
	Done, Total int
	// Throttled counts the Set calls answered with throttling so far, as
	// the targets' Throttled do (Describe throttles are not counted).
	Throttled int
	Elapsed   time.Duration
}

func (o Options) maxAttempts() int {
	if o.MaxAttempts > 0 {
		return o.MaxAttempts
	}
	return DefaultMaxAttempts
}

func (o Options) maxThrottled() int {
	if o.MaxThrottled > 0 {
		return o.MaxThrottled
	}
	return max(DefaultMaxThrottled, o.maxAttempts())
}

func (o Options) baseDelay() time.Duration {
	if o.BaseDelay > 0 {
		return o.BaseDelay
	}
	return DefaultBaseDelay
}

func (o Options) maxDelay() time.Duration {
	if o.MaxDelay > 0 {
		return o.MaxDelay
	}
	return DefaultMaxDelay
}

func (o Options) latencyP99() time.Duration {
	if o.LatencyP99 > 0 {
		return o.LatencyP99
	}
	return DefaultLatencyP99
}

func (o Options) quota(action string, documented float64) float64 {
	if q, ok := o.Quotas[action]; ok && q > 0 {
		return q
	}
	return documented
}
