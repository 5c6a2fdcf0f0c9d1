package job

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fcruntime"
	"github.com/certdrop/certdrop/shared/report"
)

// Invoke is the Function Compute handler: it decodes the event, runs it,
// writes the outcome under the report prefix, notifies the webhook, and
// answers with the outcome, failed when any target failed or the run could
// not start (so that FC retries it; a retry is safe, done work is skipped).
func (r *Runner) Invoke(ctx context.Context, fc *fcruntime.Invocation) ([]byte, bool) {
	started := r.now()
	ev, err := event.Parse(fc.Body)
	var out *Outcome
	if err != nil {
		fc.Log.Error("unrecognized event", "error", err.Error())
		out = &Outcome{RequestID: fc.RequestID, Reports: []*report.Report{},
			Error: &report.Error{Code: "BadEvent", Message: err.Error()}}
	} else {
		out = r.Run(ctx, Request{Event: ev, RequestID: fc.RequestID, Credentials: fc.Credentials,
			Deadline: fc.Deadline(), Log: fc.Log})
		r.save(ctx, fc, out, started)
		r.notify(ctx, fc.Log, out)
	}
	body, err := json.Marshal(out)
	if err != nil {
		return []byte(fmt.Sprintf(`{"error":%q}`, err.Error())), true
	}
	return body, out.Failed()
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
	_, err := r.NewClient(ctx, fc.Credentials)
	return err
}

// ReportKey is where an invocation's outcome is written:
// <prefix><yyyy>/<mm>/<dd>/<hhmmss>-<requestId>.json.
func ReportKey(prefix string, started time.Time, requestID string) string {
	t := started.UTC()
	return fmt.Sprintf("%s%s/%s-%s.json", prefix, t.Format("2006/01/02"), t.Format("150405"), requestID)
}

// save writes the outcome to the report prefix of the invocation's bucket.
// A report that cannot be written fails the invocation: the report is the
// record people rely on.
func (r *Runner) save(ctx context.Context, fc *fcruntime.Invocation, out *Outcome, started time.Time) {
	log, bucket := fc.Log, out.Bucket
	if bucket == "" || (len(out.Reports) == 0 && out.Error == nil && len(out.Invalid) == 0) {
		return // nothing deployed or refused: ignored objects, waiting halves
	}
	st, err := r.OpenStore(ctx, bucket, fc.Credentials)
	if err == nil {
		key := ReportKey(r.Config.ReportPrefix, started, out.RequestID)
		var data []byte
		data, err = json.MarshalIndent(out, "", "  ")
		if err == nil {
			err = st.Put(ctx, key, data, "application/json")
		}
		if err == nil {
			out.ReportKey = "oss://" + bucket + "/" + key
			log.Info("report written", "key", out.ReportKey)
			return
		}
	}
	log.Error("cannot write the report", "error", err.Error())
	if out.Error == nil {
		out.Error = &report.Error{Code: "ReportNotWritten", Message: err.Error(),
			Hint: "check that the role may oss:PutObject under CERTDROP_REPORT_PREFIX"}
	}
}

// notify tells the webhook about each report, logging (never failing on)
// its errors.
func (r *Runner) notify(ctx context.Context, log *slog.Logger, out *Outcome) {
	if r.Config.Webhook == nil {
		return
	}
	for _, rep := range out.Reports {
		if _, err := r.Config.Webhook.Notify(ctx, rep); err != nil {
			log.Warn("webhook failed", "error", err.Error())
		}
	}
}
