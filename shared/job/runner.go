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

// Failure is the error a handler returns when its run cannot go on: a
// bad event, configuration, manifest or credentials, the deadline. Run
// puts it in the outcome as its error; what the handler did before it is
// in the handler's Result.
type Failure struct {
	// Err says what failed and what to do; Transient when a retry may
	// get past it.
	Err *report.Error
}

// Error returns the code and the message.
func (f *Failure) Error() string { return f.Err.Code + ": " + f.Err.Message }

// fail is a failure a retry cannot change.
func fail(code, msg, hint string) *Failure {
	return &Failure{Err: &report.Error{Code: code, Message: clip(msg), Hint: hint}}
}

// failErr is a failure caused by err, transient when err is (a store that
// could not be reached, a deadline).
func failErr(code string, err error, hint string) *Failure {
	return &Failure{Err: &report.Error{Code: code, Message: clip(err.Error()), Hint: hint, Transient: transient(err)}}
}

// firstErr returns the first error that is not nil: a run that goes on
// after a failure reports the first.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// outcomeError renders a handler's error for the outcome.
func outcomeError(err error) *report.Error {
	var f *Failure
	if errors.As(err, &f) {
		return f.Err
	}
	return &report.Error{Code: "Error", Message: clip(err.Error()), Transient: transient(err)}
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
// It checks what every event needs (CERTDROP_BUCKET, time for a call, the
// process's one slot), bounds every call by the invocation's schedule, and
// hands the event to its kind's handler (HandleOSS, HandleTimer,
// HandleManual, HandleRenew, HandleRollback), whose Result and error the
// outcome holds.
//
// The bucket is Config.Bucket, whatever the event says: an OSS record for
// another bucket or a key outside Config.TriggerPrefix is ignored, and a
// manual or timer event naming another bucket or prefix is refused before
// any call. The outcome's Bucket, where the report goes, is Config.Bucket.
func (r *Runner) Run(ctx context.Context, req Request) *Outcome {
	log := orDiscard(req.Log)
	out := &Outcome{RequestID: req.RequestID, Bucket: r.Config.Bucket, Trigger: triggerOf(req.Event.Kind)}
	out.Reports = []*report.Report{}
	failed := func(err error) *Outcome {
		out.Error = outcomeError(err)
		log.Error("run cannot go on", "code", out.Error.Code, "error", out.Error.Message, "transient", out.Error.Transient)
		return out
	}
	// Deadlines are real time; Now (a test's clock) judges validity only.
	start := time.Now()
	deadline := req.Deadline
	if deadline.IsZero() && r.Config.Timeout > 0 {
		deadline = start.Add(r.Config.Timeout)
	}
	sched := r.Config.schedule(start, deadline)
	if err := r.Config.RequireBucket(); err != nil {
		return failed(fail("NoBucket", err.Error(), "set CERTDROP_BUCKET to the OSS trigger's bucket"))
	}
	if !sched.stopAt.IsZero() && !sched.stopAt.After(start) {
		return failed(fail("TimeoutTooShort", fmt.Sprintf("the invocation has %s, no more than the %s safety margin: no call could start",
			deadline.Sub(start).Round(time.Second), sched.margin),
			fmt.Sprintf("give the function a timeout well above %s (s.yaml timeout:), or lower CERTDROP_SAFETY_MARGIN", MinMargin)))
	}
	// Waiting behind another invocation is not this one's fault: when the
	// wait reaches the stop point, nothing was started and a retry does
	// it (transient, not a failure of the event).
	if !r.acquire(ctx, sched.stopAt) {
		return failed(&Failure{Err: &report.Error{Code: CodeBusy, Transient: true,
			Message: fmt.Sprintf("waited for another invocation of this instance until the stop point (%s before the deadline): nothing was started",
				sched.margin.Round(time.Millisecond)),
			Hint: "Function Compute retries the invocation; keep instanceConcurrency: 1 (s.yaml) so that invocations queue in Function Compute, not here"}})
	}
	defer r.release()
	// Every call of the run ends by callsEnd, whatever its own timeout:
	// the rest of the margin is the report's and the alerts'.
	ctx, cancel := until(ctx, sched.callsEnd)
	defer cancel()
	out.run = &runState{}
	ctx = context.WithValue(ctx, runningKey{}, &running{req: req, log: log, sched: sched, state: out.run})
	res, err := r.handle(ctx, req.Event)
	// The probes of deployed domains end by the calls' end at the latest.
	out.run.join()
	res.Edges = append(deployDrift(res.Reports), res.Edges...)
	out.Result = res
	if out.Reports == nil {
		out.Reports = []*report.Report{}
	}
	if err != nil {
		return failed(err)
	}
	return out
}

// handle hands an event to its kind's handler.
func (r *Runner) handle(ctx context.Context, ev *event.Event) (Result, error) {
	switch ev.Kind {
	case event.KindOSS:
		return r.HandleOSS(ctx, ev.OSS)
	case event.KindManual:
		return r.HandleManual(ctx, ev.Manual)
	case event.KindRenew:
		return r.HandleRenew(ctx, ev.Renew)
	case event.KindRollback:
		return r.HandleRollback(ctx, ev.Rollback)
	case event.KindTimer:
		return r.HandleTimer(ctx, ev.Timer)
	}
	return Result{}, fail("BadEvent", fmt.Sprintf("no handler for the event kind %q", ev.Kind), "")
}

// triggerOf is the outcome's trigger for an event kind.
func triggerOf(k event.Kind) string {
	switch k {
	case event.KindOSS:
		return report.TriggerOSS
	case event.KindManual, event.KindRenew, event.KindRollback:
		return report.TriggerManual
	case event.KindTimer:
		return report.TriggerTimer
	}
	return ""
}

// runningKey is the context key of the request Run hands its handlers.
type runningKey struct{}

// running is what Run hands its handlers through the context, as a
// Lambda runtime hands its handlers the request's context: the request
// (its id, credentials and logger) and its deadline's schedule.
type running struct {
	req   Request
	log   *slog.Logger
	sched schedule
	state *runState
}

// session is one handler's run: the request, the deployment options held
// once, and the stores, manifest, roots, client and pins, each made once
// and only when needed. One goroutine uses it. It holds no result: its
// methods return what they did.
type session struct {
	r     *Runner
	req   Request
	log   *slog.Logger
	sched schedule
	// stopAt: no call starts at or after it (sched.stopAt).
	stopAt time.Time
	// opts are the options of every deployment of the run: the trigger,
	// request id, dry run and force, the deadline, quotas and logger.
	opts Options
	// hub is the base of the fan-out options of a rollback or a prune.
	hub fanout.Options
	// renewCleanup is the renewal engine's cleanup timeout (engine).
	renewCleanup time.Duration

	stores   map[string]store.Store
	manifest *manifest.Manifest
	roots    []*x509.Certificate
	client   fanout.Client
	// pins are the rollback pins in CERTDROP_BUCKET.
	pins pinBook
	// run is what the run learns beside its result (nil outside Run): the
	// manifest, the probes, what the timer inspected.
	run *runState
	// carried is what each target carries, as the timer's reconcile
	// learned it (reports and inspections).
	carried map[targetKey]carried
}

// session starts a handler's run of an event of trigger, with the request
// Run put in ctx (none: the default credentials and no deadline), dry run
// and force as the event says.
func (r *Runner) session(ctx context.Context, trigger string, dryRun, force bool) *session {
	run, _ := ctx.Value(runningKey{}).(*running)
	if run == nil {
		run = &running{log: slog.New(slog.DiscardHandler)}
	}
	s := &session{r: r, req: run.req, log: run.log, sched: run.sched, stopAt: run.sched.stopAt, stores: map[string]store.Store{}, run: run.state}
	s.opts = Options{Trigger: trigger, RequestID: run.req.RequestID, DryRun: dryRun, Force: force,
		StopAt: s.stopAt, Quotas: r.Config.Quotas, Log: s.log, Fanout: r.Fanout}
	if r.Fanout != nil {
		s.hub = *r.Fanout
	}
	s.hub.StopAt, s.hub.Logger = s.stopAt, s.log
	if r.Config.Quotas != nil {
		s.hub.Quotas = r.Config.Quotas
	}
	s.pins = pinBook{open: func(ctx context.Context) (store.Store, error) { return s.store(ctx, r.Config.Bucket) }, log: s.log}
	return s
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
