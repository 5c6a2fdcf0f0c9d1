package job

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/event"
)

// TestStopMargin: the margin before the deadline covers the longest call
// (the clients' 35 s timeout) plus writing the report, whatever the
// function's timeout; it used to be a tenth of the timeout (6 s for 60 s).
func TestStopMargin(t *testing.T) {
	if MinMargin < LongestCall+ReportBudget || LongestCall < 35*time.Second {
		t.Fatalf("MinMargin %v, LongestCall %v, ReportBudget %v", MinMargin, LongestCall, ReportBudget)
	}
	tests := []struct {
		timeout, set, want time.Duration
	}{
		{60 * time.Second, 0, MinMargin},
		{300 * time.Second, 0, MinMargin},
		{900 * time.Second, 0, max(MinMargin, 60*time.Second)},
		{3600 * time.Second, 0, max(MinMargin, 60*time.Second)},
		{900 * time.Second, 20 * time.Second, 20 * time.Second}, // CERTDROP_SAFETY_MARGIN is taken as given
	}
	for _, tt := range tests {
		c := &Config{Margin: tt.set}
		if got := c.stopMargin(tt.timeout); got != tt.want {
			t.Errorf("timeout %v, margin set %v: %v, want %v", tt.timeout, tt.set, got, tt.want)
		}
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
	out := r.Run(context.Background(), Request{Event: ev, Deadline: time.Now().Add(30 * time.Second)})
	if out.Error == nil || out.Error.Code != "TimeoutTooShort" || out.Retry() || !strings.Contains(out.Error.Hint, "timeout") {
		t.Errorf("outcome error %+v retry %v", out.Error, out.Retry())
	}
}
