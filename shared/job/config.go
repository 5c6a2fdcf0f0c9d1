// Package job runs certdrop's work for one invocation: it turns an event
// into bundles read from the store, validates them, plans the calls for the
// manifest's targets, fans them out and writes the report. The Function
// Compute handler and the command line both drive it.
package job

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/config"
	"github.com/certdrop/certdrop/shared/probe"
	"github.com/certdrop/certdrop/shared/renew"
	"github.com/certdrop/certdrop/shared/report"
)

// Defaults of the settings Config reads from the environment (declared in
// shared/config).
const (
	DefaultReportPrefix  = config.DefaultReportPrefix
	DefaultTriggerPrefix = config.DefaultTriggerPrefix
	// DefaultManifestKey is where the manifest is looked for in
	// CERTDROP_BUCKET when CERTDROP_MANIFEST is not set.
	DefaultManifestKey = "certdrop/manifest.yaml"
	// DefaultWaitLimit is how long a bundle may wait for its other half
	// (CERTDROP_WAIT_LIMIT) before it is reported as a failure.
	DefaultWaitLimit = config.DefaultWaitLimit
)

// How an invocation's last seconds are shared out. No call starts within
// the safety margin before the deadline, and every call (API, OSS, DNS)
// runs under a context that ends CallWindow after the margin's start at
// the latest: no call's timeout reaches past the deadline less what the
// end of the invocation needs. That is, in order: writing the report
// (ReportBudget) and, at the same time, the status page (StatusBudget,
// which is shorter), posting the alerts (AlertBudget), writing the report
// again when an alert could not be delivered or the status not written
// (RecordBudget), and answering Function Compute (AnswerBudget).
const (
	// CallWindow is the least time a call started just before the margin
	// has to answer (API calls answer in well under a second; a call cut
	// at its end is reported Deadline, transient).
	CallWindow = 2 * time.Second
	// ReportBudget is reportAttempts tries of reportAttemptTimeout and the
	// pauses between them.
	ReportBudget = reportAttempts*reportAttemptTimeout + time.Second
	// StatusBudget is reading the previous status.json and writing the
	// new one and the page: a few megabytes for 10,000 targets, within
	// the region. It runs beside the report's write, within its part.
	// What it cannot do in time is said in the outcome.
	StatusBudget = 4 * time.Second
	// AlertBudget is reading the alert state, one message's posting (two
	// bounded tries; the posts are concurrent), and writing the state.
	AlertBudget = report.PostBudget + 2*alertStateTimeout
	// RecordBudget is one try at writing the report again.
	RecordBudget = reportAttemptTimeout
	// AnswerBudget is the time left to answer Function Compute.
	AnswerBudget = 500 * time.Millisecond
	// MinMargin is the smallest safety margin: all of the above, the
	// status page's write within the report's.
	MinMargin = CallWindow + ReportBudget + AlertBudget + RecordBudget + AnswerBudget
)

// Config is the function's configuration, read from its environment
// variables (declared in shared/config).
type Config struct {
	// Manifest is CERTDROP_MANIFEST: oss://bucket/key, or a path in the
	// code package. Empty means oss://<Bucket>/certdrop/manifest.yaml.
	Manifest string
	// ReportPrefix is CERTDROP_REPORT_PREFIX: where reports are written in
	// the bucket. It may not lie under TriggerPrefix (a report would
	// trigger the function again).
	ReportPrefix string
	// TriggerPrefix is CERTDROP_TRIGGER_PREFIX: the OSS trigger's filter
	// prefix, and the default prefix a reconcile lists.
	TriggerPrefix string
	// Bucket is CERTDROP_BUCKET: the one bucket the function works on, the
	// OSS trigger's. Events for any other bucket are ignored, manual and
	// timer events naming another are refused, and reports are written
	// here. The function refuses to run without it (RequireBucket): the
	// bucket is never taken from an event.
	Bucket string
	// TrustRoots is CERTDROP_TRUST_ROOTS: extra trusted roots, oss:// or
	// a path.
	TrustRoots string
	// Timeout is CERTDROP_FUNCTION_TIMEOUT (seconds), used when the
	// invocation does not carry x-fc-function-timeout.
	Timeout time.Duration
	// Margin is CERTDROP_SAFETY_MARGIN (seconds): no call starts this
	// close to the deadline, so that the last call ends and the report is
	// written and the alerts posted before it. 0 means a tenth of the
	// timeout up to 60 s, and never less than MinMargin. A margin set
	// below MinMargin shares out less time in the same proportions.
	Margin time.Duration
	// WaitLimit is CERTDROP_WAIT_LIMIT (seconds, default 900): a bundle
	// whose newest part is older than this and still lacks its other half
	// (or its key still does not match) is a failure, not waiting.
	WaitLimit time.Duration
	// Quotas override the documented calls per second, by API action:
	// CERTDROP_QUOTAS="SetCdnDomainSSLCertificate=20,DescribeDomainCertificateInfo=50".
	Quotas map[string]float64
	// Webhooks are the alert destinations (CERTDROP_WEBHOOK_<n>_*, at most
	// report.MaxWebhooks): each hears of a problem once a day and of its
	// recovery once (package alert), or, _ON=always, of every run.
	Webhooks []*report.Webhook
	// StatusURL is CERTDROP_STATUS_URL: where people open the status
	// page; alerts end with it (optional).
	StatusURL string
	// Resolvers is CERTDROP_DNS_RESOLVERS: the DNS servers the renewal
	// asks to follow CNAMEs and find a zone's authoritative servers
	// (host:port); empty means the system's.
	Resolvers []string
	// RenewConcurrency is CERTDROP_RENEW_CONCURRENCY: how many
	// certificates the renewal orders at once; 0 means
	// renew.DefaultConcurrency.
	RenewConcurrency int
	// ACMETrustRoots is CERTDROP_ACME_TRUST_ROOTS: roots trusted for the
	// ACME server's TLS certificate (a private or test CA), oss:// or a
	// path.
	ACMETrustRoots string
	// StatusPrefix is CERTDROP_STATUS_PREFIX: where the status page
	// (index.html) and its data (status.json) are written in Bucket. It
	// may not overlap TriggerPrefix.
	StatusPrefix string
	// ProbeDial is CERTDROP_PROBE_DIAL: the host:port every TLS probe
	// dials (the SNI is still the domain); empty dials each name on 443.
	ProbeDial string
	// ProbeWait is CERTDROP_PROBE_WAIT (seconds, default 180): how long a
	// deployment's probe waits for stale edges to serve the new
	// certificate, within the run's deadline; 0 probes once.
	ProbeWait time.Duration
	// Getenv reads the variables a manifest names for renewal (the EAB
	// key, a DNS provider's token); ConfigFromEnv sets it to its own
	// getenv, nil reads nothing.
	Getenv func(string) string
}

// ConfigFromEnv reads the configuration and checks it.
func ConfigFromEnv(getenv func(string) string) (*Config, error) {
	c := &Config{
		Manifest:      getenv(config.Manifest),
		ReportPrefix:  config.Get(getenv, config.ReportPrefix),
		TriggerPrefix: config.Get(getenv, config.TriggerPrefix),
		Bucket:        getenv(config.Bucket),
		TrustRoots:    getenv(config.TrustRoots),
		StatusPrefix:  config.Get(getenv, config.StatusPrefix),
		ProbeDial:     getenv(config.ProbeDial),
		// The renewal's settings (shared/renew).
		ACMETrustRoots: getenv(config.ACMETrustRoots),
		Getenv:         getenv,
	}
	var err error
	if c.Timeout, err = config.Seconds(getenv, config.FunctionTimeout); err != nil {
		return nil, err
	}
	if c.Margin, err = config.Seconds(getenv, config.SafetyMargin); err != nil {
		return nil, err
	}
	if c.WaitLimit, err = config.Seconds(getenv, config.WaitLimit); err != nil {
		return nil, err
	}
	if c.WaitLimit == 0 {
		c.WaitLimit = DefaultWaitLimit
	}
	if c.ProbeWait, err = config.Seconds(getenv, config.ProbeWait); err != nil {
		return nil, err
	}
	if c.ProbeWait > probe.MaxWait {
		return nil, fmt.Errorf("%s=%s: at most %d seconds", config.ProbeWait, getenv(config.ProbeWait), int(probe.MaxWait/time.Second))
	}
	if c.ProbeDial != "" {
		if _, _, err := net.SplitHostPort(c.ProbeDial); err != nil {
			return nil, fmt.Errorf("%s=%q: want host:port", config.ProbeDial, c.ProbeDial)
		}
	}
	if c.Quotas, err = parseQuotas(getenv(config.Quotas)); err != nil {
		return nil, err
	}
	if c.Webhooks, err = report.WebhooksFromEnv(getenv); err != nil {
		return nil, err
	}
	if c.StatusURL, err = statusURL(getenv(config.StatusURL)); err != nil {
		return nil, err
	}
	if c.Resolvers, err = renew.ParseResolvers(getenv(config.DNSResolvers)); err != nil {
		return nil, err
	}
	if c.RenewConcurrency, err = renew.ParseConcurrency(getenv(config.RenewConcurrency)); err != nil {
		return nil, err
	}
	return c, c.check()
}

// check refuses a configuration under which the function would trigger
// itself: reports written under the trigger's prefix.
func (c *Config) check() error {
	if !strings.HasSuffix(c.ReportPrefix, "/") {
		c.ReportPrefix += "/"
	}
	if strings.HasPrefix(c.ReportPrefix, c.TriggerPrefix) || strings.HasPrefix(c.TriggerPrefix, c.ReportPrefix) {
		return fmt.Errorf("CERTDROP_REPORT_PREFIX %q overlaps the trigger prefix %q: every report would trigger the function again; "+
			"use prefixes that do not contain each other (defaults: reports %q, bundles %q)",
			c.ReportPrefix, c.TriggerPrefix, DefaultReportPrefix, DefaultTriggerPrefix)
	}
	if c.StatusPrefix == "" {
		c.StatusPrefix = config.DefaultStatusPrefix
	}
	if !strings.HasSuffix(c.StatusPrefix, "/") {
		c.StatusPrefix += "/"
	}
	if strings.HasPrefix(c.StatusPrefix, c.TriggerPrefix) || strings.HasPrefix(c.TriggerPrefix, c.StatusPrefix) {
		return fmt.Errorf("CERTDROP_STATUS_PREFIX %q overlaps the trigger prefix %q: every status page written would trigger the function again; "+
			"use prefixes that do not contain each other (defaults: status %q, bundles %q)",
			c.StatusPrefix, c.TriggerPrefix, config.DefaultStatusPrefix, DefaultTriggerPrefix)
	}
	return nil
}

// ErrNoBucket is returned by RequireBucket when CERTDROP_BUCKET is not set.
var ErrNoBucket = errors.New("CERTDROP_BUCKET is not set: the function works on one bucket, the OSS trigger's, " +
	"and never takes it from an event; set it in s.yaml (environmentVariables) to the trigger's bucket")

// RequireBucket fails when the configuration names no bucket: the function
// (serve, invoke) needs it, the command line's own commands do not.
func (c *Config) RequireBucket() error {
	if c.Bucket == "" {
		return ErrNoBucket
	}
	return nil
}

// stopMargin is the safety margin for a function timeout: CERTDROP_SAFETY_MARGIN,
// else a tenth of the timeout up to 60 s, and never less than MinMargin.
func (c *Config) stopMargin(timeout time.Duration) time.Duration {
	if c.Margin > 0 {
		return c.Margin
	}
	return max(min(timeout/10, 60*time.Second), MinMargin)
}

// schedule is when each part of an invocation ends, from its deadline:
// see MinMargin. The zero schedule (no deadline) bounds nothing but each
// try's own timeout.
type schedule struct {
	deadline time.Time
	margin   time.Duration
	// stopAt: no call starts at or after it.
	stopAt time.Time
	// callsEnd: every call of the run ends by it (the run's context).
	callsEnd time.Time
	// reportEnd, statusEnd, alertsEnd, recordEnd: writing the report,
	// writing the status (which starts with the report's), posting the
	// alerts, and writing the report again end by these.
	reportEnd, statusEnd, alertsEnd, recordEnd time.Time
	// reportTry and postTry bound one try at writing the report and at
	// posting a message; stateTry is kept, at the end of the alerts' part,
	// for writing the alert state.
	reportTry, postTry, stateTry time.Duration
}

// schedule shares out the time from start to deadline (zero: none).
func (c *Config) schedule(start, deadline time.Time) schedule {
	if deadline.IsZero() {
		return schedule{reportTry: reportAttemptTimeout, postTry: report.PostAttemptTimeout, stateTry: alertStateTimeout}
	}
	m := c.stopMargin(deadline.Sub(start))
	// A margin below MinMargin (CERTDROP_SAFETY_MARGIN) shares out less
	// time in the same proportions.
	part := func(d time.Duration) time.Duration {
		if m >= MinMargin {
			return d
		}
		return time.Duration(float64(d) * float64(m) / float64(MinMargin))
	}
	s := schedule{deadline: deadline, margin: m, stopAt: deadline.Add(-m),
		reportTry: part(reportAttemptTimeout), postTry: part(report.PostAttemptTimeout), stateTry: part(alertStateTimeout)}
	s.recordEnd = deadline.Add(-part(AnswerBudget))
	s.alertsEnd = s.recordEnd.Add(-part(RecordBudget))
	s.reportEnd = s.alertsEnd.Add(-part(AlertBudget))
	s.callsEnd = s.reportEnd.Add(-part(ReportBudget))
	s.statusEnd = s.callsEnd.Add(part(StatusBudget))
	return s
}

// until returns ctx ending at t, or ctx itself when t is zero.
func until(ctx context.Context, t time.Time) (context.Context, context.CancelFunc) {
	if t.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, t)
}

// statusURL checks CERTDROP_STATUS_URL: an absolute http(s) URL, or
// nothing.
func statusURL(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("CERTDROP_STATUS_URL %q: want an absolute https URL, the address people open the status page at", v)
	}
	return v, nil
}

func parseQuotas(v string) (map[string]float64, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	q := map[string]float64{}
	for _, part := range strings.Split(v, ",") {
		name, rate, ok := strings.Cut(strings.TrimSpace(part), "=")
		r, err := strconv.ParseFloat(rate, 64)
		if !ok || err != nil || r <= 0 || name == "" {
			return nil, fmt.Errorf("CERTDROP_QUOTAS: %q is not Action=calls-per-second", part)
		}
		q[name] = r
	}
	return q, nil
}
