// Package config declares every CERTDROP_* environment variable certdrop
// reads, once: its name, its default and what it means. The packages that
// read a variable name it by its constant here and read its default
// through Get or Seconds; Vars lists them all, for the documentation
// (the configuration table of docs/configuration.md, which a test checks
// against it) and for the command line's help. The package imports nothing of certdrop.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The variables, by name.
const (
	Bucket          = "CERTDROP_BUCKET"
	Manifest        = "CERTDROP_MANIFEST"
	ReportPrefix    = "CERTDROP_REPORT_PREFIX"
	TriggerPrefix   = "CERTDROP_TRIGGER_PREFIX"
	WaitLimit       = "CERTDROP_WAIT_LIMIT"
	TrustRoots      = "CERTDROP_TRUST_ROOTS"
	FunctionTimeout = "CERTDROP_FUNCTION_TIMEOUT"
	SafetyMargin    = "CERTDROP_SAFETY_MARGIN"
	Quotas          = "CERTDROP_QUOTAS"
	WebhookURL      = "CERTDROP_WEBHOOK_URL"
	WebhookFormat   = "CERTDROP_WEBHOOK_FORMAT"
	WebhookOn       = "CERTDROP_WEBHOOK_ON"
	WebhookSecret   = "CERTDROP_WEBHOOK_SECRET"
	StatusURL       = "CERTDROP_STATUS_URL"
	DNSResolvers    = "CERTDROP_DNS_RESOLVERS"
	ACMETrustRoots  = "CERTDROP_ACME_TRUST_ROOTS"
	OpenAPIParams   = "CERTDROP_OPENAPI_PARAMS"
	StatusPrefix    = "CERTDROP_STATUS_PREFIX"
	ProbeDial       = "CERTDROP_PROBE_DIAL"
	ProbeWait       = "CERTDROP_PROBE_WAIT"

	CDNEndpoint     = "CERTDROP_CDN_ENDPOINT"
	VODEndpoint     = "CERTDROP_VOD_ENDPOINT"
	LiveEndpoint    = "CERTDROP_LIVE_ENDPOINT"
	DCDNEndpoint    = "CERTDROP_DCDN_ENDPOINT"
	OSSEndpoint     = "CERTDROP_OSS_ENDPOINT"
	CASEndpoint     = "CERTDROP_CAS_ENDPOINT"
	CASIntlEndpoint = "CERTDROP_CAS_AP_SOUTHEAST_1_ENDPOINT"
	AliDNSEndpoint  = "CERTDROP_ALIDNS_ENDPOINT"
	ALBEndpoint     = "CERTDROP_ALB_ENDPOINT"
	NLBEndpoint     = "CERTDROP_NLB_ENDPOINT"
	CLBEndpoint     = "CERTDROP_CLB_ENDPOINT"
	ESAEndpoint     = "CERTDROP_ESA_ENDPOINT"
	FCEndpoint      = "CERTDROP_FC_ENDPOINT"
	STSEndpoint     = "CERTDROP_STS_ENDPOINT"
)

// RenewConcurrency is how many certificates the renewal checks, then
// orders, at once.
const RenewConcurrency = "CERTDROP_RENEW_CONCURRENCY"

// MaxWebhooks is how many webhook destinations there may be, numbered 1
// to MaxWebhooks.
const MaxWebhooks = 8

// WebhookVar names webhook destination n's variable field (WebhookURL,
// WebhookFormat, WebhookSecret or WebhookOn): CERTDROP_WEBHOOK_<n>_URL and
// so on; n = 0 gives field itself, the other name of destination 1.
func WebhookVar(n int, field string) string {
	if n == 0 {
		return field
	}
	const prefix = "CERTDROP_WEBHOOK_"
	return fmt.Sprintf("%s%d_%s", prefix, n, strings.TrimPrefix(field, prefix))
}

// SecretPrefix starts the name of every variable a manifest may name for a
// secret (an EAB key, a DNS provider's token); see manifest.CheckSecretEnv.
const SecretPrefix = "CERTDROP_SECRET_"

// Default values the code uses directly.
const (
	// DefaultReportPrefix is ReportPrefix's default.
	DefaultReportPrefix = "certdrop/reports/"
	// DefaultTriggerPrefix is TriggerPrefix's default.
	DefaultTriggerPrefix = "certs/"
	// DefaultWaitLimit is WaitLimit's default.
	DefaultWaitLimit = 15 * time.Minute
	// DefaultStatusPrefix is StatusPrefix's default: the status page is
	// index.html under it, its data status.json.
	DefaultStatusPrefix = "certdrop/status/"
	// DefaultProbeWait is ProbeWait's default.
	DefaultProbeWait = 3 * time.Minute
)

// Var is one environment variable.
type Var struct {
	// Name is the variable's name.
	Name string
	// Default is the value an unset (or empty) variable stands for, which
	// Get returns; empty when the default is not one value.
	Default string
	// DefaultDoc says what an unset variable means when Default is empty
	// ("(required)", "the documented quotas"); empty when it means nothing
	// is set.
	DefaultDoc string
	// Meaning says what the variable does, in one sentence.
	Meaning string
	// Endpoint marks the variables that override an API's endpoint; each
	// takes EndpointRule.
	Endpoint bool
}

// Documented is the default as the documentation states it: the value in
// backquotes, or DefaultDoc.
func (v Var) Documented() string {
	if v.Default != "" {
		return "`" + v.Default + "`"
	}
	return v.DefaultDoc
}

// EndpointRule is what every endpoint override takes.
const EndpointRule = "a URL: https://, or http:// to a loopback host only"

// Vars returns every variable, in the order the documentation lists them.
func Vars() []Var {
	return []Var{
		{Name: Bucket, DefaultDoc: "(required)", Meaning: "the one bucket the function works on: the OSS trigger's; reports are written there"},
		{Name: Manifest, DefaultDoc: "`oss://<CERTDROP_BUCKET>/certdrop/manifest.yaml`", Meaning: "the manifest: oss://bucket/key or a path in the code package"},
		{Name: ReportPrefix, Default: DefaultReportPrefix, Meaning: "where outcomes are written in the bucket"},
		{Name: TriggerPrefix, Default: DefaultTriggerPrefix, Meaning: "the OSS trigger's filter prefix: bundles are read only under it"},
		{Name: WaitLimit, Default: strconv.Itoa(int(DefaultWaitLimit / time.Second)), Meaning: "seconds a bundle may wait for its other half"},
		{Name: TrustRoots, Meaning: "extra trusted roots (private CA): oss:// or a path"},
		{Name: FunctionTimeout, Meaning: "seconds, when the invocation lacks x-fc-function-timeout"},
		{Name: SafetyMargin, DefaultDoc: "a tenth of the timeout up to 60 s, at least 24 s", Meaning: "seconds before the deadline within which no call starts"},
		{Name: Quotas, DefaultDoc: "the documented quotas", Meaning: "calls per second by API action: Action=rate,..."},
		{Name: WebhookURL, Meaning: "where alerts are POSTed (destination 1; CERTDROP_WEBHOOK_<n>_URL for n = 1 to 8)"},
		{Name: WebhookFormat, Default: "json", Meaning: "the webhook's format: json, dingtalk, feishu, slack or wecom"},
		{Name: WebhookSecret, Meaning: "a dingtalk or feishu robot's signing secret"},
		{Name: WebhookOn, Default: "failure", Meaning: "when the webhook is told: failure (each problem once a day) or always"},
		{Name: StatusURL, Meaning: "where people open the status page: alerts end with it"},
		{Name: DNSResolvers, DefaultDoc: "the system's (`/etc/resolv.conf`)", Meaning: "renewal: the DNS resolvers asked (host or host:port)"},
		{Name: RenewConcurrency, Default: "50", Meaning: "renewal: certificates checked, then ordered, at once (1 to 100)"},
		{Name: ACMETrustRoots, Meaning: "renewal: extra roots for the ACME server's TLS certificate: oss:// or a path"},
		{Name: OpenAPIParams, Default: "body", Meaning: "where the OpenAPI calls' parameters travel: body or query"},
		{Name: StatusPrefix, Default: DefaultStatusPrefix, Meaning: "where the status page (index.html) and its data (status.json) are written in the bucket"},
		{Name: ProbeDial, DefaultDoc: "each name on port 443", Meaning: "host:port every TLS probe dials (the SNI is still the domain)"},
		{Name: ProbeWait, Default: strconv.Itoa(int(DefaultProbeWait / time.Second)), Meaning: "seconds a deploy's probe waits for stale edges to serve the new certificate (0: no wait)"},
		{Name: CDNEndpoint, DefaultDoc: "`cdn.aliyuncs.com`", Meaning: "CDN's endpoint (cdn and cdn-legacy targets)", Endpoint: true},
		{Name: VODEndpoint, DefaultDoc: "`vod.<region>.aliyuncs.com`", Meaning: "VOD's endpoint", Endpoint: true},
		{Name: LiveEndpoint, DefaultDoc: "`live.aliyuncs.com`", Meaning: "Live's endpoint", Endpoint: true},
		{Name: DCDNEndpoint, DefaultDoc: "`dcdn.aliyuncs.com`", Meaning: "DCDN's endpoint", Endpoint: true},
		{Name: OSSEndpoint, DefaultDoc: "`oss-<region>.aliyuncs.com`", Meaning: "OSS's endpoint: the bundle bucket's and oss targets'", Endpoint: true},
		{Name: CASEndpoint, DefaultDoc: "`cas.aliyuncs.com`", Meaning: "Certificate Management Service's endpoint, cn-hangzhou", Endpoint: true},
		{Name: CASIntlEndpoint, DefaultDoc: "`cas.ap-southeast-1.aliyuncs.com`", Meaning: "Certificate Management Service's endpoint, ap-southeast-1", Endpoint: true},
		{Name: AliDNSEndpoint, DefaultDoc: "`alidns.aliyuncs.com`", Meaning: "Alibaba Cloud DNS's endpoint (renewal)", Endpoint: true},
		{Name: ALBEndpoint, DefaultDoc: "`alb.<region>.aliyuncs.com`", Meaning: "Application Load Balancer's endpoint (alb targets), every region", Endpoint: true},
		{Name: NLBEndpoint, DefaultDoc: "`nlb.<region>.aliyuncs.com`", Meaning: "Network Load Balancer's endpoint (nlb targets), every region", Endpoint: true},
		{Name: CLBEndpoint, DefaultDoc: "`slb[.<region>].aliyuncs.com`", Meaning: "Classic Load Balancer's endpoint (clb targets), every region", Endpoint: true},
		{Name: ESAEndpoint, DefaultDoc: "`esa.cn-hangzhou.aliyuncs.com`", Meaning: "ESA's endpoint (esa targets and `dns: esa` renewal)", Endpoint: true},
		{Name: FCEndpoint, DefaultDoc: "`fcv3.<region>.aliyuncs.com`", Meaning: "Function Compute 3.0's endpoint (fc targets), every region", Endpoint: true},
		{Name: STSEndpoint, DefaultDoc: "`sts.aliyuncs.com`", Meaning: "STS's endpoint: AssumeRole for the manifest's accounts", Endpoint: true},
	}
}

// Lookup returns the variable named name.
func Lookup(name string) (Var, bool) {
	for _, v := range Vars() {
		if v.Name == name {
			return v, true
		}
	}
	return Var{}, false
}

// Endpoints returns the variables that override an API's endpoint.
func Endpoints() []Var {
	var out []Var
	for _, v := range Vars() {
		if v.Endpoint {
			out = append(out, v)
		}
	}
	return out
}

// Get returns the variable's value read through getenv, or its default
// when it is unset or empty.
func Get(getenv func(string) string, name string) string {
	if s := getenv(name); s != "" {
		return s
	}
	v, _ := Lookup(name)
	return v.Default
}

// Seconds reads a variable holding a number of seconds (fractions
// allowed), its default when unset or empty, 0 when it has none. A value
// that is not a non-negative number is an error naming the variable.
func Seconds(getenv func(string) string, name string) (time.Duration, error) {
	s := Get(getenv, name)
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%s=%q: want a number of seconds", name, s)
	}
	return time.Duration(f * float64(time.Second)), nil
}
