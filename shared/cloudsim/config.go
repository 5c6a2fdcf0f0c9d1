package cloudsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/certdrop/certdrop/internal/secureurl"
)

// DefaultMaxCertificateBytes is the longest SSLPub (ServerCertificate) the
// emulator accepts before answering InvalidCertificate.TooLong. The vendor
// documents the code but not the limit; a full chain is a few kilobytes.
const DefaultMaxCertificateBytes = 64 << 10

// Config configures a Sim. LoadConfig reads it from YAML; the fields
// tagged `yaml:"-"` are set from code.
type Config struct {
	// OpenAPIAddr is the loopback address the OpenAPI listener binds;
	// default "127.0.0.1:0" (an ephemeral port).
	OpenAPIAddr string `yaml:"openapiAddr"`
	// OSSAddr is the loopback address of the OSS listener; default
	// "127.0.0.1:0".
	OSSAddr string `yaml:"ossAddr"`
	// AccountID is the 16-digit ID of the account Credentials, Domains
	// and Quotas belong to (the function's own); empty means
	// DefaultAccountID.
	AccountID string `yaml:"accountId"`
	// Credentials are the access keys the emulator accepts, for OpenAPI
	// and OSS alike. They all belong to the account AccountID.
	Credentials []Credential `yaml:"credentials"`
	// Accounts are other accounts, each with its own domains, load
	// balancers, quotas and RAM roles, reached through the credentials STS AssumeRole gives for
	// one of their roles (sts.go).
	Accounts []AccountSettings `yaml:"accounts"`
	// STS configures Security Token Service (sts.go).
	STS STSSettings `yaml:"sts"`
	// Quotas are calls per second per account by API action; missing
	// actions get DefaultQuotas, a negative value means unlimited.
	Quotas map[string]float64 `yaml:"quotas"`
	// Domains are the account's domains, by product.
	Domains Domains `yaml:"domains"`
	// Faults are the injected failures; the zero value injects none.
	Faults Faults `yaml:"faults"`
	// MaxCertificateBytes caps SSLPub; 0 means DefaultMaxCertificateBytes.
	MaxCertificateBytes int `yaml:"maxCertificateBytes"`
	// OSS configures the OSS emulator served on OSSAddr.
	OSS OSSSettings `yaml:"oss"`
	// DNS configures Alibaba Cloud DNS: the zones the alidns OpenAPI
	// manages and the authoritative DNS server answers from.
	DNS DNSSettings `yaml:"dns"`
	// ACME configures the in-process ACME CA (pebble); off by default.
	ACME ACMESettings `yaml:"acme"`
	// CAS configures Certificate Management Service (cas.go).
	CAS CASSettings `yaml:"cas"`
	// ESA configures ESA's sites (esa.go).
	ESA ESASettings `yaml:"esa"`
	// FC configures Function Compute 3.0's custom domains (fc.go).
	FC FCSettings `yaml:"fc"`
	// CASIntlAddr is the loopback address of the ap-southeast-1 CAS
	// endpoint; default "127.0.0.1:0".
	CASIntlAddr string `yaml:"casIntlAddr"`
	// LoadBalancers are the account's ALB, NLB and CLB load balancers
	// (loadbalancer.go).
	LoadBalancers LoadBalancerSettings `yaml:"loadBalancers"`
	// Edge configures the TLS front (edge.go) that serves each domain the
	// certificate last set on it.
	Edge EdgeSettings `yaml:"edge"`

	// JournalWriter, when set, receives every journal entry as a JSON line.
	JournalWriter io.Writer `yaml:"-"`
	// CertificateClock is the time certificates are checked against
	// (Certificate.Expired); nil means time.Now. Signatures, quotas and
	// latency always use the real clock.
	CertificateClock func() time.Time `yaml:"-"`
	// Logger receives one debug line per call; nil discards them.
	Logger *slog.Logger `yaml:"-"`
}

// Credential is one access key the emulator accepts. It formats and logs
// without its secret and token.
type Credential struct {
	AccessKeyID     string `yaml:"accessKeyId"`
	AccessKeySecret string `yaml:"accessKeySecret"`
	// SecurityToken, when set, makes this an STS key: requests must carry
	// the token (x-acs-security-token).
	SecurityToken string `yaml:"securityToken"`
	// Expired makes the STS token expired: InvalidSecurityToken.Expired.
	Expired bool `yaml:"expired"`
	// Disabled makes the key inactive: InvalidAccessKeyId.Inactive.
	Disabled bool `yaml:"disabled"`
	// DenyActions are API actions this key's RAM policy does not allow:
	// Forbidden.RAM (403).
	DenyActions []string `yaml:"denyActions"`
	// RoleArn, for STS credentials, is the RAM role they are of
	// ("acs:ram::<AccountID>:role/<name>", as Function Compute passes a
	// function's role's): the principal the other accounts' trust
	// policies name. Empty: a RAM user of the account.
	RoleArn string `yaml:"roleArn"`
	// DNSZones, when set, scopes this key's RAM policy for Alibaba Cloud
	// DNS to these zones (resource acs:alidns::<account>:domain/<zone>):
	// an alidns call about another zone answers Forbidden.RAM.
	// DescribeDomains and GetMainDomainName are not scoped.
	DNSZones []string `yaml:"dnsZones"`
}

// Format prints the credential with its secret and token redacted, for
// every verb.
func (c Credential) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "Credential{AccessKeyID:%s <redacted>}", c.AccessKeyID)
}

// LogValue logs only the access key ID.
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.AccessKeyID) }

// Domains lists the account's domains by product. A CDN wildcard domain is
// registered as ".example.com", as the CDN names it.
type Domains struct {
	CDN  []Domain `yaml:"cdn"`
	VOD  []Domain `yaml:"vod"`
	Live []Domain `yaml:"live"`
	// DCDN are the DCDN (Edge Security Acceleration) domains; a wildcard
	// is written as the DCDN names it, ".example.com" (dcdn.go).
	DCDN []Domain `yaml:"dcdn"`
}

// Domain is one domain of the account.
type Domain struct {
	Name string `yaml:"name"`
	// State is online (the default), offline, configuring or safemode.
	State string `yaml:"state"`
	// Installed pre-seeds the certificate the domain carries.
	Installed *SeedCert `yaml:"installed"`
}

// SeedCert is a certificate a domain carries before any call: give its
// PEM (Cert or CertFile) to have Describe return it, or only NotAfter for a
// certificate the emulator knows by name and expiry.
type SeedCert struct {
	CertName string `yaml:"certName"`
	// Cert is the PEM chain; CertFile a file holding it, relative to the
	// configuration file.
	Cert     string `yaml:"cert"`
	CertFile string `yaml:"certFile"`
	// NotAfter is the expiry when no PEM is given.
	NotAfter time.Time `yaml:"notAfter"`
	// HTTPS defaults to true.
	HTTPS *bool `yaml:"https"`
}

// EdgeSettings is the YAML form of the edge's configuration: the Sim
// serves, on one loopback listener, each domain of every product (and
// each OSS custom domain) the certificate last set on it in production,
// Delay after the Set, as a CDN's nodes turn to a new certificate.
type EdgeSettings struct {
	// Disabled turns the edge off.
	Disabled bool `yaml:"disabled"`
	// Addr is the loopback address it binds; default "127.0.0.1:0".
	Addr string `yaml:"addr"`
	// Delay is how long after a Set the new certificate is served
	// (0: at once).
	Delay time.Duration `yaml:"delay"`
}

// OSSSettings is the YAML form of the OSS emulator's configuration; the
// Sim turns it into an OSSConfig sharing its credentials and journal.
type OSSSettings struct {
	// Disabled turns the OSS listener off.
	Disabled          bool     `yaml:"disabled"`
	Region            string   `yaml:"region"`
	AccountID         string   `yaml:"accountId"`
	Buckets           []string `yaml:"buckets"`
	AutoCreateBuckets bool     `yaml:"autoCreateBuckets"`
	// DataDir persists buckets and objects; relative to the configuration
	// file. Empty keeps them in memory.
	DataDir       string `yaml:"dataDir"`
	MaxObjectSize int64  `yaml:"maxObjectSize"`
	// Triggers invoke a function after writes, as OSS triggers do.
	Triggers []OSSTriggerSettings `yaml:"triggers"`
	// Faults are OSS's injected failures (5xx answers, reset
	// connections); none by default.
	Faults OSSFaults `yaml:"faults"`
}

// OSSTriggerSettings is the YAML form of an OSSTrigger.
type OSSTriggerSettings struct {
	URL          string        `yaml:"url"`
	Bucket       string        `yaml:"bucket"`
	Events       []string      `yaml:"events"`
	Prefix       string        `yaml:"prefix"`
	Suffix       string        `yaml:"suffix"`
	FunctionName string        `yaml:"functionName"`
	Timeout      time.Duration `yaml:"timeout"`
	// Credentials names an access key of Config.Credentials whose secret
	// (and token) the trigger hands to the function in the x-fc-access-key-*
	// headers, as Function Compute does for a function with a role.
	Credentials string `yaml:"credentials"`
}

// LoadConfig reads a YAML configuration. Unknown fields are errors, so a
// typo does not silently configure nothing. Relative file names (certFile,
// oss.dataDir, acme.trustRootFile, acme.issuerRootFile) are resolved
// against the file's folder.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("cloudsim: %w", err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("cloudsim: %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	lists := []*[]Domain{&cfg.Domains.CDN, &cfg.Domains.VOD, &cfg.Domains.Live, &cfg.Domains.DCDN}
	for i := range cfg.Accounts {
		d := &cfg.Accounts[i].Domains
		lists = append(lists, &d.CDN, &d.VOD, &d.Live, &d.DCDN)
	}
	// readInto replaces a file name, relative to the config's folder, by
	// the file's contents.
	readInto := func(file, data *string) error {
		if *file == "" {
			return nil
		}
		name := *file
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		*data, *file = string(b), ""
		return nil
	}
	for _, list := range lists {
		for i := range *list {
			s := (*list)[i].Installed
			if s == nil {
				continue
			}
			if err := readInto(&s.CertFile, &s.Cert); err != nil {
				return Config{}, fmt.Errorf("cloudsim: %s: domain %s: %w", path, (*list)[i].Name, err)
			}
		}
	}
	for i := range cfg.CAS.Certificates {
		sc := &cfg.CAS.Certificates[i]
		for _, f := range []struct{ file, data *string }{{&sc.CertFile, &sc.Cert}, {&sc.KeyFile, &sc.Key}} {
			if err := readInto(f.file, f.data); err != nil {
				return Config{}, fmt.Errorf("cloudsim: %s: cas.certificates[%d]: %w", path, i, err)
			}
		}
	}
	var certFiles []struct{ file, data *string }
	for i := range cfg.ESA.Sites {
		for j := range cfg.ESA.Sites[i].Certificates {
			c := &cfg.ESA.Sites[i].Certificates[j]
			certFiles = append(certFiles, struct{ file, data *string }{&c.CertFile, &c.Cert})
		}
	}
	for i := range cfg.FC.Domains {
		d := &cfg.FC.Domains[i]
		certFiles = append(certFiles, struct{ file, data *string }{&d.CertFile, &d.Cert})
	}
	lbs := []*LoadBalancerSettings{&cfg.LoadBalancers}
	for i := range cfg.Accounts {
		lbs = append(lbs, &cfg.Accounts[i].LoadBalancers)
	}
	for _, l := range lbs {
		for i := range l.ServerCertificates {
			sc := &l.ServerCertificates[i]
			certFiles = append(certFiles, struct{ file, data *string }{&sc.CertFile, &sc.Cert})
		}
	}
	for _, f := range certFiles {
		if err := readInto(f.file, f.data); err != nil {
			return Config{}, fmt.Errorf("cloudsim: %s: %w", path, err)
		}
	}
	for _, f := range []*string{&cfg.ACME.TrustRootFile, &cfg.ACME.IssuerRootFile} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(dir, *f)
		}
	}
	if cfg.OSS.DataDir != "" && !filepath.IsAbs(cfg.OSS.DataDir) {
		cfg.OSS.DataDir = filepath.Join(dir, cfg.OSS.DataDir)
	}
	if err := cfg.validate(); err != nil {
		return Config{}, fmt.Errorf("cloudsim: %s: %w", path, err)
	}
	return cfg, nil
}

// validate checks the configuration for mistakes a person would make.
func (c *Config) validate() error {
	if c.Edge.Delay < 0 {
		return errors.New("edge.delay must not be negative")
	}
	for _, a := range []struct{ name, addr string }{{"openapiAddr", c.OpenAPIAddr}, {"ossAddr", c.OSSAddr}, {"casIntlAddr", c.CASIntlAddr}, {"edge.addr", c.Edge.Addr}} {
		if a.addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		if !secureurl.IsLoopback(host) {
			return fmt.Errorf("%s: %q is not a loopback address: the emulator receives private keys and serves plain HTTP", a.name, a.addr)
		}
	}
	if err := c.validateAccounts(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, cr := range c.Credentials {
		if cr.AccessKeyID == "" || cr.AccessKeySecret == "" {
			return fmt.Errorf("credentials[%d]: accessKeyId and accessKeySecret are required", i)
		}
		if seen[cr.AccessKeyID] {
			return fmt.Errorf("credentials[%d]: duplicate accessKeyId %s", i, cr.AccessKeyID)
		}
		seen[cr.AccessKeyID] = true
		for _, a := range cr.DenyActions {
			if _, ok := lookupAPI(a); !ok {
				return fmt.Errorf("credentials[%d]: denyActions: unknown action %q", i, a)
			}
		}
	}
	for a := range c.Quotas {
		if _, ok := lookupAPI(a); !ok {
			return fmt.Errorf("quotas: unknown action %q", a)
		}
		if c.Quotas[a] == 0 {
			return fmt.Errorf("quotas: %s: 0 calls per second would refuse every call; use a negative value for unlimited", a)
		}
	}
	for _, p := range catalog().products {
		if p.domains == nil {
			continue
		}
		if err := validateDomains(p, p.domains.configured(c.Domains)); err != nil {
			return err
		}
	}
	if c.CAS.MaxCertificates < 0 {
		return fmt.Errorf("cas.maxCertificates must not be negative")
	}
	casNames := map[string]bool{}
	for i, sc := range c.CAS.Certificates {
		if sc.Region != "" && !validCASRegion(sc.Region) {
			return fmt.Errorf("cas.certificates[%d]: region must be cn-hangzhou or ap-southeast-1, not %q", i, sc.Region)
		}
		if sc.Name == "" || len([]rune(sc.Name)) > maxCASName {
			return fmt.Errorf("cas.certificates[%d]: name is required, at most %d characters", i, maxCASName)
		}
		if _, ok := firstCertificate(sc.Cert); !ok {
			return fmt.Errorf("cas.certificates[%d] %s: cert (certFile) holds no parsable certificate", i, sc.Name)
		}
		k := sc.Region + "/" + sc.Name
		if sc.Region == "" {
			k = CASRegionHangzhou + "/" + sc.Name
		}
		if casNames[k] {
			return fmt.Errorf("cas.certificates[%d]: duplicate name %s in its region", i, sc.Name)
		}
		casNames[k] = true
	}
	if c.MaxCertificateBytes < 0 {
		return fmt.Errorf("maxCertificateBytes must not be negative")
	}
	for i, t := range c.OSS.Triggers {
		if t.Credentials != "" && !seen[t.Credentials] {
			return fmt.Errorf("oss.triggers[%d]: credentials %q is not an accessKeyId of credentials", i, t.Credentials)
		}
	}
	if err := c.OSS.Faults.validate(); err != nil {
		return err
	}
	if err := c.DNS.validate(); err != nil {
		return err
	}
	if err := c.ESA.validate(c.DNS.Zones); err != nil {
		return err
	}
	if err := c.FC.validate(); err != nil {
		return err
	}
	if err := c.ACME.validate(); err != nil {
		return err
	}
	return c.Faults.validate()
}

// validateDomains checks the configured domains of product p.
func validateDomains(p *productSpec, list []Domain) error {
	names := map[string]bool{}
	for i, d := range list {
		n := strings.ToLower(strings.TrimSpace(d.Name))
		if n == "" {
			return fmt.Errorf("domains.%s[%d]: name is required", p.name, i)
		}
		if p.domains.dotWildcard && strings.HasPrefix(n, "*.") {
			return fmt.Errorf("domains.%s[%d]: the %s names a wildcard domain %q, not %q", p.name, i, strings.ToUpper(p.name), n[1:], n)
		}
		if names[n] {
			return fmt.Errorf("domains.%s[%d]: duplicate domain %s", p.name, i, n)
		}
		names[n] = true
		switch d.State {
		case "", StateOnline, StateOffline, StateConfiguring, StateSafeMode:
		default:
			return fmt.Errorf("domains.%s[%d] %s: state must be online, offline, configuring or safemode, not %q", p.name, i, n, d.State)
		}
		if s := d.Installed; s != nil {
			if s.CertName == "" {
				return fmt.Errorf("domains.%s[%d] %s: installed.certName is required", p.name, i, n)
			}
			if s.Cert != "" {
				if _, ok := firstCertificate(s.Cert); !ok {
					return fmt.Errorf("domains.%s[%d] %s: installed.cert holds no parsable certificate", p.name, i, n)
				}
			} else if s.NotAfter.IsZero() {
				return fmt.Errorf("domains.%s[%d] %s: installed needs cert, certFile or notAfter", p.name, i, n)
			}
		}
	}
	return nil
}
