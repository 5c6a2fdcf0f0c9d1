package job

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/report"
)

// TestStopMargin: the margin before the deadline covers writing the
// report, posting the alerts and recording those not delivered, plus a
// short window for the last calls (which are cut at its end), whatever
// the function's timeout: not the longest call's own 35 s timeout.
func TestStopMargin(t *testing.T) {
	if MinMargin != CallWindow+ReportBudget+AlertBudget+RecordBudget+AnswerBudget || StatusBudget > ReportBudget || MinMargin > 24*time.Second {
		t.Fatalf("MinMargin %v", MinMargin)
	}
	tests := []struct {
		timeout, set, want time.Duration
	}{
		{30 * time.Second, 0, MinMargin},
		{60 * time.Second, 0, MinMargin},
		{300 * time.Second, 0, 30 * time.Second},
		{900 * time.Second, 0, 60 * time.Second},
		{3600 * time.Second, 0, 60 * time.Second},
		{900 * time.Second, 20 * time.Second, 20 * time.Second}, // CERTDROP_SAFETY_MARGIN is taken as given
	}
	for _, tt := range tests {
		c := &Config{Margin: tt.set}
		if got := c.stopMargin(tt.timeout); got != tt.want {
			t.Errorf("timeout %v, margin set %v: %v, want %v", tt.timeout, tt.set, got, tt.want)
		}
	}
}

// TestSchedule: the parts of an invocation's end follow one another
// before the deadline: calls end CallWindow after the stop point (or
// later, with a wider margin), then the report, the status, the alerts, the record of
// undelivered alerts and the answer each get their budget. A margin set
// below MinMargin shares out the same way, in proportion.
func TestSchedule(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		timeout, set       time.Duration
		stopAt, callsEnd   time.Duration // after start
		reportTry, postTry time.Duration
	}{
		{60 * time.Second, 0, 60*time.Second - MinMargin, 60*time.Second - MinMargin + CallWindow, reportAttemptTimeout, report.PostAttemptTimeout},
		{30 * time.Second, 0, 30*time.Second - MinMargin, 30*time.Second - MinMargin + CallWindow, reportAttemptTimeout, report.PostAttemptTimeout},
		{900 * time.Second, 0, 840 * time.Second, 900*time.Second - MinMargin + CallWindow, reportAttemptTimeout, report.PostAttemptTimeout},
		{8 * time.Second, MinMargin / 2, 8*time.Second - MinMargin/2, 8*time.Second - MinMargin/2 + CallWindow/2, reportAttemptTimeout / 2, report.PostAttemptTimeout / 2},
	}
	for _, tt := range tests {
		c := &Config{Margin: tt.set}
		s := c.schedule(start, start.Add(tt.timeout))
		if s.stopAt.Sub(start) != tt.stopAt || s.callsEnd.Sub(start) != tt.callsEnd || s.reportTry != tt.reportTry || s.postTry != tt.postTry {
			t.Errorf("timeout %v margin %v: stop %v calls end %v tries %v/%v; want %v %v %v/%v", tt.timeout, tt.set,
				s.stopAt.Sub(start), s.callsEnd.Sub(start), s.reportTry, s.postTry, tt.stopAt, tt.callsEnd, tt.reportTry, tt.postTry)
		}
		scale := min(1, float64(s.margin)/float64(MinMargin))
		for _, step := range []struct {
			name     string
			from, to time.Time
			budget   time.Duration
		}{
			{"report", s.callsEnd, s.reportEnd, ReportBudget},
			{"status, beside the report", s.callsEnd, s.statusEnd, StatusBudget},
			{"alerts", s.reportEnd, s.alertsEnd, AlertBudget},
			{"record", s.alertsEnd, s.recordEnd, RecordBudget},
			{"answer", s.recordEnd, start.Add(tt.timeout), AnswerBudget},
		} {
			if got, want := step.to.Sub(step.from), time.Duration(float64(step.budget)*scale); got != want {
				t.Errorf("timeout %v margin %v: %s gets %v, want %v", tt.timeout, tt.set, step.name, got, want)
			}
		}
	}
	if s := (&Config{}).schedule(start, time.Time{}); !s.stopAt.IsZero() || !s.callsEnd.IsZero() || s.reportTry != reportAttemptTimeout {
		t.Errorf("no deadline: %+v", s)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := ConfigFromEnv(env(nil))
	if err != nil || c.WaitLimit != DefaultWaitLimit || !errors.Is(c.RequireBucket(), ErrNoBucket) {
		t.Errorf("defaults: %+v %v", c, err)
	}
	c, err = ConfigFromEnv(env(map[string]string{"CERTDROP_WAIT_LIMIT": "60", "CERTDROP_BUCKET": "b"}))
	if err != nil || c.WaitLimit != time.Minute || c.RequireBucket() != nil || c.manifestLocation() != "oss://b/certdrop/manifest.yaml" {
		t.Errorf("set: %+v %v", c, err)
	}
	if _, err := ConfigFromEnv(env(map[string]string{"CERTDROP_WAIT_LIMIT": "soon"})); err == nil {
		t.Error("CERTDROP_WAIT_LIMIT=soon accepted")
	}
}

// TestTimeoutTooShort: a timeout no longer than the safety margin would
// leave every target not_started and be retried for nothing: it is a
// permanent failure that says what to change.
func TestTimeoutTooShort(t *testing.T) {
	r := &Runner{Config: &Config{Bucket: "b", TriggerPrefix: "certs/", ReportPrefix: "r/"}}
	ev, err := event.Parse([]byte(`{"bundle":"oss://b/certs/x/"}`))
	if err != nil {
		t.Fatal(err)
	}
	out := r.Run(context.Background(), Request{Event: ev, Deadline: time.Now().Add(MinMargin - time.Second)})
	if out.Error == nil || out.Error.Code != "TimeoutTooShort" || out.Retry() || !strings.Contains(out.Error.Hint, "timeout") {
		t.Errorf("outcome error %+v retry %v", out.Error, out.Retry())
	}
}
