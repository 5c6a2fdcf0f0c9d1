// Package fanout turns a plan into installed certificates as fast as the
// account's API quotas allow: calls are paced per API, retried with backoff
// when throttled or failing transiently, skipped where the domain already
// carries the certificate, and every target ends in exactly one State.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certdrop/certdrop/shared/plan"
)

// Run deploys p's calls through client and returns one Result per call, in
// the plan's order. It never returns early with targets unaccounted for:
// when the run stops (ctx ends, StopAt passes, an auth failure, a failed
// canary) the targets not yet started end NotStarted with the cause.
func Run(ctx context.Context, client Client, p *plan.Plan, opts Options) []Result {
	r := newRun(client, p, opts)
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

	mu     sync.Mutex
	pacers map[string]*pacer
	cause  error // why the run stopped; nil while it goes on

	done, throttled atomic.Int64
}

func newRun(client Client, p *plan.Plan, opts Options) *run {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &run{
		client: client, plan: p, opts: opts, log: log,
		results: make([]Result, len(p.Calls)),
		start:   time.Now(),
		pacers:  map[string]*pacer{},
	}
	for i, c := range p.Calls {
		r.results[i] = Result{Call: c, State: NotStarted}
	}
	return r
}

// pacer returns the shared pacer of an API.
func (r *run) pacer(api plan.API) *pacer {
	r.mu.Lock()
	defer r.mu.Unlock()
	pc, ok := r.pacers[api.Action]
	if !ok {
		pc = newPacer(r.opts.quota(api.Action, api.Quota))
		r.pacers[api.Action] = pc
	}
	return pc
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
	case ctx.Err() != nil:
		return &StopError{Code: "Canceled", Message: "the run was canceled: " + ctx.Err().Error(), Cause: ctx.Err()}
	case !r.opts.StopAt.IsZero() && !time.Now().Before(r.opts.StopAt):
		return &StopError{Code: "Deadline", Message: "the function's deadline was near; a later run picks this target up"}
	}
	return nil
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

// pool calls work for each index with, per Set API, a pool of workers sized
// to keep the API's quota busy at its p99 latency, and no more.
func (r *run) pool(ctx context.Context, idx []int, work func(i int)) {
	groups := map[string][]int{}
	var order []string
	for _, i := range idx {
		a := r.plan.Calls[i].API.Action
		if _, ok := groups[a]; !ok {
			order = append(order, a)
		}
		groups[a] = append(groups[a], i)
	}
	var wg sync.WaitGroup
	for _, a := range order {
		g := groups[a]
		api := r.plan.Calls[g[0]].API
		workers := int(math.Ceil(r.opts.quota(api.Action, api.Quota) * r.opts.latencyP99().Seconds()))
		workers = max(1, min(workers, len(g)))
		jobs := make(chan int)
		for range workers {
			wg.Go(func() {
				for i := range jobs {
					work(i)
				}
			})
		}
		wg.Go(func() {
			defer close(jobs)
			for _, i := range g {
				jobs <- i
			}
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

// target takes one target from Describe to its final state.
func (r *run) target(ctx context.Context, res *Result, verify bool) {
	start := time.Now()
	defer func() {
		res.Duration = time.Since(start)
		r.logResult(res)
	}()
	if err := r.stopped(ctx); err != nil {
		res.State, res.Err = NotStarted, err
		return
	}
	if before, err := r.describe(ctx, res); err == nil {
		res.Before = &before
		if !r.opts.Force {
			switch {
			case r.carries(before):
				res.State = Unchanged
				return
			case r.newer(before):
				res.State = SkippedNewer
				return
			}
		}
	} else if isStop(err) {
		res.State, res.Err = NotStarted, err
		return
	} else if c, _ := classify(err); c == Auth {
		res.State, res.Err = Failed, err
		return
	}
	if r.opts.DryRun {
		res.State = Planned
		return
	}
	if err := r.set(ctx, res); err != nil {
		res.State, res.Err = Failed, err
		if res.Attempts == 0 && isStop(err) {
			res.State = NotStarted
		}
		return
	}
	res.State = Deployed
	// A staging (Env=staging) certificate is not what Describe reports,
	// so it cannot be confirmed that way.
	if verify && res.Call.Param("Env") != "staging" {
		if err := r.verify(ctx, res); err != nil {
			res.State, res.Err = Failed, err
		}
	}
}

func isStop(err error) bool {
	var se *StopError
	return errors.As(err, &se)
}

// describe reads what the target carries, retrying throttled and transient
// failures a few times. An auth failure halts the run.
func (r *run) describe(ctx context.Context, res *Result) (Installed, error) {
	var inst Installed
	err := r.attempt(ctx, res, plan.DescribeAPI(res.Call.Target.Product), describeAttempts, describeThrottled, func() (string, error) {
		var err error
		inst, err = r.client.Describe(ctx, res.Call)
		return inst.RequestID, err
	})
	return inst, err
}

// set sends the Set call until it succeeds, fails permanently, or runs out
// of attempts or time.
func (r *run) set(ctx context.Context, res *Result) error {
	return r.attempt(ctx, res, res.Call.API, r.opts.maxAttempts(), r.opts.maxThrottled(), func() (string, error) {
		res.Attempts++
		return r.client.Set(ctx, res.Call)
	})
}

// verify confirms by Describe that the target now carries the certificate.
func (r *run) verify(ctx context.Context, res *Result) error {
	got, err := r.describe(ctx, res)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if !r.carries(got) {
		return &VerifyError{Found: got, Want: r.plan.CertName}
	}
	return nil
}

// attempt runs call under api's pacer until it succeeds, fails for good,
// or runs out of tries: n calls answered with a transient error, or
// maxThrottled calls answered with throttling. Throttling has its own
// budget because a throttled call was not processed at all: at a 30%
// throttling rate, 8 tries would leave about one target in 15,000 failed
// for nothing but bad luck, while the pacer, not the retry count, is what
// keeps the load in check. Between tries it backs off. It returns nil on
// success, the run's StopError when it stopped before a try, or the last
// error.
func (r *run) attempt(ctx context.Context, res *Result, api plan.API, n, maxThrottled int, call func() (string, error)) error {
	pc := r.pacer(api)
	var last error
	tries, throttles := 0, 0
	for {
		if err := r.stopped(ctx); err != nil {
			return stopAfter(err, last)
		}
		wctx, cancel := r.startCtx(ctx)
		err := pc.wait(wctx)
		cancel()
		if err != nil {
			if serr := r.stopped(ctx); serr != nil {
				return stopAfter(serr, last)
			}
			return stopAfter(&StopError{Code: "Deadline", Message: "the function's deadline was near; a later run picks this target up"}, last)
		}
		rid, err := call()
		if rid == "" {
			rid = requestIDOf(err)
		}
		if rid != "" {
			res.RequestIDs = append(res.RequestIDs, rid)
		}
		class, hint := classify(err)
		pc.observe(time.Now(), err != nil && class == Throttled)
		if err == nil {
			return nil
		}
		last = err
		switch class {
		case Throttled:
			throttles++
			res.Throttled++
			r.throttled.Add(1)
			if throttles >= maxThrottled {
				return err
			}
		case Transient:
			tries++
			if tries >= n {
				return err
			}
		case Auth:
			r.halt(&StopError{Code: "AuthFailed", Cause: err,
				Message: "stopped: the credentials were refused (" + err.Error() + ")"})
			return err
		default:
			return err
		}
		d := r.backoff(tries+throttles, hint)
		r.log.Debug("retrying", "call", res.Call, "class", class.String(), "try", tries+throttles, "delay", d, "error", err.Error())
		if !r.sleep(ctx, d) {
			if serr := r.stopped(ctx); serr != nil {
				return stopAfter(serr, last)
			}
			return stopAfter(&StopError{Code: "Deadline", Message: "the function's deadline was near; a later run picks this target up"}, last)
		}
	}
}

// stopAfter returns the stop cause, or, when a call was already made, the
// last call's error wrapped with the stop so that the report shows both.
func stopAfter(stop, last error) error {
	if last == nil {
		return stop
	}
	return fmt.Errorf("%w (then %s)", last, stop.Error())
}

// backoff is the pause before a retry. When the server said when to try
// again (a throttling answer's TimeLeft), that time, plus a jitter of up to
// BaseDelay so that the targets it throttled together do not return
// together; otherwise exponential with full jitter: a uniform delay in
// [0, min(MaxDelay, BaseDelay × 2^(try-1))]. Never more than MaxDelay. The
// hint is followed rather than added to the exponential schedule because
// the aggregate load is held by the API's pacer, not by per-target delays:
// waiting longer than the server asks only lengthens the run's tail.
func (r *run) backoff(try int, hint time.Duration) time.Duration {
	if hint > 0 {
		return min(hint+time.Duration(rand.Int64N(int64(r.opts.baseDelay())+1)), r.opts.maxDelay())
	}
	ceil := min(r.opts.maxDelay(), r.opts.baseDelay()<<min(try-1, 30))
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// sleep waits d, or until ctx ends or StopAt would pass; it reports whether
// the full delay elapsed.
func (r *run) sleep(ctx context.Context, d time.Duration) bool {
	if !r.opts.StopAt.IsZero() && time.Now().Add(d).After(r.opts.StopAt) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
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
		(in.CertName != "" && in.CertName == r.plan.CertName)
}

// newer reports whether a domain serves a certificate that outlives this one.
func (r *run) newer(in Installed) bool {
	return in.HTTPS && in.NotAfter.After(r.plan.Bundle.NotAfter)
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
