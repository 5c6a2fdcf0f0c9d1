// Package job runs certdrop's work for one invocation: it turns an event
// into bundles read from the store, validates them, plans the calls for the
// manifest's targets, fans them out and writes the report. The Function
// Compute handler and the command line both drive it.
package job

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/certdrop/certdrop/shared/cloud"
	"github.com/certdrop/certdrop/shared/renew"
	"github.com/certdrop/certdrop/shared/report"
)

// Defaults of the settings Config reads from the environment.
const (
	DefaultReportPrefix  = "certdrop/reports/"
	DefaultTriggerPrefix = "certs/"
	// DefaultManifestKey is where the manifest is looked for in
	// CERTDROP_BUCKET when CERTDROP_MANIFEST is not set.
	DefaultManifestKey = "certdrop/manifest.yaml"
	// DefaultWaitLimit is how long a bundle may wait for its other half
	// (CERTDROP_WAIT_LIMIT) before it is reported as a failure.
	DefaultWaitLimit = 15 * time.Minute
)

// The time the safety margin before the deadline must leave: the longest
// API call (the clients' connect plus read timeout: a call started just
// before the margin can run that long) and writing the report (ReportBudget).
const (
	LongestCall  = cloud.DefaultConnectTimeout + cloud.DefaultReadTimeout
	ReportBudget = reportAttempts*reportAttemptTimeout + 2*time.Second
	// MinMargin is the smallest safety margin: LongestCall + ReportBudget.
	MinMargin = LongestCall + ReportBudget
)

// Config is the function's configuration, read from its environment
// variables (all documented in the README).
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
	// written before it. 0 means a tenth of the timeout up to 60 s, and
	// never less than MinMargin (a call's timeout plus the report's budget).
	Margin time.Duration
	// WaitLimit is CERTDROP_WAIT_LIMIT (seconds, default 900): a bundle
	// whose newest part is older than this and still lacks its other half
	// (or its key still does not match) is a failure, not waiting.
	WaitLimit time.Duration
	// Quotas override the documented calls per second, by API action:
	// CERTDROP_QUOTAS="SetCdnDomainSSLCertificate=20,DescribeDomainCertificateInfo=50".
	Quotas map[string]float64
	// Webhook, when set, is told about runs with failures.
	Webhook *report.Webhook
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
	// Getenv reads the variables a manifest names for renewal (the EAB
	// key, a DNS provider's token); ConfigFromEnv sets it to its own
	// getenv, nil reads nothing.
	Getenv func(string) string
}

// ConfigFromEnv reads the configuration and checks it.
func ConfigFromEnv(getenv func(string) string) (*Config, error) {
	c := &Config{
		Manifest:      getenv("CERTDROP_MANIFEST"),
		ReportPrefix:  getenv("CERTDROP_REPORT_PREFIX"),
		TriggerPrefix: getenv("CERTDROP_TRIGGER_PREFIX"),
		Bucket:        getenv("CERTDROP_BUCKET"),
		TrustRoots:    getenv("CERTDROP_TRUST_ROOTS"),
		// The renewal's settings (shared/renew).
		ACMETrustRoots: getenv(renew.EnvTrustRoots),
		Getenv:         getenv,
	}
	if c.ReportPrefix == "" {
		c.ReportPrefix = DefaultReportPrefix
	}
	if c.TriggerPrefix == "" {
		c.TriggerPrefix = DefaultTriggerPrefix
	}
	var err error
	if c.Timeout, err = seconds(getenv, "CERTDROP_FUNCTION_TIMEOUT"); err != nil {
		return nil, err
	}
	if c.Margin, err = seconds(getenv, "CERTDROP_SAFETY_MARGIN"); err != nil {
		return nil, err
	}
	if c.WaitLimit, err = seconds(getenv, "CERTDROP_WAIT_LIMIT"); err != nil {
		return nil, err
	}
	if c.WaitLimit == 0 {
		c.WaitLimit = DefaultWaitLimit
	}
	if c.Quotas, err = parseQuotas(getenv("CERTDROP_QUOTAS")); err != nil {
		return nil, err
	}
	if c.Webhook, err = report.WebhookFromEnv(getenv); err != nil {
		return nil, err
	}
	if c.Resolvers, err = renew.ParseResolvers(getenv(renew.EnvDNSResolvers)); err != nil {
		return nil, err
	}
	if c.RenewConcurrency, err = renew.ParseConcurrency(getenv(renew.EnvConcurrency)); err != nil {
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

func seconds(getenv func(string) string, name string) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return 0, nil
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s < 0 {
		return 0, fmt.Errorf("%s=%q: want a number of seconds", name, v)
	}
	return time.Duration(s * float64(time.Second)), nil
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
