package job

import (
	"strings"
	"testing"
	"time"

	"github.com/certdrop/certdrop/shared/renew"
	"github.com/certdrop/certdrop/shared/report"
)

// TestRenewalOutcome: a failed renewal (even a transient one) or a record
// left behind fails the outcome and alerts, but never asks FC for a retry;
// a certificate in back-off alerts; a renewal or nothing due does not.
func TestRenewalOutcome(t *testing.T) {
	notAfter := time.Date(2027, 2, 28, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		r        Renewal
		failed   bool
		alert    bool
		titleHas string
		lineHas  string
	}{
		{"renewed", Renewal{Name: "a", Due: true, Reason: renew.ReasonNoBundle, Renewed: true, NotAfter: notAfter, Key: "certs/a/bundle.pem"},
			false, false, "report(s)", "renewed a (no_bundle), expires 2027-02-28T00:00:00Z, written to certs/a/bundle.pem"},
		{"not due", Renewal{Name: "a", Reason: renew.ReasonNotDue}, false, false, "report(s)", ""},
		{"transient failure", Renewal{Name: "a", Due: true, Reason: renew.ReasonExpired,
			Error: &report.Error{Code: "RateLimited", Message: "rate limited by the CA", Hint: "wait", Transient: true}},
			true, true, "1 renewal(s) failed", "renewal of a failed (expired): RateLimited: rate limited by the CA (wait)"},
		{"left behind", Renewal{Name: "a", Due: true, Renewed: true, LeftBehind: []string{"_acme-challenge.a"}},
			true, true, "1 DNS record(s) left behind", "DNS record _acme-challenge.a (for a) could not be removed"},
		{"backing off", Renewal{Name: "a", Due: true, Reason: renew.ReasonARIWindow, Skipped: renew.SkipBackoff, NextAttempt: notAfter, Detail: "2 failed attempt(s)"},
			false, true, "1 certificate(s) due and backing off", "backing off after failures until 2027-02-28T00:00:00Z"},
		{"daily limit", Renewal{Name: "a", Due: true, Skipped: renew.SkipDailyLimit}, false, false, "report(s)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &Outcome{RequestID: "r", Trigger: report.TriggerTimer, Result: Result{Reports: []*report.Report{}, Renewals: []Renewal{tt.r}}}
			if o.Failed() != tt.failed || (o.status() == "failed") != tt.failed {
				t.Errorf("Failed %v status %s, want failed=%v", o.Failed(), o.status(), tt.failed)
			}
			if o.Retry() {
				t.Error("a renewal asked for a retry")
			}
			if !o.Worth() {
				t.Error("not written")
			}
			n, alert := notice(o, 0)
			if alert != tt.alert || !strings.Contains(n.Title, tt.titleHas) {
				t.Errorf("alert %v title %q; want alert %v, title with %q", alert, n.Title, tt.alert, tt.titleHas)
			}
			if tt.lineHas != "" && !strings.Contains(strings.Join(n.Lines, "\n"), tt.lineHas) {
				t.Errorf("lines %q lack %q", n.Lines, tt.lineHas)
			}
			var b strings.Builder
			if err := WriteOutcome(&b, o); err != nil || !strings.Contains(b.String(), "renewals:\n  a: ") {
				t.Errorf("WriteOutcome: %v\n%s", err, b.String())
			}
		})
	}
	// A manual renewal's outcome is written even when it did nothing else.
	if o := (&Outcome{Trigger: report.TriggerManual, Result: Result{Renewals: []Renewal{{Name: "a", Reason: renew.ReasonNotDue}}}}); !o.Worth() {
		t.Error("a manual renewal's outcome is not written")
	}
}

// TestConfigRenewConcurrency: CERTDROP_RENEW_CONCURRENCY is read as the
// renewal's concurrency; a value out of range stops the start, naming
// the variable.
func TestConfigRenewConcurrency(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  int
		ok    bool
	}{{"", 0, true}, {"8", 8, true}, {"100", 100, true}, {"0", 0, false}, {"500", 0, false}, {"fast", 0, false}} {
		c, err := ConfigFromEnv(func(k string) string {
			if k == renew.EnvConcurrency {
				return tc.value
			}
			return ""
		})
		switch {
		case tc.ok && (err != nil || c.RenewConcurrency != tc.want):
			t.Errorf("%q: %v, %v; want %d", tc.value, c, err, tc.want)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), renew.EnvConcurrency)):
			t.Errorf("%q: accepted (%v)", tc.value, err)
		}
	}
}
