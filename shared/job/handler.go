package job

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/alert"
	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fcruntime"
	"github.com/certdrop/certdrop/shared/report"
	"github.com/certdrop/certdrop/shared/store"
)

// How the report is written: a few tries, each bounded, so that a
// connection refused once or a slow answer does not lose it. A small
// object's PutObject within the region answers in well under a second.
const (
	reportAttempts       = 3
	reportAttemptTimeout = 3 * time.Second
)

// maxPosts is how many webhook messages are posted at a time.
const maxPosts = 4

// Invoke is the Function Compute handler: it decodes the event, runs it,
// writes the outcome under the report prefix, notifies the webhook, and
// answers with the outcome. It answers as failed (so that FC retries the
// invocation) only when the outcome says a retry can help (Outcome.Retry);
// a retry of the same request writes the same report key.
func (r *Runner) Invoke(ctx context.Context, fc *fcruntime.Invocation) ([]byte, bool) {
	started := r.now()
	deadline := fc.Deadline()
	if deadline.IsZero() && r.Config.Timeout > 0 && !fc.Received.IsZero() {
		deadline = fc.Received.Add(r.Config.Timeout)
	}
	sched := r.Config.schedule(time.Now(), deadline)
	err := fc.BodyError
	var ev *event.Event
	if err == nil {
		ev, err = event.Parse(fc.Body)
	}
	var out *Outcome
	day := started
	if err != nil {
		fc.Log.Error("unrecognized event", "error", err.Error())
		out = &Outcome{RequestID: fc.RequestID, Bucket: r.Config.Bucket,
			Error: &report.Error{Code: "BadEvent", Message: clip(err.Error())}}
		out.Reports = []*report.Report{}
	} else {
		out = r.Run(ctx, Request{Event: ev, RequestID: fc.RequestID, Credentials: credentialsOf(fc),
			Deadline: deadline, Log: fc.Log})
		day = eventDay(ev, started)
	}
	out.started = started
	if out.Worth() {
		// The report and, beside it, the status page (two OSS writes;
		// the page links the report by its key, known in advance), then
		// the alerts, each in its share of the margin; the report again
		// when an alert was not delivered or the status page not written.
		statusDone := r.status(ctx, fc, out, day, sched)
		r.save(ctx, fc, out, day, sched)
		statusDone()
		r.notify(ctx, fc, out, sched)
		if (out.AlertError != nil || out.StatusError != nil) && out.ReportKey != "" {
			r.record(ctx, fc, out, day, sched)
		}
	}
	out.Status = out.status()
	body, err := json.Marshal(out)
	if err != nil {
		body, _ = json.Marshal(map[string]string{"error": err.Error()}) // JSON, not %q's escapes
		return body, true
	}
	return body, out.Retry()
}

// Initialize is the warm-up (POST /initialize): it loads the system roots
// and, when FC passed credentials, builds the API client, so that the first
// invocation does neither and a misconfigured endpoint fails here.
func (r *Runner) Initialize(ctx context.Context, fc *fcruntime.Invocation) error {
	if _, err := x509.SystemCertPool(); err != nil {
		fc.Log.Warn("no system roots; only CERTDROP_TRUST_ROOTS are trusted", "error", err.Error())
	}
	if fc.Credentials == nil {
		return nil
	}
	_, err := r.NewClient(ctx, credentialsOf(fc))
	return err
}

// eventDay is the day an event happened, from the event itself when it
// says (an OSS record's eventTime, a timer's triggerTime), so that FC's
// retries of an invocation, which carry the same event, name the same day.
func eventDay(ev *event.Event, fallback time.Time) time.Time {
	var s string
	switch {
	case ev.OSS != nil && len(ev.OSS.Events) > 0:
		s = ev.OSS.Events[0].EventTime
	case ev.Timer != nil:
		s = ev.Timer.TriggerTime
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	return fallback
}

// ReportKey is where an invocation's outcome is written:
// <prefix><yyyy>/<mm>/<dd>/<requestId>.json, the day being the event's.
// It depends on the request only, so a retry of the same request replaces
// its report rather than adding one.
func ReportKey(prefix string, day time.Time, requestID string) string {
	return fmt.Sprintf("%s%s/%s.json", prefix, day.UTC().Format("2006/01/02"), requestID)
}

// save writes the outcome to the report prefix of CERTDROP_BUCKET, trying
// again after a transient failure (at most reportAttempts tries of
// sched.reportTry each, ending by sched.reportEnd; the safety margin
// leaves time for them). A report that cannot be written fails the
// invocation: the report is the record people rely on.
func (r *Runner) save(ctx context.Context, fc *fcruntime.Invocation, out *Outcome, day time.Time, sched schedule) {
	if r.Config.Bucket == "" {
		return
	}
	ctx, cancel := until(ctx, sched.reportEnd)
	defer cancel()
	key, err := r.write(ctx, fc, out, day, reportAttempts, sched.reportTry)
	if err == nil {
		out.ReportKey = key
		fc.Log.Info("report written", "key", out.ReportKey)
		return
	}
	fc.Log.Error("cannot write the report", "error", err.Error())
	out.ReportError = &report.Error{Code: "ReportNotWritten", Message: clip(err.Error()), Hint: reportHint(err), Transient: transient(err)}
}

// record writes the outcome again, once, so that the report says which
// alerts were not delivered; it ends by sched.recordEnd. When it cannot,
// the outcome (the invocation's answer) says so.
func (r *Runner) record(ctx context.Context, fc *fcruntime.Invocation, out *Outcome, day time.Time, sched schedule) {
	ctx, cancel := until(ctx, sched.recordEnd)
	defer cancel()
	if _, err := r.write(ctx, fc, out, day, 1, sched.reportTry); err != nil {
		fc.Log.Error("cannot record the undelivered alerts or the unwritten status page in the report", "error", err.Error())
		for _, e := range []*report.Error{out.AlertError, out.StatusError} {
			if e != nil {
				e.Message = clip(e.Message + "; the report does not say so: " + err.Error())
			}
		}
	}
}

// status starts writing the status page (writeStatus) from what out says
// now, ending by sched.statusEnd, and returns the function that waits for
// it: what it could not do is then out.StatusError. Nothing else may
// change out until it is called but the report's write.
func (r *Runner) status(ctx context.Context, fc *fcruntime.Invocation, out *Outcome, day time.Time, sched schedule) (wait func()) {
	if r.Config.Bucket == "" || out.Busy() {
		return func() {}
	}
	now := r.now()
	u, opts := statusUpdate(out, now)
	if u.Run != nil {
		u.Run.ReportKey = ReportKey(r.Config.ReportPrefix, day, out.RequestID)
	}
	ctx, cancel := until(ctx, sched.statusEnd)
	done := make(chan error, 1)
	go func() { done <- r.writeStatus(ctx, credentialsOf(fc), u, opts, now) }()
	return func() {
		defer cancel()
		if err := <-done; err != nil {
			fc.Log.Error("status page not written", "error", err.Error())
			out.StatusError = statusError(err)
			return
		}
		page, _ := r.Config.StatusKeys()
		fc.Log.Info("status page written", "key", page)
	}
}

// write puts the outcome under its report key, trying again after a
// transient failure up to tries times, each try within try; it returns
// the oss:// URL written.
func (r *Runner) write(ctx context.Context, fc *fcruntime.Invocation, out *Outcome, day time.Time, tries int, try time.Duration) (string, error) {
	bucket := r.Config.Bucket
	key := ReportKey(r.Config.ReportPrefix, day, out.RequestID)
	st, err := r.OpenStore(ctx, bucket, credentialsOf(fc))
	if err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return "", err
	}
	// The same retry as the store's reads: transient failures only,
	// never past ctx.
	err = store.Retry{Attempts: tries, AttemptTimeout: try}.Do(ctx, func(actx context.Context) error {
		return st.Put(actx, key, data, "application/json")
	}, func(n int, err error) {
		fc.Log.Warn("report not written; trying again", "try", n, "error", err.Error())
	})
	if err != nil {
		return "", err
	}
	return "oss://" + bucket + "/" + key, nil
}

// reportHint says what to do about a report that could not be written.
func reportHint(err error) string {
	return storeHint(err, "oss:PutObject under CERTDROP_REPORT_PREFIX in CERTDROP_BUCKET")
}

// storeHint says what to do about a store error, by its type: a refusal
// is a permission (the one named by perm), a configuration error is the
// configuration (credentials included), anything else is the network.
func storeHint(err error, perm string) string {
	switch {
	case errors.Is(err, store.ErrDenied):
		return "OSS refused: check that the role may " + perm + " and that its credentials are valid"
	case errors.Is(err, store.ErrNotFound):
		return "the bucket or object does not exist in the function's region"
	case errors.Is(err, store.ErrConfig):
		return "the store is misconfigured: check the credentials (the function's role), FC_REGION and CERTDROP_OSS_ENDPOINT"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "OSS did not answer in time: the invocation is retried"
	}
	var se *store.Error
	if errors.As(err, &se) {
		return "OSS could not be reached (connection refused or reset, DNS, 5xx): check CERTDROP_OSS_ENDPOINT and the network; the invocation is retried"
	}
	return ""
}

// notify tells the webhooks. A destination that hears of failures only
// (the default) is sent one message about this outcome's problems that
// it was not told of in the last day, and its recoveries (alerts.go); an
// _ON=always destination hears of each report, then of everything else
// the outcome holds: bundles refused or waiting too long, a run that
// could not start, a report not written, expiring certificates. The
// messages are posted concurrently (maxPosts at a time), each in at most
// two bounded tries, and posting ends by sched.alertsEnd, less the time
// to write the alert state. A message not delivered (no answer, an
// answer other than 2xx or a chat's error code, or not posted before the
// end) is counted in out.AlertError, as is an alert state not written;
// it never fails the invocation.
func (r *Runner) notify(ctx context.Context, fc *fcruntime.Invocation, out *Outcome, sched schedule) {
	if len(r.Config.Webhooks) == 0 {
		return
	}
	ctx, cancel := until(ctx, sched.alertsEnd)
	defer cancel()
	var posts []post
	var failureOnly []report.Webhook
	for _, hook := range r.Config.Webhooks {
		w := *hook
		w.AttemptTimeout = sched.postTry
		if !w.Always {
			failureOnly = append(failureOnly, w)
			continue
		}
		for _, rep := range out.Reports {
			posts = append(posts, post{w.Name, func(ctx context.Context) (bool, error) { return w.Notify(ctx, rep) }})
		}
		n, _ := notice(out, fc.RetryCount)
		posts = append(posts, post{w.Name, func(ctx context.Context) (bool, error) { return w.Post(ctx, n) }})
	}
	state, digests := r.decideAlerts(ctx, fc, out, failureOnly)
	posts = append(posts, digests...)
	pctx, pcancel := ctx, context.CancelFunc(func() {})
	if !sched.alertsEnd.IsZero() && state != nil {
		pctx, pcancel = context.WithDeadline(ctx, sched.alertsEnd.Add(-sched.stateTry))
	}
	defer pcancel()
	errs := make([]error, len(posts))
	slots := make(chan struct{}, maxPosts)
	var wg sync.WaitGroup
	for i, p := range posts {
		select {
		case slots <- struct{}{}:
		case <-pctx.Done():
			errs[i] = fmt.Errorf("not posted: the invocation's deadline was near (%w)", pctx.Err())
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			_, errs[i] = p.send(pctx)
		})
	}
	wg.Wait()
	failed := 0
	var last error
	var undelivered []string
	for i, err := range errs {
		if err != nil {
			failed++
			last = err
			undelivered = append(undelivered, posts[i].dest)
			fc.Log.Warn("webhook message not delivered", "error", err.Error())
		}
	}
	if failed > 0 {
		out.AlertError = &report.Error{Code: "AlertNotDelivered", Transient: true,
			Message: clip(fmt.Sprintf("%d of %d webhook message(s) not delivered: %v", failed, len(posts), last)),
			Hint: "check the CERTDROP_WEBHOOK_* variables (URL, FORMAT, SECRET) and that the endpoint answers 2xx within " +
				report.PostAttemptTimeout.String() + "; this report holds everything the messages said"}
	}
	if state == nil {
		return
	}
	if err := state.commit(ctx, undelivered); err != nil {
		fc.Log.Warn("alert state not written: the next invocation repeats these alerts", "error", err.Error())
		msg := "the alert state was not written (the next invocation repeats these alerts): " + err.Error()
		if out.AlertError != nil {
			out.AlertError.Message = clip(out.AlertError.Message + "; " + msg)
		} else {
			out.AlertError = &report.Error{Code: "AlertStateNotWritten", Transient: true, Message: clip(msg),
				Hint: storeHint(err, "oss:PutObject on "+alert.StateKey+" in CERTDROP_BUCKET")}
		}
	}
}

// notice is the webhook message for what an outcome holds beyond its
// reports; ok is false when there is nothing to alert about.
func notice(out *Outcome, retry int) (report.Notice, bool) {
	n := report.Notice{Trigger: out.Trigger, RequestID: out.RequestID}
	if out.ReportKey != "" {
		n.Lines = append(n.Lines, "report: "+out.ReportKey)
	}
	var what []string
	if e := out.ReportError; e != nil {
		what = append(what, "report not written")
		n.Lines = append(n.Lines, fmt.Sprintf("%s: %s%s", e.Code, e.Message, hintOf(e)))
	}
	switch e := out.Error; {
	case e == nil:
	case out.Busy():
		// The first delivery held back is retried by Function Compute
		// and is no one's concern; a retry held back too means the
		// instance is saturated.
		if retry > 0 {
			what = append(what, "held back behind another invocation again")
			n.Lines = append(n.Lines, fmt.Sprintf("%s: %s%s", e.Code, e.Message, hintOf(e)))
		}
	default:
		what = append(what, "failed before any call")
		n.Lines = append(n.Lines, fmt.Sprintf("%s: %s%s", e.Code, e.Message, hintOf(e)))
	}
	what = append(what, renewalNotice(out, &n)...)
	what = append(what, pruneNotice(out, &n)...)
	what = append(what, pinNotice(out, &n)...)
	what = append(what, edgeNotice(out, &n)...)
	if len(out.Invalid) > 0 {
		what = append(what, fmt.Sprintf("%d bundle(s) refused", len(out.Invalid)))
		for _, s := range out.Invalid {
			l := s.Unit + ": " + s.Reason
			if s.Error != nil {
				l += ": " + s.Error.Message + hintOf(s.Error)
			}
			n.Lines = append(n.Lines, l)
		}
	}
	if len(out.Expiring) > 0 {
		what = append(what, fmt.Sprintf("%d target(s) expiring", len(out.Expiring)))
		for _, e := range out.Expiring {
			why := "no newer bundle in the bucket"
			if e.Pinned != "" {
				why = "pinned by a rollback (" + e.Pinned + "): release it (certdrop rollback --release " + e.CertName +
					") or upload a certificate issued after the rollback"
			}
			n.Lines = append(n.Lines, fmt.Sprintf("%s %s: %s expires %s (%d day(s) left), %s",
				e.Product, e.Domain, e.CertName, e.NotAfter, e.DaysLeft, why))
		}
	}
	n.Alert = len(what) > 0
	if !n.Alert {
		what = append(what, fmt.Sprintf("%d report(s), %d waiting, %d ignored", len(out.Reports), len(out.Waiting), len(out.Ignored)))
	}
	n.Title = fmt.Sprintf("certdrop %s %s: %s", out.Trigger, out.RequestID, strings.Join(what, ", "))
	if retry > 0 {
		n.Title += fmt.Sprintf(" (retry %d)", retry)
	}
	return n, n.Alert
}

func hintOf(e *report.Error) string {
	if e.Hint == "" {
		return ""
	}
	return " (" + e.Hint + ")"
}
