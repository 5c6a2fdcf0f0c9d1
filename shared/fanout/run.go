// Package fanout turns a plan into installed certificates as fast as the
// account's API quotas allow: calls wait in one queue per API whose pacer
// hands each token to a retry before a first call, a throttled call is
// retried as soon as the pacer (and any retry-after hint) allows, a
// transient failure after backing off, a refusal every call of the API
// would get stops that API's calls, domains that already carry the
// certificate (or one issued later) are skipped, and every target ends in
// exactly one State.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certdrop/certdrop/shared/failure"
	"github.com/certdrop/certdrop/shared/plan"
)

// Run deploys p's calls through client and returns one Result per call, in
// the plan's order. It never returns early with targets unaccounted for:
// when the run stops (ctx ends, StopAt passes, an auth failure, a failed
// canary) the targets not yet started end NotStarted with the cause.
func Run(ctx context.Context, client Client, p *plan.Plan, opts Options) []Result {
	return runWith(ctx, client, p, opts, nil)
}

// runWith is Run with bind, when not nil, called before the Set of a CAS
// call (RunCAS): it waits for the call's certificate to be in CAS and
// returns the call bound to its CertId, or the error that fails the
// target without a Set.
func runWith(ctx context.Context, client Client, p *plan.Plan, opts Options, bind func(context.Context, plan.Call) (plan.Call, error)) []Result {
	r := newRun(ctx, client, p, opts)
	r.bind = bind
	defer r.close()
	idx := make([]int, len(p.Calls))
	for i := range idx {
		idx[i] = i
	}
	canary := min(opts.Canary, len(idx))
	if canary > 0 {
		r.runTargets(ctx, idx[:canary], true)
		for _, i := range idx[:canary] {
			if res := r.results[i]; !res.State.OK() {
				r.halt(&StopError{Code: "CanaryFailed", Cause: res.Err, Message: fmt.Sprintf(
					"the canary %s ended %s; the other targets were not started", res.Call.DomainName, res.State)})
				break
			}
		}
		idx = idx[canary:]
	}
	r.runTargets(ctx, idx, opts.Verify)
	return r.results
}

// run is the state of one Run.
type run struct {
	client  Client
	plan    *plan.Plan
	opts    Options
	log     *slog.Logger
	results []Result
	start   time.Time

	// laneCtx ends the lanes' dispatchers when the run returns.
	laneCtx    context.Context
	laneCancel context.CancelFunc
	dispatch   sync.WaitGroup

	mu    sync.Mutex
	lanes map[string]*lane
	cause error // why the run stopped; nil while it goes on

	done, throttled atomic.Int64

	// bind binds a CAS call to its CertId before its Set (RunCAS).
	bind func(context.Context, plan.Call) (plan.Call, error)
}

func newRun(ctx context.Context, client Client, p *plan.Plan, opts Options) *run {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The run keeps the plan's settings; its calls live in the results.
	settings := *p
	settings.Calls = nil
	r := &run{
		client: client, plan: &settings, opts: opts, log: log,
		results: make([]Result, len(p.Calls)),
		start:   time.Now(),
		lanes:   map[string]*lane{},
	}
	r.laneCtx, r.laneCancel = context.WithCancel(ctx)
	for i, c := range p.Calls {
		r.results[i] = Result{Call: c, State: NotStarted, index: i}
	}
	return r
}

// close stops the lanes' dispatchers and waits for them.
func (r *run) close() {
	r.laneCancel()
	r.dispatch.Wait()
}

// slots is the number of calls in flight an API gets: enough to keep its
// quota busy at the p99 latency, and no more.
func (r *run) slots(api plan.API) int {
	return max(1, int(math.Ceil(r.opts.quota(api.Action, api.Quota)*r.opts.latencyP99().Seconds())))
}

// lane returns the shared lane of an API, starting its dispatcher: one
// per plan.API.Lane, so two products' operations of one name (ALB's and
// NLB's UpdateListenerAttribute) have a lane, a pace and a RAM refusal
// each. Set APIs' lanes are gated (their first call goes alone).
func (r *run) lane(api plan.API, set bool) *lane {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := api.Lane()
	l, ok := r.lanes[key]
	if !ok {
		l = newLane(newPacer(r.opts.quota(api.Action, api.Quota)), r.slots(api), set)
		r.lanes[key] = l
		r.dispatch.Go(func() { l.dispatch(r.laneCtx) })
	}
	return l
}

// halt stops the run; the first cause wins.
func (r *run) halt(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cause == nil {
		r.cause = err
		r.log.Warn("run stopped", "reason", err.Error())
	}
}

// stopped returns why the run has stopped, or nil while it goes on.
func (r *run) stopped(ctx context.Context) error {
	r.mu.Lock()
	cause := r.cause
	r.mu.Unlock()
	switch {
	case cause != nil:
		return cause
	case !r.opts.StopAt.IsZero() && !time.Now().Before(r.opts.StopAt),
		errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The stop point, or the caller's deadline (which a call cut at
		// the end of the calls' window meets): a deadline, not a cancel.
		return deadlineStop()
	case ctx.Err() != nil:
		return canceledStop(ctx.Err())
	}
	return nil
}

// canceledStop is the stop of a run whose ctx ended with err.
func canceledStop(err error) *StopError {
	return &StopError{Code: "Canceled", Message: "the run was canceled: " + err.Error(), Cause: err}
}

// deadlineStop is the stop of a run that reached StopAt.
func deadlineStop() *StopError {
	return &StopError{Code: "Deadline", Message: "the function's deadline was near; a later run picks this target up"}
}

// startCtx bounds the waits before a call: pacing and backoff never run
// past StopAt. Calls themselves run under the caller's ctx and finish.
func (r *run) startCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.opts.StopAt.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, r.opts.StopAt)
}

// runTargets takes the given targets to their final states.
func (r *run) runTargets(ctx context.Context, idx []int, verify bool) {
	r.pool(ctx, idx, func(i int) {
		r.target(ctx, &r.results[i], verify)
		r.reportProgress()
	})
}

// pool calls work for each index, in order, each in its own goroutine,
// admitting the targets of each Set API (a group) as its admission allows:
// enough targets under way that the API's lane always has calls waiting,
// and no more, so that ten thousand targets never mean ten thousand
// goroutines and the memory a run takes follows its pace, not its size.
func (r *run) pool(ctx context.Context, idx []int, work func(i int)) {
	groups := map[string][]int{}
	var order []string
	for _, i := range idx {
		a := r.results[i].Call.API.Lane()
		if _, ok := groups[a]; !ok {
			order = append(order, a)
		}
		groups[a] = append(groups[a], i)
	}
	var wg sync.WaitGroup
	for _, a := range order {
		g := groups[a]
		api := r.results[g[0]].Call.API
		adm := newAdmission(r.opts.quota(api.Action, api.Quota), r.slots(api))
		wg.Go(func() {
			var tg sync.WaitGroup
			for _, i := range g {
				adm.enter()
				tg.Go(func() {
					start := time.Now()
					work(i)
					res := &r.results[i]
					adm.leave(time.Since(start)-res.queued, res.Attempts > 0, res.readPace)
				})
			}
			tg.Wait()
		})
	}
	wg.Wait()
}

func (r *run) reportProgress() {
	n := r.done.Add(1)
	if r.opts.Progress != nil {
		r.opts.Progress(Progress{
			Done: int(n), Total: len(r.results),
			Throttled: int(r.throttled.Load()), Elapsed: time.Since(r.start),
		})
	}
}

// target takes one target from Describe to its final state. A panic
// anywhere on the way fails the target, never the process.
func (r *run) target(ctx context.Context, res *Result, verify bool) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			res.State, res.Err = Failed, newPanicError(v)
			r.log.Error("panic deploying a target", "call", res.Call, "error", res.Err.Error(), "stack", string(debug.Stack()))
		}
		res.Duration = time.Since(start)
		r.logResult(res)
	}()
	if err := r.stopped(ctx); err != nil {
		res.State, res.Err = NotStarted, err
		return
	}
	if r.judge(ctx, res) {
		return
	}
	if r.opts.DryRun {
		res.State = Planned
		return
	}
	r.deploy(ctx, res, verify)
}

// judge reads what the target carries and decides whether it is to be
// set: done reports that res holds the target's final state (unchanged,
// skipped, or failed because what it carries could not be read).
func (r *run) judge(ctx context.Context, res *Result) (done bool) {
	// blind: the target may be set without knowing what it carries.
	blind := !r.opts.Rollback && (r.opts.Force || r.plan.Replace == plan.ReplaceAlways)
	if res.Call.Target.Staging {
		// Describe shows the production certificate: a staging target is
		// never compared with it, so it is set every time and not verified.
		res.Note = NoteStaging
		return false
	}
	before, err := r.describeBefore(ctx, res, blind)
	if err != nil {
		return r.unread(res, err, blind)
	}
	res.Before = &before
	if r.opts.Force && !r.opts.Rollback {
		return false
	}
	if r.carries(before) {
		res.State = Unchanged
		return true
	}
	// A rollback replaces only a later certificate; a deployment only an
	// earlier one (replace: older).
	if r.opts.Rollback {
		if why := r.notLater(before); why != "" {
			res.State, res.Note = Skipped, why
			return true
		}
	} else if why := r.newer(before); why != "" {
		res.State, res.Note = SkippedNewer, why
		return true
	}
	return false
}

// unread settles a target whose Describe failed with err: done unless
// the target may be set blind.
func (r *run) unread(res *Result, err error, blind bool) (done bool) {
	c, _ := classify(err)
	switch {
	case c == failure.Auth:
		res.State, res.Err = Failed, err
	case isStop(err):
		// Stopped before the target was read: not started, or failed
		// (transient) when its Describe had failed first.
		res.State, res.Err = NotStarted, err
		if res.Describes > 0 {
			res.State = Failed
		}
	case !blind:
		// What the target carries is unknown: setting it could replace
		// this certificate's successor. Throttled or transient, a later
		// run reads it again; refused (a missing Describe permission),
		// only replace: always sets it without comparing.
		res.State, res.Err = Failed, &unreadError{err: err, class: c}
	default:
		return false
	}
	return true
}

// deploy sets the target (bound to its CAS certificate first, when it
// goes by reference) and, when verify asks, confirms it.
func (r *run) deploy(ctx context.Context, res *Result, verify bool) {
	if r.bind != nil && res.Call.CASRegion != "" {
		// The certificate is looked up or uploaded while the targets are
		// described; the Set waits for it, and is not sent without it.
		c, err := r.bind(ctx, res.Call)
		if err != nil {
			res.State, res.Err = Failed, err
			if isStop(err) {
				res.State = NotStarted
			}
			return
		}
		res.Call = c
	}
	if err := r.set(ctx, res); err != nil {
		var sn *skipNewerError
		if errors.As(err, &sn) {
			res.State, res.Note = SkippedNewer, sn.note
			return
		}
		res.State, res.Err = Failed, err
		if res.Attempts == 0 && isStop(err) {
			res.State = NotStarted
		}
		return
	}
	res.State = Deployed
	if verify && !res.Call.Target.Staging {
		if err := r.verify(ctx, res); err != nil {
			res.State, res.Err = Failed, err
		}
	}
}

func isStop(err error) bool {
	var se *StopError
	return errors.As(err, &se)
}

// describeBefore reads what the target carries before its Set. Unless
// the target may be set blind, no Set is sent without this answer, so a
// Describe that keeps failing is retried within the Set's budgets (it
// goes back to its lane like a throttled Set), not the short ones of a
// Describe that only confirms.
func (r *run) describeBefore(ctx context.Context, res *Result, blind bool) (Installed, error) {
	if blind {
		return r.describe(ctx, res, describeAttempts, describeThrottled)
	}
	return r.describe(ctx, res, r.opts.maxAttempts(), r.opts.maxThrottled())
}

// describe reads what the target carries, retrying throttled and transient
// failures up to n and maxThrottled calls. An auth failure halts the run.
// Its calls count in Describes and DescribeThrottled, not in Attempts and
// Throttled.
func (r *run) describe(ctx context.Context, res *Result, n, maxThrottled int) (Installed, error) {
	prio := prioFirst
	if res.Attempts > 0 {
		prio = prioRetry // verifying: the target is under way
	}
	inst, err := r.client.Describe(ctx, res.Call, &caller{r: r, res: res, prio: prio, n: n, maxThrottled: maxThrottled})
	return inst, err
}

// set sends the Set call until it succeeds, fails permanently, or runs out
// of attempts or time. A Set that got no answer (a reset connection, a
// timeout) may have been applied: before it is sent again, the target is
// described (see applied).
func (r *run) set(ctx context.Context, res *Result) error {
	var recheck func() (bool, error)
	if !res.Call.Target.Staging {
		recheck = func() (bool, error) { return r.applied(ctx, res) }
	}
	return r.client.Set(ctx, res.Call, &caller{r: r, res: res, set: true, prio: prioFirst,
		n: r.opts.maxAttempts(), maxThrottled: r.opts.maxThrottled(), recheck: recheck})
}

// caller is the Caller of one target's Set (set) or Describe: each call
// goes through attempt in its API's lane, with the target's budgets. A
// Set's calls count in Attempts and Throttled, a Describe's in Describes
// and DescribeThrottled. recheck applies to the calls of the target's Set
// API, whose effect Describe shows.
type caller struct {
	r               *run
	res             *Result
	set             bool
	prio            int
	n, maxThrottled int
	recheck         func() (bool, error)
}

// Call makes one call of api through its lane.
func (c *caller) Call(ctx context.Context, api plan.API, send func() (string, error)) error {
	recheck := c.recheck
	if api.Action != c.res.Call.API.Action {
		recheck = nil
	}
	return c.attempt(ctx, api, recheck, func() (string, error) {
		if c.set {
			c.res.Attempts++
		} else {
			c.res.Describes++
			c.res.readPace = max(c.res.readPace, c.r.opts.quota(api.Action, api.Quota))
		}
		return send()
	})
}

// NoteUnanswered is the Note of a target whose Set got no answer and
// whose Describe then showed the certificate in place: the Set was
// applied, and was not sent again.
const NoteUnanswered = "a Set call got no answer (the connection dropped); Describe then showed this certificate in place, so it was not sent again"

// applied reads, after a Set that got no answer, whether the target now
// carries the certificate: true when it does (the Set took effect), a
// *skipNewerError when it carries one issued later (which is not
// replaced), a stop when the run stopped, and false otherwise, also when
// the Describe fails within the Set's budgets: the target carried an
// older certificate before, so the Set is sent again.
func (r *run) applied(ctx context.Context, res *Result) (bool, error) {
	got, err := r.describe(ctx, res, r.opts.maxAttempts(), r.opts.maxThrottled())
	if err != nil {
		if isStop(err) {
			return false, err
		}
		return false, nil
	}
	if r.carries(got) {
		res.Note = NoteUnanswered
		return true, nil
	}
	if !r.opts.Force && !r.opts.Rollback {
		if why := r.newer(got); why != "" {
			return false, &skipNewerError{note: why}
		}
	}
	return false, nil
}

// skipNewerError ends a target SkippedNewer from within its Set's retries.
type skipNewerError struct{ note string }

func (e *skipNewerError) Error() string { return e.note }

// unreadError fails a target that was not set because what it carries
// could not be read (unless replace: always, a target is not set without
// knowing). It unwraps to the Describe's last error, so the report shows
// that error's code and class.
type unreadError struct {
	err   error
	class failure.Class
}

func (e *unreadError) Error() string {
	if e.class == failure.Throttled || e.class == failure.Transient {
		return e.err.Error() + "; not set, since what the target carries could not be read: a later run reads it again"
	}
	if e.class == failure.Forbidden {
		return e.err.Error() + "; not set, since what the target carries could not be read: grant the role its Describe " +
			"action, or set replace: always to set it without comparing"
	}
	return e.err.Error() + "; not set, since what the target carries could not be read (replace: always sets it without comparing)"
}

func (e *unreadError) Unwrap() error { return e.err }

// verify confirms by Describe that the target now carries the certificate.
func (r *run) verify(ctx context.Context, res *Result) error {
	got, err := r.describe(ctx, res, describeAttempts, describeThrottled)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if !r.carries(got) {
		return &VerifyError{Found: got, Want: r.plan.CertName}
	}
	return nil
}

// attempt runs call through api's lane until it succeeds, fails for good,
// or runs out of tries: n calls answered with a transient error, or
// maxThrottled calls answered with throttling. Throttling has its own
// budget because a throttled call was not processed at all: at a 30%
// throttling rate, 8 tries would leave about one target in 15,000 failed
// for nothing but bad luck, while the pacer, not the retry count, is what
// keeps the load in check.
//
// A retry waits outside the lane, holding no call slot, until it is due
// (see retryAt), then goes back to the lane ahead of the targets not yet
// started. An answer that every call of the API would get alike (the
// certificate refused, the permission missing) refuses the lane: the
// API's other calls are not sent.
//
// recheck, when not nil, is called before a call is sent again after a
// transient failure that got no answer (the call may have been applied);
// it runs outside the lane. Its true ends the attempt as a success, its
// error ends it with that error.
//
// It returns nil on success, the run's StopError when it stopped before a
// try, the last error followed by the stop (see stopAfter) when it
// stopped after one, or the last error.
func (c *caller) attempt(ctx context.Context, api plan.API, recheck func() (bool, error), call func() (string, error)) error {
	r, res, set, prio, n, maxThrottled := c.r, c.res, c.set, c.prio, c.n, c.maxThrottled
	l := r.lane(api, set)
	var last error
	var due time.Time
	tries, throttles := 0, 0
	unanswered := false
	for {
		if err := r.stopped(ctx); err != nil {
			return stopAfter(err, last)
		}
		if !due.IsZero() && !r.sleepUntil(ctx, due) {
			return stopAfter(r.stopCause(ctx), last)
		}
		if unanswered && recheck != nil {
			unanswered = false
			done, err := recheck()
			switch {
			case isStop(err):
				return stopAfter(err, last)
			case err != nil:
				return err
			case done:
				return nil
			}
		}
		wctx, cancel := r.startCtx(ctx)
		asked := time.Now()
		err := l.acquire(wctx, prio, uint64(res.index))
		res.queued += time.Since(asked)
		cancel()
		if err != nil {
			var ns *NotSentError
			if errors.As(err, &ns) {
				return err
			}
			return stopAfter(r.stopCause(ctx), last)
		}
		if err := r.stopped(ctx); err != nil {
			// The run stopped while the call waited for its turn.
			l.release(false)
			return stopAfter(err, last)
		}
		sent := time.Now()
		rid, err := r.safeCall(call)
		if rid == "" {
			rid = requestIDOf(err)
		}
		if rid != "" {
			res.RequestIDs = append(res.RequestIDs, rid)
		}
		class, hint := classify(err)
		l.pc.observe(time.Now(), err != nil && class == failure.Throttled)
		if err != nil && (class == failure.Refused || class == failure.Forbidden) {
			l.refuse(&NotSentError{API: api.Action, Domain: res.Call.DomainName, Err: err})
		}
		l.release(true)
		if err == nil {
			return nil
		}
		last = err
		switch class {
		case failure.Throttled:
			throttles++
			if set {
				res.Throttled++
				r.throttled.Add(1)
			} else {
				res.DescribeThrottled++
			}
			if throttles >= maxThrottled {
				return err
			}
		case failure.Transient:
			tries++
			if tries >= n {
				return err
			}
			unanswered = rid == ""
		case failure.Auth:
			r.halt(&StopError{Code: "AuthFailed", Cause: err,
				Message: "stopped: the credentials were refused (" + err.Error() + ")"})
			return err
		default:
			return err
		}
		prio = prioRetry
		due = r.retryAt(class, tries, hint, sent)
		if r.log.Enabled(ctx, slog.LevelDebug) {
			var delay time.Duration // zero due: as soon as the pacer allows
			if !due.IsZero() {
				delay = max(0, time.Until(due))
			}
			r.log.Debug("retrying", "call", res.Call, "api", api.Action, "class", class.String(), "try", tries+throttles,
				"delayMs", delay.Milliseconds(), "error", err.Error())
		}
	}
}

// stopCause is why waiting for a call ended: the run's stop, or the
// deadline.
func (r *run) stopCause(ctx context.Context) error {
	if err := r.stopped(ctx); err != nil {
		return err
	}
	return deadlineStop()
}

// safeCall makes one client call; a panic in the client becomes the
// call's (permanent) error instead of killing the process, and its stack
// is logged (a stack shows addresses, never argument contents).
//
// The call runs on a goroutine of its own, which ends with it: the SDK's
// request building and signing grow a stack several times the size the
// target's goroutine needs to wait in a lane, and a grown stack is only
// given back slowly, so the targets under way would otherwise each keep
// the largest stack any of their calls needed.
func (r *run) safeCall(call func() (string, error)) (rid string, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				pe := newPanicError(v)
				r.log.Error("panic in a call", "error", pe.Error(), "stack", string(debug.Stack()))
				rid, err = "", pe
			}
		}()
		rid, err = call()
	}()
	<-done
	return rid, err
}

// stopAfter returns the stop cause, or, when a call was already made, the
// last call's error followed by the stop, so that the report shows both
// and callers find both (errors.As finds the StopError).
func stopAfter(stop, last error) error {
	if last == nil {
		return stop
	}
	return &stoppedError{last: last, stop: stop}
}

// stoppedError is a call's last failure followed by the run's stop. It
// unwraps to both: the call's error first (its class, code and
// RequestId), then the stop.
type stoppedError struct{ last, stop error }

func (e *stoppedError) Error() string   { return e.last.Error() + " (then " + e.stop.Error() + ")" }
func (e *stoppedError) Unwrap() []error { return []error{e.last, e.stop} }

// retryAt is when a failed call may be tried again; the zero time means
// as soon as the pacer allows.
//
// A throttled call is retried as soon as the pacer allows: the API's pacer
// already holds the aggregate load (and slows it when throttling is more
// than noise), so a per-target delay would only leave tokens unused and
// lengthen the run's tail. When the answer carries a retry-after hint (a
// throttling answer's TimeLeft), the retry waits for it, counted from when
// the throttled call was sent: the service judged that call when it
// arrived, so a retry sent TimeLeft later arrives TimeLeft later. Never
// more than MaxDelay.
//
// A transient failure (5xx, busy, network) backs off exponentially with
// full jitter: a uniform delay in [0, min(MaxDelay, BaseDelay × 2^(try-1))].
func (r *run) retryAt(class failure.Class, try int, hint time.Duration, sent time.Time) time.Time {
	if class == failure.Throttled {
		if hint <= 0 {
			return time.Time{}
		}
		return sent.Add(min(hint, r.opts.maxDelay()))
	}
	return time.Now().Add(r.opts.backoff(try))
}

// backoff is the exponential backoff with full jitter of a transient
// failure's try-th retry.
func (o Options) backoff(try int) time.Duration {
	ceil := min(o.maxDelay(), o.baseDelay()<<min(max(try, 1)-1, 30))
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// sleepUntil waits until t, or until ctx ends or StopAt would pass; it
// reports whether t was reached.
func (r *run) sleepUntil(ctx context.Context, t time.Time) bool {
	if !r.opts.StopAt.IsZero() && t.After(r.opts.StopAt) {
		return false
	}
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// carries reports whether a domain already serves this plan's certificate:
// HTTPS on, and the same fingerprint or the same CertName (which embeds it).
func (r *run) carries(in Installed) bool {
	if !in.HTTPS {
		return false
	}
	return (in.Fingerprint != "" && in.Fingerprint == r.plan.Bundle.Fingerprint) ||
		(in.CertName != "" && (in.CertName == r.plan.CertName || in.CertName == r.plan.CASName))
}

// newer says why a domain's certificate must not be replaced by this one,
// or "" when it may be: unless the plan says Replace always, a certificate
// issued later (its not-before, where Describe gives it) is not replaced.
// A certificate that was issued earlier is replaced even when it expires
// later: a one-year certificate must not block the 90-day ones that
// follow it. Only when Describe gives no issue date is the expiry
// compared, and the reason says so.
func (r *run) newer(in Installed) string {
	if !in.HTTPS || r.plan.Replace == plan.ReplaceAlways {
		return ""
	}
	ours := r.plan.Bundle
	const day = "2006-01-02 15:04 MST"
	if !in.NotBefore.IsZero() && !ours.NotBefore.IsZero() {
		if in.NotBefore.After(ours.NotBefore) {
			return fmt.Sprintf("the domain carries %s, issued %s, later than this certificate (%s); set replace: always to replace it",
				certLabel(in), in.NotBefore.UTC().Format(day), ours.NotBefore.UTC().Format(day))
		}
		return ""
	}
	if in.NotAfter.After(ours.NotAfter) {
		return fmt.Sprintf("the domain carries %s, which expires %s, later than this certificate (%s); Describe gave no issue date to compare; set replace: always to replace it",
			certLabel(in), in.NotAfter.UTC().Format(day), ours.NotAfter.UTC().Format(day))
	}
	return ""
}

func certLabel(in Installed) string {
	if in.CertName != "" {
		return fmt.Sprintf("%q", in.CertName)
	}
	return "a certificate"
}

// requestIDOf extracts the RequestId an error carries, if any.
func requestIDOf(err error) string {
	var e interface{ APIRequestID() string }
	if errors.As(err, &e) {
		return e.APIRequestID()
	}
	return ""
}

func (r *run) logResult(res *Result) {
	attrs := []any{
		"call", res.Call, "state", string(res.State), "attempts", res.Attempts,
		"throttled", res.Throttled, "durationMs", res.Duration.Milliseconds(),
	}
	if res.Err != nil {
		attrs = append(attrs, "error", res.Err.Error())
		r.log.Warn("target", attrs...)
		return
	}
	r.log.Info("target", attrs...)
}
