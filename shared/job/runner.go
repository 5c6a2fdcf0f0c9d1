package job

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fanout"
	"github.com/certdrop/certdrop/shared/manifest"
	"github.com/certdrop/certdrop/shared/pin"
	"github.com/certdrop/certdrop/shared/renew"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// Runner runs invocations. Its functions reach the cloud; tests and the
// command line give their own.
type Runner struct {
	Config *Config
	// OpenStore opens a bucket with the invocation's credentials (nil: the
	// default chain).
	OpenStore func(ctx context.Context, bucket string, creds *credchain.Credentials) (store.Store, error)
	// NewClient builds the API client with the invocation's credentials.
	NewClient func(ctx context.Context, creds *credchain.Credentials) (fanout.Client, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Fanout, when set, replaces the fan-out options of every run.
	Fanout *fanout.Options
	// Renew, when set, is the base of the renewal engine's options (tests
	// shorten the DNS propagation wait with it); the store, prefix, DNS
	// providers, resolvers, ACME roots and logger are set over it.
	Renew *renew.Options

	// slot makes one invocation run at a time in a process, as the
	// deployment does across the account (reservedConcurrency 1): the
	// same event delivered twice at once is then deployed once, and the
	// second delivery finds every target unchanged. An invocation waits
	// for it until its own stop point at the latest (then it is Busy).
	slot     chan struct{}
	slotOnce sync.Once
}

// CodeBusy is the outcome's error code of an invocation that waited for
// another one of the same process until its own stop point and started
// nothing. It is transient (Function Compute retries it), and alerted
// only when a retry is held back too.
const CodeBusy = "Busy"

// acquire takes the runner's slot, waiting until ctx ends or until stop
// (zero: no limit); it reports whether it got it.
func (r *Runner) acquire(ctx context.Context, stop time.Time) bool {
	r.slotOnce.Do(func() { r.slot = make(chan struct{}, 1) })
	ctx, cancel := until(ctx, stop)
	defer cancel()
	select {
	case r.slot <- struct{}{}:
		return true
	default:
	}
	select {
	case r.slot <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// release gives the slot back.
func (r *Runner) release() { <-r.slot }

// Request is one invocation's event and context.
type Request struct {
	Event       *event.Event
	RequestID   string
	Credentials *credchain.Credentials
	// Deadline is when the invocation is stopped; zero means
	// Config.Timeout after the start, or no deadline.
	Deadline time.Time
	Log      *slog.Logger
}

// invocation is the state of one Run: the stores, manifest, roots and
// client, each made once and only when needed. One goroutine uses it.
type invocation struct {
	r      *Runner
	req    Request
	log    *slog.Logger
	out    *Outcome
	stopAt time.Time
	// sched is when each part of the invocation ends (config.go).
	sched schedule
	// renewCleanup is the renewal engine's cleanup timeout (renew.go).
	renewCleanup time.Duration

	stores   map[string]store.Store
	manifest *manifest.Manifest
	roots    []*x509.Certificate
	client   fanout.Client
	// pins are the rollback pins in CERTDROP_BUCKET, read once (pins.go).
	pins     *pin.Set
	pinsRead bool
	// renewed are the serial numbers (hex, lower case) of the
	// certificates this invocation's renewal obtained: ordered after any
	// pin in force, they lift it whatever their backdated not-before says.
	renewed map[string]bool
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Run carries out one invocation and returns its outcome. It never panics
// on bad input: everything that goes wrong is in the outcome.
//
// The bucket is Config.Bucket, whatever the event says: an OSS record for
// another bucket or a key outside Config.TriggerPrefix is ignored, and a
// manual or timer event naming another bucket or prefix is refused before
// any call. The outcome's Bucket, where the report goes, is Config.Bucket.
func (r *Runner) Run(ctx context.Context, req Request) *Outcome {
	log := req.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	inv := &invocation{r: r, req: req, log: log, stores: map[string]store.Store{},
		out: &Outcome{RequestID: req.RequestID, Reports: []*report.Report{}, Bucket: r.Config.Bucket}}
	// Deadlines are real time; Now (a test's clock) judges validity only.
	start := time.Now()
	deadline := req.Deadline
	if deadline.IsZero() && r.Config.Timeout > 0 {
		deadline = start.Add(r.Config.Timeout)
	}
	inv.sched = r.Config.schedule(start, deadline)
	inv.stopAt = inv.sched.stopAt
	ev := req.Event
	switch ev.Kind {
	case event.KindOSS:
		inv.out.Trigger = report.TriggerOSS
	case event.KindManual, event.KindRenew, event.KindRollback:
		inv.out.Trigger = report.TriggerManual
	case event.KindTimer:
		inv.out.Trigger = report.TriggerTimer
	}
	if err := r.Config.RequireBucket(); err != nil {
		inv.fail("NoBucket", err.Error(), "set CERTDROP_BUCKET to the OSS trigger's bucket")
		return inv.out
	}
	if !inv.stopAt.IsZero() && !inv.stopAt.After(start) {
		inv.fail("TimeoutTooShort", fmt.Sprintf("the invocation has %s, no more than the %s safety margin: no call could start",
			deadline.Sub(start).Round(time.Second), inv.sched.margin),
			fmt.Sprintf("give the function a timeout well above %s (s.yaml timeout:), or lower CERTDROP_SAFETY_MARGIN", MinMargin))
		return inv.out
	}
	// Waiting behind another invocation is not this one's fault: when the
	// wait reaches the stop point, nothing was started and a retry does
	// it (transient, not a failure of the event).
	if !r.acquire(ctx, inv.stopAt) {
		inv.failWith(&report.Error{Code: CodeBusy, Transient: true,
			Message: fmt.Sprintf("waited for another invocation of this instance until the stop point (%s before the deadline): nothing was started",
				inv.sched.margin.Round(time.Millisecond)),
			Hint: "Function Compute retries the invocation; keep instanceConcurrency: 1 (s.yaml) so that invocations queue in Function Compute, not here"})
		return inv.out
	}
	defer r.release()
	// Every call of the run ends by callsEnd, whatever its own timeout:
	// the rest of the margin is the report's and the alerts'.
	ctx, cancel := until(ctx, inv.sched.callsEnd)
	defer cancel()
	switch ev.Kind {
	case event.KindOSS:
		inv.onOSS(ctx, ev.OSS)
	case event.KindManual:
		inv.onManual(ctx, ev.Manual)
	case event.KindRenew:
		inv.onRenew(ctx, ev.Renew)
	case event.KindRollback:
		inv.onRollback(ctx, ev.Rollback) // rollback.go
	case event.KindTimer:
		inv.onTimer(ctx, ev.Timer)
	}
	return inv.out
}

// fail records why the run could not go on; the failure is permanent (a
// retry cannot change it).
func (inv *invocation) fail(code, msg, hint string) {
	inv.failWith(&report.Error{Code: code, Message: clip(msg), Hint: hint})
}

// failErr records a failure caused by err, transient when err is (a store
// that could not be reached, a deadline).
func (inv *invocation) failErr(code string, err error, hint string) {
	inv.failWith(&report.Error{Code: code, Message: clip(err.Error()), Hint: hint, Transient: transient(err)})
}

func (inv *invocation) failWith(e *report.Error) {
	inv.log.Error("run cannot go on", "code", e.Code, "error", e.Message, "transient", e.Transient)
	if inv.out.Error == nil {
		inv.out.Error = e
	}
}

// transient reports whether err may not happen again on a retry: anything
// but a store's definite answers (not found, denied, too large, an invalid
// key or configuration) and a missing credential.
func transient(err error) bool {
	for _, permanent := range []error{store.ErrNotFound, store.ErrDenied, store.ErrTooLarge, store.ErrInvalidKey, store.ErrConfig, ErrNoBucket} {
		if errors.Is(err, permanent) {
			return false
		}
	}
	var se *store.Error
	if errors.As(err, &se) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true // a store that could not be reached, or answered 5xx
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
